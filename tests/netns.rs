//! `latlab reflect` and `latlab probe rtt` on two hosts: network namespaces joined by a veth
//! pair (scripts/netns-lab.sh), over UDP and TCP, closed and open loop.
//!
//! Needs root, iproute2 and ethtool; without them each test prints why and passes, unless
//! `LATLAB_REQUIRE_TOOLS=1`, where it fails. The namespaces are removed by a guard even when a
//! test fails.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{is_root, skip, wait_for};
use serde_json::Value;

/// Both tests spin a probe and a reflector: one at a time on a small machine.
static MEASURING: Mutex<()> = Mutex::new(());

fn measuring() -> MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(|e| e.into_inner())
}

const LATLAB: &str = env!("CARGO_BIN_EXE_latlab");

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/netns-lab.sh")
}

/// A pair of namespaces joined by veth; removed on drop.
struct Lab {
    name: String,
    ns_a: String,
    ns_b: String,
    addr_a: String,
    addr_b: String,
}

impl Lab {
    /// Brings up `latlab-<pid>-<tag>`, or explains why it cannot (then the test skips).
    fn up(tag: &str, subnet: u8) -> Option<Lab> {
        if !is_root() {
            skip("network namespaces need root");
            return None;
        }
        for tool in ["ip", "ethtool"] {
            if !have(tool) {
                skip(&format!(
                    "{tool} not found (scripts/test-deps.sh installs it)"
                ));
                return None;
            }
        }
        let name = format!("latlab-{}-{tag}", std::process::id());
        let o = Command::new("bash")
            .arg(script())
            .args(["up", &name, &subnet.to_string()])
            .output()
            .expect("run scripts/netns-lab.sh");
        if !o.status.success() {
            // Nothing is left behind by a failed `up`, but make sure.
            let _ = Command::new("bash")
                .arg(script())
                .args(["down", &name])
                .output();
            skip(&format!(
                "cannot create network namespaces: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            return None;
        }
        let vars = String::from_utf8_lossy(&o.stdout).into_owned();
        let var = |k: &str| {
            vars.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("netns-lab.sh up printed no {k}: {vars}"))
                .to_string()
        };
        let lab = Lab {
            ns_a: var("NS_A"),
            ns_b: var("NS_B"),
            addr_a: var("ADDR_A"),
            addr_b: var("ADDR_B"),
            name,
        };
        assert_eq!(lab.addr_a, format!("10.77.{subnet}.1"));
        assert_eq!(lab.addr_b, format!("10.77.{subnet}.2"));
        Some(lab)
    }

    /// `ip netns exec NS latlab ARGS…`.
    fn latlab(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, LATLAB]);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let o = Command::new("bash")
            .arg(script())
            .args(["down", &self.name])
            .output();
        match o {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "warning: netns-lab.sh down {} failed: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("warning: cannot run netns-lab.sh down {}: {e}", self.name),
        }
        for ns in [&self.ns_a, &self.ns_b] {
            if Path::new("/run/netns").join(ns).exists() {
                eprintln!("warning: namespace {ns} is still there");
            }
        }
    }
}

/// `latlab reflect` in namespace A; killed if the test fails.
struct Reflector {
    child: Child,
    addr: SocketAddr,
    stderr: Option<JoinHandle<String>>,
}

impl Reflector {
    fn start(lab: &Lab, proto: &str) -> Reflector {
        Reflector::start_with(lab, proto, &[])
    }

    fn start_with(lab: &Lab, proto: &str, extra: &[&str]) -> Reflector {
        let mut child = lab
            .latlab(&lab.ns_a)
            .args(["reflect", "--proto", proto, "--duration", "60s", "--bind"])
            .arg(format!("{}:0", lab.addr_a))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ip netns exec latlab reflect");
        // The first stderr line announces the address: "latlab reflect: … on ADDR; Ctrl-C …".
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        let h = std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let addr = first
                .split_whitespace()
                .find_map(|w| w.trim_end_matches([';', ',']).parse::<SocketAddr>().ok());
            let _ = tx.send(addr);
            let mut rest = String::new();
            let _ = r.read_to_string(&mut rest);
            first + &rest
        });
        let Some(addr) = rx.recv_timeout(Duration::from_secs(10)).ok().flatten() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "reflect did not announce its address: {}",
                h.join().unwrap_or_default()
            );
        };
        Reflector {
            child,
            addr,
            stderr: Some(h),
        }
    }

    /// Stops it with SIGINT and returns (reflected, received) from its JSON-less final line.
    fn stop(mut self) -> (u64, u64) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -INT failed");
        let status = wait_for(&mut self.child, Duration::from_secs(5))
            .expect("reflect exits within 5 s of SIGINT");
        let mut out = String::new();
        let _ = self.child.stdout.take().unwrap().read_to_string(&mut out);
        let err = self.stderr.take().unwrap().join().unwrap_or_default();
        // `ip netns exec` execs the command: the signal and the exit status are latlab's.
        assert_eq!(status.code(), Some(130), "reflect: {out}{err}");
        let line = out
            .lines()
            .find(|l| l.starts_with("reflected "))
            .unwrap_or_else(|| panic!("no counters from reflect: {out}{err}"));
        let w: Vec<&str> = line.split_whitespace().collect();
        (w[1].parse().unwrap(), w[3].parse().unwrap())
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not an unsigned integer: {v:#}"))
}

/// Runs `probe rtt --json` in namespace B against `target`; returns the probe's summary.
fn probe(lab: &Lab, target: SocketAddr, args: &[&str], out: &Path) -> Value {
    let mut child = lab
        .latlab(&lab.ns_b)
        .args(["probe", "rtt", "--json", "--target", &target.to_string()])
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ip netns exec latlab probe rtt");
    // Drain both pipes in threads so the child never blocks on a full pipe.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let ho = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let he = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let status = wait_for(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let o = Output {
        status: status.unwrap_or_else(|| panic!("probe rtt {args:?} ran past 30 s")),
        stdout: ho.join().unwrap(),
        stderr: he.join().unwrap(),
    };
    assert!(
        o.status.success(),
        "probe rtt {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("probe rtt --json prints JSON");
    assert_eq!(v["status"], "complete", "{v:#}");
    v["probe"].clone()
}

/// What both protocols must show across the veth pair.
fn assert_clean(p: &Value, lab: &Lab, target: SocketAddr, count: u64) {
    assert_eq!(u(p, "sent"), count, "{p:#}");
    assert_eq!(
        u(p, "received"),
        u(p, "sent"),
        "every probe answered: {p:#}"
    );
    assert_eq!(u(p, "lost"), 0, "{p:#}");
    for k in ["late", "duplicates", "malformed"] {
        assert_eq!(u(p, k), 0, "{k}: {p:#}");
    }
    assert_eq!(p["status"], "complete");
    assert_eq!(p["datapath"]["peer"], target.to_string());
    let local = p["datapath"]["local"].as_str().unwrap();
    assert!(
        local.starts_with(&format!("{}:", lab.addr_b)),
        "sent from namespace B's address, not {local}"
    );
    let rtt = &p["rtt"];
    assert_eq!(u(rtt, "count"), count);
    assert!(
        u(rtt, "min") > 0 && u(rtt, "p50") >= u(rtt, "min"),
        "{rtt:#}"
    );
}

#[test]
fn udp_across_a_veth_pair() {
    let _turn = measuring();
    let Some(lab) = Lab::up("udp", 71) else {
        return;
    };
    let refl = Reflector::start(&lab, "udp");
    assert_eq!(refl.addr.ip().to_string(), lab.addr_a);
    let tmp = tempfile::tempdir().unwrap();

    let closed = probe(&lab, refl.addr, &["--count", "20000"], tmp.path());
    assert_clean(&closed, &lab, refl.addr, 20000);
    assert_eq!(closed["mode"], "closed");
    let open = probe(
        &lab,
        refl.addr,
        &[
            "--count",
            "20000",
            "--rate",
            "20000",
            "--schedule",
            "poisson",
        ],
        tmp.path(),
    );
    assert_clean(&open, &lab, refl.addr, 20000);
    assert_eq!(open["mode"], "open");
    assert!(open["rtt_uncorrected"].is_object());

    for p in [&closed, &open] {
        let net = &p["network_rtt"];
        assert!(net.is_object(), "STAMP replies give the network RTT: {p:#}");
        // p50 > 0, and more: no UDP round trip through two network stacks takes under
        // 500 ns, while a mix-up of t2/t3 would leave a clamped 1 ns.
        assert!(u(net, "p50") >= 500, "{net:#}");
        assert!(u(net, "p50") <= u(&p["rtt"], "p50"), "{p:#}");
        assert_eq!(u(&p["reflector_residence"], "count"), 20000);
        assert_eq!(u(&p["clock_offset"], "count"), 20000);
    }

    // Every probe, warm-up (1000 each) included, reached the reflector and was answered.
    let (reflected, received) = refl.stop();
    assert_eq!((reflected, received), (42000, 42000));
}

#[test]
fn tcp_across_a_veth_pair() {
    let _turn = measuring();
    let Some(lab) = Lab::up("tcp", 72) else {
        return;
    };
    let refl = Reflector::start(&lab, "tcp");
    let tmp = tempfile::tempdir().unwrap();

    let closed = probe(
        &lab,
        refl.addr,
        &["--proto", "tcp", "--count", "20000"],
        tmp.path(),
    );
    assert_clean(&closed, &lab, refl.addr, 20000);
    let open = probe(
        &lab,
        refl.addr,
        &[
            "--proto",
            "tcp",
            "--count",
            "20000",
            "--rate",
            "20000",
            "--schedule",
            "poisson",
        ],
        tmp.path(),
    );
    assert_clean(&open, &lab, refl.addr, 20000);
    for p in [&closed, &open] {
        assert_eq!(p["reply"], "echo");
        assert!(p["network_rtt"].is_null(), "{p:#}");
    }

    // The echo reflector counts bytes: 2 × (20000 + 1000 warm-up) messages of 44 bytes.
    let (reflected, received) = refl.stop();
    assert_eq!((reflected, received), (42000 * 44, 42000 * 44));
}

/// Every datapath against every other across the veth pair: the wire format is the same
/// whatever moves the bytes, so any probe path talks to any reflector path.
#[test]
fn every_datapath_pairing_across_a_veth_pair() {
    let _turn = measuring();
    let Some(lab) = Lab::up("dp", 73) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let args = |dp: &'static str| -> Vec<&'static str> {
        match dp {
            "af-xdp" => vec!["--datapath", "af-xdp", "--iface", "veth0"],
            other => vec!["--datapath", other],
        }
    };
    let kind = |dp: &str| match dp {
        "kernel" => "kernel-udp",
        "io-uring" => "io-uring-udp",
        _ => "af-xdp",
    };
    let pairs = [
        ("af-xdp", "af-xdp"),
        ("af-xdp", "kernel"),
        ("kernel", "af-xdp"),
        ("io-uring", "io-uring"),
        ("io-uring", "af-xdp"),
        ("af-xdp", "io-uring"),
        ("kernel", "io-uring"),
        ("io-uring", "kernel"),
    ];
    for (refl_dp, probe_dp) in pairs {
        let refl = Reflector::start_with(&lab, "udp", &args(refl_dp));
        assert_eq!(refl.addr.ip().to_string(), lab.addr_a);
        let mut a = args(probe_dp);
        a.extend(["--count", "5000", "--warmup", "200"]);
        let p = probe(&lab, refl.addr, &a, tmp.path());
        assert_clean(&p, &lab, refl.addr, 5000);
        assert_eq!(
            p["datapath"]["kind"],
            kind(probe_dp),
            "{refl_dp} <- {probe_dp}"
        );
        if probe_dp == "af-xdp" {
            let mode = p["datapath"]["mode"].as_str().unwrap_or_default();
            assert!(mode.ends_with("copy"), "veth has no zero-copy: {mode}");
        }
        let net = &p["network_rtt"];
        assert!(
            u(net, "p50") >= 500 && u(net, "p50") <= u(&p["rtt"], "p50"),
            "{refl_dp} <- {probe_dp}: STAMP t2/t3 consistent: {p:#}"
        );
        // Open loop at a moderate rate: every probe answered, in order, none lost.
        let mut a = args(probe_dp);
        a.extend(["--count", "5000", "--warmup", "200", "--rate", "20000"]);
        let open = probe(&lab, refl.addr, &a, tmp.path());
        assert_clean(&open, &lab, refl.addr, 5000);
        assert_eq!(open["mode"], "open");
        assert_eq!(
            u(&open, "reordered"),
            0,
            "{refl_dp} <- {probe_dp}: {open:#}"
        );
        let (reflected, received) = refl.stop();
        assert_eq!(
            (reflected, received),
            (10400, 10400),
            "{refl_dp} <- {probe_dp}"
        );
    }
    // Nothing of latlab's stays attached to either end.
    for ns in [&lab.ns_a, &lab.ns_b] {
        let o = Command::new("ip")
            .args(["-n", ns, "link", "show", "dev", "veth0"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            !text.contains("xdp"),
            "an XDP program was left on {ns}: {text}"
        );
    }
}
