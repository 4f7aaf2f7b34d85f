//! A real consumer of `latlab calibrate --for etcd`: etcd itself (Debian's etcd-server 3.4).
//!
//! * A single etcd on loopback, started with latlab's `--export etcd-flags` and, separately,
//!   with its `etcd-yaml` through `--config-file`, runs with exactly latlab's values — read back
//!   from etcd's own start-up log (`embed: heartbeat = …ms`, `embed: election = …ms`), because a
//!   misspelled YAML key is silently ignored and `--config-file` makes etcd ignore every other
//!   flag — stays up and answers `etcdctl endpoint health`. At the bounds, etcd and latlab
//!   agree: what latlab exports etcd accepts, what latlab refuses etcd refuses too.
//! * Three members in network namespaces on a bridge (scripts/etcd-lab.sh), timed from a probe
//!   of that very path, elect a leader; with the heartbeat fixed at a floor their own timers can
//!   keep ([`HEARTBEAT_FLOOR_MS`]) and the election timeout from the path, they hold it: no
//!   election over the window, also with a delay line (scripts/delay-proxy.py) adding one-way
//!   delay well inside the calibrated margin.
//! * With a one-way delay beyond the election timeout the members campaign without end; a
//!   probe through the same delay line (the proxy's UDP mode in front of a reflector),
//!   calibrated again, gives timeouts with which the delayed cluster elects a leader and keeps
//!   it.
//!
//! Needs etcd and etcdctl (Debian: etcd-server, etcd-client; scripts/test-deps.sh installs
//! them), and for the cluster tests root, iproute2 and python3. Without them each test prints
//! why and passes, unless `LATLAB_REQUIRE_TOOLS=1`, where it fails. Processes, namespaces and
//! the members' data directories (a 64 MB WAL each) are removed by guards even when a test
//! fails. The tests take turns: each loads both CPUs of a small CI machine.
//!
//! The slow scenario from the issue (600 ms one way against etcd's default 100/1000 ms) is
//! `#[ignore]`d for time (about a minute):
//! `sudo cargo test --test etcd -- --ignored issue_scenario_600ms_one_way`. So is a known
//! latlab bug, `fixed_heartbeat_recalibration_through_delay_is_stable`. Numbers observed are in
//! docs/CALIBRATION.md.

mod common;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{is_root, skip};
use serde_json::Value;

const LATLAB: &str = env!("CARGO_BIN_EXE_latlab");

/// One test at a time: each runs etcd members, probes and delay lines on a small machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn runs(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// etcd and etcdctl, or the reason to skip.
fn have_etcd() -> bool {
    if !runs("etcd", "--version") || !runs("etcdctl", "version") {
        skip("etcd or etcdctl not found (apt-get install etcd-server etcd-client; scripts/test-deps.sh does)");
        return false;
    }
    true
}

/// What the namespace tests need beyond etcd.
fn have_lab_tools() -> bool {
    if !have_etcd() {
        return false;
    }
    if !is_root() {
        skip("network namespaces need root");
        return false;
    }
    for (tool, arg) in [("ip", "-V"), ("python3", "--version")] {
        if !runs(tool, arg) {
            skip(&format!(
                "{tool} not found (scripts/test-deps.sh installs it)"
            ));
            return false;
        }
    }
    true
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A process this test started, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Spawns `cmd` with stdout and stderr into `log`.
fn spawn_logged(cmd: &mut Command, log: &Path) -> Proc {
    let f = File::create(log).expect("create log");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup log"))
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    Proc(child)
}

/// Waits until `log` has a line containing `needle`; returns the line.
fn wait_log(log: &Path, needle: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(s) = std::fs::read_to_string(log) {
            if let Some(l) = s.lines().find(|l| l.contains(needle)) {
                return Some(l.to_string());
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The timing etcd says it runs with: `embed: heartbeat = 9ms`, `embed: election = 45ms`.
fn effective_timing(log: &Path) -> (u64, u64) {
    let ms = |key: &str| -> u64 {
        let line = wait_log(log, key, Duration::from_secs(10)).unwrap_or_else(|| {
            panic!(
                "etcd logged no {key:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
        let v = line.split(key).nth(1).unwrap().trim();
        v.strip_suffix("ms")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("cannot read {key:?} in {line:?}"))
    };
    (ms("embed: heartbeat = "), ms("embed: election = "))
}

/// The flags of an etcd-flags export, without its `#` comment lines.
fn flag_words(export: &str) -> Vec<String> {
    export
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace().map(String::from))
        .collect()
}

fn flag_value(words: &[String], flag: &str) -> u64 {
    words
        .iter()
        .find_map(|w| w.strip_prefix(&format!("{flag}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {flag}=N in {words:?}"))
}

fn calibrate(run: &Path, args: &[&str]) -> Output {
    Command::new(LATLAB)
        .arg("calibrate")
        .arg(run)
        .args(args)
        .output()
        .expect("run latlab calibrate")
}

/// `calibrate RUN --for etcd ARGS --export etcd-flags -o -`: the export and (heartbeat,
/// election), and the calibration's predicted spurious elections per hour.
fn etcd_flags(run: &Path, args: &[&str]) -> (String, u64, u64, f64) {
    let mut all = vec!["--for", "etcd"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--export", "etcd-flags", "-o", "-"]);
    let o = calibrate(run, &all);
    assert!(
        o.status.success(),
        "calibrate {all:?} failed: {}",
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    let w = flag_words(&out);
    let (h, e) = (
        flag_value(&w, "--heartbeat-interval"),
        flag_value(&w, "--election-timeout"),
    );
    let j: Value = serde_json::from_slice(
        &std::fs::read(run.join("calibration-etcd.json")).expect("calibration-etcd.json"),
    )
    .expect("calibration JSON");
    assert_eq!(j["raft"]["heartbeat_interval_ms"], h);
    assert_eq!(j["raft"]["election_timeout_ms"], e);
    let rate = j["raft"]["spurious_elections_per_hour"]
        .as_f64()
        .expect("predicted rate");
    (out, h, e, rate)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A round-trip measurement on loopback: `latlab reflect` and a 1 s closed-loop probe.
fn loopback_run(out: &Path) -> PathBuf {
    let mut refl = Command::new(LATLAB);
    refl.args(["reflect", "--bind", "127.0.0.1:0", "--duration", "30s"]);
    let log = out.join("reflect.log");
    let _reflector = spawn_logged(&mut refl, &log);
    let line = wait_log(&log, "Ctrl-C to stop", Duration::from_secs(10))
        .expect("latlab reflect announces its address");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.trim_end_matches(';').parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    probe(
        Command::new(LATLAB).args(["probe", "rtt", "--target", &addr.to_string()]),
        &["--duration", "1s", "--warmup", "200"],
        out,
    )
}

/// Runs a `probe rtt` command with `args --json --out OUT`; returns the run directory.
fn probe(cmd: &mut Command, args: &[&str], out: &Path) -> PathBuf {
    let o = cmd
        .args(args)
        .arg("--json")
        .arg("--out")
        .arg(out)
        .output()
        .expect("run latlab probe rtt");
    assert!(o.status.success(), "probe failed: {}", text(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).expect("probe --json");
    PathBuf::from(j["run_dir"].as_str().expect("run_dir"))
}

/// A single-member etcd on loopback, killed and its data deleted on drop.
struct Solo {
    proc: Proc,
    client: String,
    log: PathBuf,
    _data: tempfile::TempDir,
}

/// The flags that place a single member on loopback (as flags or as YAML keys).
fn solo_settings(data: &Path) -> Vec<(&'static str, String)> {
    let (c, p) = (free_port(), free_port());
    let client = format!("http://127.0.0.1:{c}");
    let peer = format!("http://127.0.0.1:{p}");
    vec![
        ("name", "solo".into()),
        ("data-dir", data.join("solo.etcd").display().to_string()),
        ("listen-client-urls", client.clone()),
        ("advertise-client-urls", client),
        ("listen-peer-urls", peer.clone()),
        ("initial-advertise-peer-urls", peer.clone()),
        ("initial-cluster", format!("solo={peer}")),
    ]
}

impl Solo {
    /// `etcd --name solo … EXTRA`, or with `config` set, `etcd --config-file CONFIG EXTRA`
    /// where the placement goes into the file after latlab's YAML.
    fn start(dir: &Path, tag: &str, extra: &[String], latlab_yaml: Option<&str>) -> Solo {
        let data = tempfile::tempdir_in(dir).expect("data dir");
        let settings = solo_settings(data.path());
        let client = settings[2].1.clone();
        let log = dir.join(format!("etcd-{tag}.log"));
        let mut cmd = Command::new("etcd");
        match latlab_yaml {
            None => {
                for (k, v) in &settings {
                    cmd.arg(format!("--{k}={v}"));
                }
            }
            Some(yaml) => {
                let mut config = yaml.to_string();
                for (k, v) in &settings {
                    config += &format!("{k}: {v}\n");
                }
                let path = dir.join(format!("etcd-{tag}.yaml"));
                std::fs::write(&path, config).expect("write etcd config");
                cmd.arg(format!("--config-file={}", path.display()));
            }
        }
        cmd.args(extra);
        let proc = spawn_logged(&mut cmd, &log);
        Solo {
            proc,
            client,
            log,
            _data: data,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.proc.0.try_wait().expect("try_wait").is_none()
    }
}

/// etcd's verdict on a pair of timeouts: Ok once it logs them, Err(its message) if it exits.
fn etcd_verdict(dir: &Path, tag: &str, h: u64, e: u64) -> Result<(u64, u64), String> {
    let flags = vec![
        format!("--heartbeat-interval={h}"),
        format!("--election-timeout={e}"),
    ];
    let mut s = Solo::start(dir, tag, &flags, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !s.running() {
            let log = s.log();
            let line = log
                .lines()
                .find(|l| l.contains("error verifying flags"))
                .unwrap_or_else(|| panic!("etcd {h}/{e} exited without a flag error:\n{log}"));
            return Err(line.to_string());
        }
        if s.log().contains("embed: election = ") {
            return Ok(effective_timing(&s.log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("etcd {h}/{e} neither started nor refused:\n{}", s.log());
}

fn assert_single_member_serves(s: &mut Solo, h: u64, e: u64, how: &str) {
    assert_eq!(
        effective_timing(&s.log),
        (h, e),
        "{how}: etcd runs with other timeouts than latlab exported"
    );
    assert!(
        wait_log(&s.log, "became leader at term", Duration::from_secs(10)).is_some(),
        "{how}: no leader:\n{}",
        s.log()
    );
    // Stays up: a few seconds, hundreds of heartbeat intervals.
    std::thread::sleep(Duration::from_secs(2));
    assert!(s.running(), "{how}: etcd exited:\n{}", s.log());
    let o = Command::new("etcdctl")
        .args(["--endpoints", &s.client, "--command-timeout=5s"])
        .args(["endpoint", "health"])
        .output()
        .expect("run etcdctl");
    let said = text(&o.stdout) + &text(&o.stderr);
    assert!(
        o.status.success() && said.contains("is healthy"),
        "{how}: {said}"
    );
    let campaigns = s.log().matches("became candidate at term").count();
    assert_eq!(campaigns, 1, "{how}: a single member campaigned again");
}

#[test]
fn single_etcd_runs_with_latlab_flags_and_yaml() {
    let _turn = serial();
    if !have_etcd() {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = loopback_run(tmp.path());

    // The flags, as `latlab calibrate … --export etcd-flags -o -` prints them.
    let (export, h, e, _) = etcd_flags(&run, &[]);
    assert_ne!(
        (h, e),
        (100, 1000),
        "latlab's values equal etcd's defaults: the read-back below could not tell them apart"
    );
    let mut s = Solo::start(tmp.path(), "flags", &flag_words(&export), None);
    assert_single_member_serves(&mut s, h, e, "etcd-flags");
    drop(s);

    // The YAML export through --config-file. etcd ignores command-line flags then: give it
    // etcd's defaults on the command line to show the file is what counts.
    let o = calibrate(&run, &["--for", "etcd"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let yaml = std::fs::read_to_string(run.join("etcd.yaml")).expect("etcd.yaml");
    let defaults = vec![
        "--heartbeat-interval=100".to_string(),
        "--election-timeout=1000".to_string(),
    ];
    let mut s = Solo::start(tmp.path(), "yaml", &defaults, Some(&yaml));
    assert_single_member_serves(&mut s, h, e, "etcd-yaml");
    drop(s);

    // At etcd's bounds the two agree. latlab's largest export, 10 000/50 000 ms, etcd takes;
    // one heartbeat-ms more and latlab refuses, as etcd does for the smallest timeout latlab
    // could have paired with it.
    let (_, h, e, _) = etcd_flags(&run, &["--heartbeat", "10000"]);
    assert_eq!((h, e), (10_000, 50_000));
    assert_eq!(etcd_verdict(tmp.path(), "max", h, e), Ok((h, e)));
    let o = calibrate(
        &run,
        &[
            "--for",
            "etcd",
            "--heartbeat",
            "10001",
            "--export",
            "etcd-flags",
            "-o",
            "-",
        ],
    );
    assert!(!o.status.success() && o.stdout.is_empty());
    assert!(text(&o.stderr).contains("over the limit of 50000 ms"));
    let refused = etcd_verdict(tmp.path(), "over", 10_001, 50_005).unwrap_err();
    assert!(refused.contains("too long"), "{refused}");
    // latlab's floor of 5 heartbeats is etcd's, bound included: 5h starts, 5h − 1 does not;
    // and what latlab derives from a fixed heartbeat etcd takes as it is.
    assert_eq!(etcd_verdict(tmp.path(), "floor", 7, 35), Ok((7, 35)));
    let refused = etcd_verdict(tmp.path(), "under", 7, 34).unwrap_err();
    assert!(refused.contains("at least as 5 times"), "{refused}");
    let (_, h, e, _) = etcd_flags(&run, &["--heartbeat", "7"]);
    assert!(h == 7 && e >= 35, "{h}/{e}");
    assert_eq!(etcd_verdict(tmp.path(), "fixed", h, e), Ok((h, e)));
}

/// What `etcd-lab.sh count` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    campaigns: u64,
    leaders: u64,
    max_term: u64,
}

/// `scripts/etcd-lab.sh` around one lab; `down` on drop.
struct EtcdLab {
    name: String,
    dir: tempfile::TempDir,
    data_root: PathBuf,
    subnet: u8,
}

impl EtcdLab {
    fn sh(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(script("etcd-lab.sh"))
            .arg(args[0])
            .arg(&self.name)
            .arg(self.dir.path())
            .args(&args[1..])
            .output()
            .expect("run scripts/etcd-lab.sh")
    }

    /// The namespaces and the bridge, or None (skipped) when they cannot be made.
    fn net(tag: &str, subnet: u8) -> Option<EtcdLab> {
        sweep_stale_labs();
        let dir = tempfile::tempdir().expect("temp dir");
        // Each member preallocates a 64 MB WAL and fsyncs: on tmpfs both are cheap.
        let shm = Path::new("/dev/shm");
        let data_root = if shm_has_room(shm) {
            shm.to_path_buf()
        } else {
            dir.path().join("data")
        };
        let lab = EtcdLab {
            name: format!("etcd-{}-{tag}", std::process::id()),
            dir,
            data_root,
            subnet,
        };
        let o = lab.sh(&["net", "--subnet", &subnet.to_string()]);
        if !o.status.success() {
            skip(&format!(
                "cannot create network namespaces: {}",
                text(&o.stderr).trim()
            ));
            return None;
        }
        Some(lab)
    }

    fn addr(&self, i: u8) -> String {
        format!("10.78.{}.{i}", self.subnet)
    }

    /// `start` with the members' timing flags from `flags_file` and an optional delay line.
    fn start(&self, flags_file: &Path, delay: Option<(f64, f64)>) -> Instant {
        let mut args = vec![
            "start".to_string(),
            "--flags-file".into(),
            flags_file.display().to_string(),
            "--data-root".into(),
            self.data_root.display().to_string(),
        ];
        if let Some((d, j)) = delay {
            args.extend(["--delay".into(), d.to_string()]);
            args.extend(["--jitter".into(), j.to_string()]);
        }
        let t0 = Instant::now();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.sh(&args);
        assert!(
            o.status.success(),
            "etcd-lab.sh start failed: {}",
            text(&o.stderr)
        );
        t0
    }

    fn stop(&self) {
        let o = self.sh(&["stop"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }

    fn count(&self) -> Counts {
        let o = self.sh(&["count"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let s = text(&o.stdout);
        let field = |k: &str| -> u64 {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k}= in {s:?}"))
        };
        Counts {
            campaigns: field("campaigns"),
            leaders: field("leaders"),
            max_term: field("max_term"),
        }
    }

    /// (leader, term, members agreeing) from `etcd-lab.sh status`, None without a leader.
    fn status(&self) -> Option<(String, u64, u64)> {
        let o = self.sh(&["status"]);
        let s = text(&o.stdout);
        if !o.status.success() {
            return None;
        }
        let field = |k: &str| {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k}= in {s:?}"))
                .to_string()
        };
        Some((
            field("leader"),
            field("term").parse().unwrap(),
            field("agree").parse().unwrap(),
        ))
    }

    /// Time from `t0` to the first "became leader" in any member's log, polled every 10 ms.
    fn wait_leader(&self, t0: Instant, limit: Duration) -> Option<Duration> {
        while t0.elapsed() < limit {
            for i in 1..=3 {
                let log = self.dir.path().join(format!("m{i}.log"));
                if std::fs::read_to_string(&log).is_ok_and(|s| s.contains("became leader at term"))
                {
                    return Some(t0.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Every member names the same leader (followers learn it with the next heartbeat).
    fn wait_agreement(&self, limit: Duration) -> (String, u64) {
        let t0 = Instant::now();
        loop {
            if let Some((leader, term, 3)) = self.status() {
                return (leader, term);
            }
            assert!(
                t0.elapsed() < limit,
                "members do not agree on a leader after {limit:?}:\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of every member's log, for failure messages.
    fn tail(&self) -> String {
        let mut s = String::new();
        for i in 1..=3 {
            let log = self.dir.path().join(format!("m{i}.log"));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            s += &format!("--- m{i}.log (last 15 lines)\n");
            for l in &lines[lines.len().saturating_sub(15)..] {
                s += l;
                s.push('\n');
            }
        }
        s
    }

    /// `latlab ARGS` inside member `i`'s namespace.
    fn latlab(&self, i: u8) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &format!("{}-m{i}", self.name), LATLAB]);
        c
    }

    /// A reflector in member 1's namespace on port 8620, for probes from member 2.
    fn reflector(&self) -> Proc {
        let log = self.dir.path().join("reflect.log");
        let p = spawn_logged(
            self.latlab(1).args([
                "reflect",
                "--bind",
                &format!("{}:8620", self.addr(1)),
                "--duration",
                "60s",
            ]),
            &log,
        );
        wait_log(&log, "Ctrl-C to stop", Duration::from_secs(10)).unwrap_or_else(|| {
            panic!(
                "reflector did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        p
    }

    /// The path between members 2 and 1, probed closed loop for 2 s: its run directory.
    fn probe_path(&self) -> PathBuf {
        let _r = self.reflector();
        probe(
            self.latlab(2).args([
                "probe",
                "rtt",
                "--target",
                &format!("{}:8620", self.addr(1)),
            ]),
            &["--duration", "2s", "--warmup", "200"],
            self.dir.path(),
        )
    }

    /// The same path through a UDP delay line like the members' (`delay` ± `jitter` ms each
    /// way, in member 1's namespace): open loop, since the round trip is long.
    fn probe_through_delay(&self, delay: f64, jitter: f64, seconds: u32) -> PathBuf {
        let _r = self.reflector();
        let log = self.dir.path().join("udp-proxy.log");
        let _proxy = spawn_logged(
            Command::new("ip").args([
                "netns",
                "exec",
                &format!("{}-m1", self.name),
                "python3",
                &script("delay-proxy.py").display().to_string(),
                "--udp",
                "--listen",
                &format!("{}:8621", self.addr(1)),
                "--connect",
                &format!("{}:8620", self.addr(1)),
                "--delay",
                &delay.to_string(),
                "--jitter",
                &jitter.to_string(),
            ]),
            &log,
        );
        wait_log(&log, "listening on", Duration::from_secs(10)).expect("UDP delay line starts");
        let timeout = format!("{}ms", (4.0 * delay + 1000.0) as u64);
        probe(
            self.latlab(2).args([
                "probe",
                "rtt",
                "--target",
                &format!("{}:8621", self.addr(1)),
            ]),
            &[
                "--rate",
                "200",
                "--duration",
                &format!("{seconds}s"),
                "--warmup",
                "20",
                "--timeout",
                &timeout,
                "--give-up",
                &format!("{}ms", (4.0 * delay + 3000.0) as u64),
            ],
            self.dir.path(),
        )
    }

    /// Writes an etcd-flags export for the members.
    fn flags_file(&self, tag: &str, export: &str) -> PathBuf {
        let p = self.dir.path().join(format!("{tag}.flags"));
        std::fs::write(&p, export).expect("write flags");
        p
    }
}

impl Drop for EtcdLab {
    fn drop(&mut self) {
        let o = self.sh(&["down"]);
        if !o.status.success() {
            eprintln!(
                "warning: etcd-lab.sh down {} failed: {}",
                self.name,
                text(&o.stderr)
            );
        }
        for ns in ["br", "m1", "m2", "m3"] {
            let p = Path::new("/run/netns").join(format!("{}-{ns}", self.name));
            if p.exists() {
                eprintln!("warning: namespace {} is still there", p.display());
            }
        }
    }
}

/// Removes what a killed earlier run of these tests left (its guards never ran): the
/// namespaces `etcd-<pid>-*` of processes that are gone, the members still running in them,
/// and their data directories in /dev/shm.
fn sweep_stale_labs() {
    let dead = |name: &str| {
        name.strip_prefix("etcd-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists())
    };
    for e in std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
    {
        let ns = e.file_name().to_string_lossy().into_owned();
        if !dead(&ns) {
            continue;
        }
        let pids = Command::new("ip").args(["netns", "pids", &ns]).output();
        for pid in pids
            .map(|o| text(&o.stdout))
            .unwrap_or_default()
            .split_whitespace()
        {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        eprintln!("removed namespace {ns}, left by a run that was killed");
    }
    for e in std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".etcd") && dead(&name) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// True when `dir` is a tmpfs with room for three 64 MB WALs and more.
fn shm_has_room(dir: &Path) -> bool {
    let Ok(o) = Command::new("df")
        .args(["--output=avail", "-B1M"])
        .arg(dir)
        .output()
    else {
        return false;
    };
    text(&o.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse::<u64>().ok())
        .is_some_and(|mb| mb >= 1024)
}

/// Runs the lab's members for `window` after they agree on a leader; returns the campaigns
/// and elections seen in the window, and the time to the first leader.
fn stable_window(lab: &EtcdLab, t0: Instant, window: Duration, what: &str) -> (Duration, Counts) {
    let elected = lab
        .wait_leader(t0, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{what}: no leader within 20 s:\n{}", lab.tail()));
    let (leader, term) = lab.wait_agreement(Duration::from_secs(5));
    let before = lab.count();
    std::thread::sleep(window);
    let after = lab.count();
    let now = lab.status();
    let extra = Counts {
        campaigns: after.campaigns - before.campaigns,
        leaders: after.leaders - before.leaders,
        max_term: after.max_term,
    };
    eprintln!(
        "{what}: leader {leader} (term {term}) {elected:.2?} after start; in {window:?} then: {} campaigns, {} elections; now {now:?}",
        extra.campaigns, extra.leaders
    );
    assert_eq!(
        (extra.campaigns, extra.leaders),
        (0, 0),
        "{what}: elections while the calibration predicts none:\n{}",
        lab.tail()
    );
    assert_eq!(now, Some((leader, term, 3)), "{what}: the leader changed");
    (elected, extra)
}

const WINDOW: Duration = Duration::from_secs(5);

/// The heartbeat the cluster tests fix (latlab then derives the election timeout from the
/// probed path). A probe of the path between two namespaces gives 1 ms on a quiet machine;
/// etcd elects a leader with 1/5 ms but does not keep it on a 2-core VM: its own timers run
/// late (the leader logs "failed to send out heartbeat on time" hundreds of times a minute),
/// a delay the network probe never sees. From 10 ms up the members kept their leader here.
const HEARTBEAT_FLOOR_MS: u64 = 10;

#[test]
fn three_members_hold_a_leader_with_calibrated_timeouts() {
    let _turn = serial();
    if !have_lab_tools() {
        return;
    }
    let Some(lab) = EtcdLab::net("hold", 11) else {
        return;
    };
    // Calibrate from the path the members use, then start them with the export as is: they
    // elect a leader. How long they keep it at the path's own heartbeat is reported.
    let run = lab.probe_path();
    let (export, h, e, rate) = etcd_flags(&run, &[]);
    eprintln!("path calibration: heartbeat {h} ms, election {e} ms, predicted {rate:.2e}/h");
    let t0 = lab.start(&lab.flags_file("path", &export), None);
    let elected = lab
        .wait_leader(t0, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{h}/{e} ms: no leader within 20 s:\n{}", lab.tail()));
    let (leader, term) = lab.wait_agreement(Duration::from_secs(5));
    let before = lab.count();
    std::thread::sleep(Duration::from_secs(3));
    let after = lab.count();
    eprintln!(
        "{h}/{e} ms as exported: leader {leader} (term {term}) {elected:.2?} after start; then {} campaigns in 3 s",
        after.campaigns - before.campaigns
    );
    lab.stop();

    // The heartbeat fixed at a floor the members' own timers can keep, the election timeout
    // from the path: the leader holds.
    let hb = h.max(HEARTBEAT_FLOOR_MS).to_string();
    let (export, h, e, rate) = etcd_flags(&run, &["--heartbeat", &hb]);
    let predicted = rate * WINDOW.as_secs_f64() / 3600.0;
    assert!(
        predicted < 1e-3,
        "the calibration itself predicts elections: {predicted}"
    );
    let flags = lab.flags_file("floor", &export);
    let t0 = lab.start(&flags, None);
    stable_window(&lab, t0, WINDOW, &format!("{h}/{e} ms, no delay line"));
    lab.stop();

    // A delay line well inside the margin: the added round trip (2 × d) stays under half a
    // heartbeat interval, its jitter far under the E − h of silence the timeout allows.
    let d = h as f64 / 4.0;
    let t0 = lab.start(&flags, Some((d, d / 2.0)));
    stable_window(
        &lab,
        t0,
        WINDOW,
        &format!("{h}/{e} ms, delay {d} ± {} ms", d / 2.0),
    );
    lab.stop();
}

/// Beyond the margin: one-way `delay` ≥ the election timeout `e`, so no vote can come back
/// before every randomised timeout (at most 2e) has fired again.
fn churns(
    lab: &EtcdLab,
    flags: &Path,
    delay: f64,
    jitter: f64,
    window: Duration,
    what: &str,
) -> Counts {
    let t0 = lab.start(flags, Some((delay, jitter)));
    std::thread::sleep(window.saturating_sub(t0.elapsed()));
    let c = lab.count();
    eprintln!(
        "{what}: {} campaigns, {} elections won, term {} in {window:?}",
        c.campaigns, c.leaders, c.max_term
    );
    lab.stop();
    c
}

#[test]
fn delay_beyond_the_margin_churns_until_recalibrated() {
    let _turn = serial();
    if !have_lab_tools() {
        return;
    }
    let Some(lab) = EtcdLab::net("churn", 12) else {
        return;
    };
    let run = lab.probe_path();
    let hb = HEARTBEAT_FLOOR_MS.to_string();
    let (export, h, e, rate) = etcd_flags(&run, &["--heartbeat", &hb]);
    eprintln!("path calibration: heartbeat {h} ms, election {e} ms, predicted {rate:.2e}/h");
    let flags = lab.flags_file("path", &export);

    // One way 1.5 × E: the round trip of a vote is 3 E, longer than any randomised timeout.
    let delay = 1.5 * e as f64;
    let jitter = delay / 10.0;
    let c = churns(
        &lab,
        &flags,
        delay,
        jitter,
        WINDOW,
        &format!("{h}/{e} ms, delay {delay} ms"),
    );
    // The members time out every E to 2E: dozens of campaigns in the window, never settling.
    assert!(
        c.campaigns >= 10 && c.max_term >= 10,
        "expected election churn with a {delay} ms delay against a {e} ms timeout: {c:?}"
    );

    // Measure the delayed path, calibrate again: the heartbeat follows the new round trip.
    let run = lab.probe_through_delay(delay, jitter, 2);
    let (export, h2, e2, rate2) = etcd_flags(&run, &[]);
    eprintln!(
        "through the delay line: heartbeat {h2} ms, election {e2} ms, predicted {rate2:.2e}/h"
    );
    assert!(
        h2 as f64 >= 2.0 * (delay - jitter),
        "heartbeat {h2} ms is under the round trip of {} ms",
        2.0 * delay
    );
    assert!(e2 >= 5 * h2);
    let flags = lab.flags_file("delayed", &export);
    let t0 = lab.start(&flags, Some((delay, jitter)));
    stable_window(
        &lab,
        t0,
        WINDOW,
        &format!("recalibrated {h2}/{e2} ms, delay {delay} ms"),
    );
    lab.stop();
}

#[test]
fn fixed_heartbeat_recalibration_through_delay_is_stable() {
    let _turn = serial();
    if !have_lab_tools() {
        return;
    }
    let Some(lab) = EtcdLab::net("fixedhb", 13) else {
        return;
    };
    let run = lab.probe_path();
    let hb = HEARTBEAT_FLOOR_MS.to_string();
    let (_, h, e, _) = etcd_flags(&run, &["--heartbeat", &hb]);
    let delay = 1.5 * e as f64;
    let jitter = delay / 10.0;
    let run = lab.probe_through_delay(delay, jitter, 2);
    let (export, h2, e2, rate2) = etcd_flags(&run, &["--heartbeat", &h.to_string()]);
    eprintln!("--heartbeat {h} through the delay: {h2}/{e2} ms, predicted {rate2:.2e}/h");
    let flags = lab.flags_file("fixed", &export);
    let t0 = lab.start(&flags, Some((delay, jitter)));
    stable_window(
        &lab,
        t0,
        WINDOW,
        &format!("--heartbeat {h2}/{e2} ms, delay {delay} ms"),
    );
    lab.stop();
}

#[test]
#[ignore = "slow (about a minute): the issue's scenario at full scale"]
fn issue_scenario_600ms_one_way() {
    let _turn = serial();
    if !have_lab_tools() {
        return;
    }
    let Some(lab) = EtcdLab::net("issue", 14) else {
        return;
    };
    // etcd's defaults, 100/1000 ms, against 600 ms one way: churn.
    let defaults = lab.flags_file(
        "defaults",
        "--heartbeat-interval=100 --election-timeout=1000\n",
    );
    let c = churns(
        &lab,
        &defaults,
        600.0,
        20.0,
        Duration::from_secs(15),
        "100/1000 ms, delay 600 ms",
    );
    assert!(c.campaigns >= 5, "{c:?}");
    // Calibrated through the same delay: stable.
    let run = lab.probe_through_delay(600.0, 20.0, 3);
    let (export, h, e, _) = etcd_flags(&run, &[]);
    eprintln!("through 600 ms: heartbeat {h} ms, election {e} ms");
    assert!(h >= 1160, "{h}");
    let flags = lab.flags_file("delayed", &export);
    let t0 = lab.start(&flags, Some((600.0, 20.0)));
    stable_window(
        &lab,
        t0,
        Duration::from_secs(20),
        &format!("{h}/{e} ms, delay 600 ms"),
    );
    lab.stop();
}
