//! `latlab calibrate` end to end: one `latlab lab --quick` run (which ends with a generic
//! calibration), then `calibrate RUN --for T` for every target — the table, `--json` with its
//! derivations, the config file in the run directory, `--export … -o -` — and the inputs a user
//! gets wrong: a missing or foreign directory, an unknown target, probe or format, a partial
//! run, a budget the measurement cannot support.
//!
//! The etcd values are checked against etcd's own rules (heartbeat > 0, election > 0,
//! 5 × heartbeat ≤ election ≤ 50 000 ms, whole ms, and a whole number of heartbeats because
//! etcd counts the election timeout in heartbeat ticks); tests/etcd.rs feeds them to etcd.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// Every target `--for` takes, with the file its default export is written to.
const TARGETS: [(&str, &str); 7] = [
    ("etcd", "etcd.yaml"),
    ("hashicorp-raft", "hashicorp-raft.go"),
    ("tikv", "tikv.toml"),
    ("cockroachdb", "cockroachdb.env"),
    ("cassandra", "cassandra.yaml"),
    ("akka", "akka.conf"),
    ("generic", "timeouts.toml"),
];

fn latlab() -> Command {
    let mut c = Command::cargo_bin("latlab").expect("the latlab binary is built for tests");
    c.timeout(Duration::from_secs(60));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The shared measurement: `latlab lab --quick --json`, run once for all tests.
struct Lab {
    run: PathBuf,
    json: Value,
    stderr: String,
}

/// Where the shared run lives: `target/tmp/calibrate_cli-<pid>` (a static is never dropped, so
/// a temporary directory would be left behind; this one is removed by the next run).
fn lab_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale = name
                .strip_prefix("calibrate_cli-")
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
            if stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = tmp.join(format!("calibrate_cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the lab directory");
    dir
}

fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let out = lab_dir();
        let o = latlab()
            .args(["lab", "--quick", "--json", "--out"])
            .arg(&out)
            .output()
            .expect("run latlab lab");
        let stderr = text(&o.stderr);
        assert!(o.status.success(), "latlab lab --quick failed: {stderr}");
        let json: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("lab --json is not JSON ({e}): {}", text(&o.stdout)));
        let run = PathBuf::from(json["run_dir"].as_str().expect("run_dir in the lab JSON"));
        assert!(run.starts_with(&out), "{}", run.display());
        Lab { run, json, stderr }
    })
}

/// A private copy of the lab's run directory (tests write configs into it side by side).
fn fresh_run() -> (tempfile::TempDir, PathBuf) {
    let src = &lab().run;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dst = tmp.path().join(src.file_name().expect("run dir name"));
    std::fs::create_dir(&dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read run dir") {
        let e = e.expect("dir entry");
        std::fs::copy(e.path(), dst.join(e.file_name())).expect("copy run file");
    }
    (tmp, dst)
}

fn calibrate(run: &Path, args: &[&str]) -> std::process::Output {
    latlab()
        .arg("calibrate")
        .arg(run)
        .args(args)
        .output()
        .expect("run latlab calibrate")
}

fn read_json(p: &Path) -> Value {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not an unsigned integer in {v}"))
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number in {v}"))
}

/// A derivation as the JSON carries it: what was measured, the model, the formula, the result.
fn assert_derivation(d: &Value, what: &str) {
    for k in ["parameter", "model", "target", "formula"] {
        let s = d[k].as_str().unwrap_or_default();
        assert!(!s.is_empty(), "{what}: derivation has no {k}: {d}");
    }
    let measured = d["measured"].as_array().expect("measured is a list");
    assert!(!measured.is_empty(), "{what}: nothing measured: {d}");
    let result = d["result"].as_array().expect("result is a list");
    assert!(!result.is_empty(), "{what}: no result: {d}");
    for q in measured.iter().chain(result) {
        assert!(
            q["name"].is_string() && q["value"].as_f64().is_some_and(f64::is_finite),
            "{what}: bad quantity {q}"
        );
    }
}

/// etcd's own checks (etcdmain, embed.Config.Validate in 3.4): both positive, election at
/// least 5 heartbeats and at most 50 000 ms; and whole heartbeats, since etcd keeps
/// ElectionTicks = election / heartbeat.
fn assert_etcd_accepts(h: u64, e: u64, context: &str) {
    assert!(h > 0 && e > 0, "{context}: {h}/{e}: both must be positive");
    assert!(5 * h <= e, "{context}: election {e} < 5 × heartbeat {h}");
    assert!(e <= 50_000, "{context}: election {e} over 50000 ms");
    assert_eq!(
        e % h,
        0,
        "{context}: {e} is not a whole number of {h} ms heartbeats"
    );
}

/// `--heartbeat-interval=H --election-timeout=E` from an etcd-flags export, after its comments.
fn parse_etcd_flags(out: &str) -> (u64, u64) {
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(lines.len(), 1, "one line of flags expected:\n{out}");
    let mut h = None;
    let mut e = None;
    for word in lines[0].split_whitespace() {
        let (k, v) = word
            .split_once('=')
            .unwrap_or_else(|| panic!("{word:?} is not --flag=value in {out}"));
        let v: u64 = v
            .parse()
            .unwrap_or_else(|_| panic!("{word:?}: not a whole number of ms"));
        match k {
            "--heartbeat-interval" => h = Some(v),
            "--election-timeout" => e = Some(v),
            _ => panic!("unexpected flag {word:?} in {out}"),
        }
    }
    (
        h.expect("--heartbeat-interval"),
        e.expect("--election-timeout"),
    )
}

/// Go's `time.Duration.String()` for whole milliseconds (the hashicorp-raft export).
fn go_duration(ms: u64) -> String {
    match ms {
        0 => "0s".into(),
        1..=999 => format!("{ms}ms"),
        _ if ms < 60_000 => {
            let s = format!("{}.{:03}", ms / 1000, ms % 1000);
            format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => panic!("test helper covers durations under a minute, not {ms} ms"),
    }
}

#[test]
fn lab_ends_with_a_generic_calibration() {
    let lab = lab();
    let c = &lab.json["calibration"];
    assert_eq!(c["target"], "generic", "{c}");
    let raft = &c["raft"];
    let (h, e) = (
        u(raft, "heartbeat_interval_ms"),
        u(raft, "election_timeout_ms"),
    );
    assert!(h >= 1 && e >= 5 * h, "{h}/{e}");
    assert_derivation(&raft["derivation"], "lab raft");
    // The same result is on disk, and the TOML carries its numbers.
    let on_disk = read_json(&lab.run.join("calibration-generic.json"));
    assert_eq!(on_disk["raft"], c["raft"]);
    let toml = std::fs::read_to_string(lab.run.join("timeouts.toml")).expect("timeouts.toml");
    assert!(
        toml.contains(&format!("heartbeat_interval_ms = {h}\n"))
            && toml.contains(&format!("election_timeout_ms = {e}\n")),
        "{toml}"
    );
    assert!(
        toml.starts_with("# latlab "),
        "no provenance header: {toml}"
    );
    assert!(
        toml.contains(&format!(
            "source_run = \"{}/udp-closed\"",
            lab.run.file_name().unwrap().to_string_lossy()
        )),
        "{toml}"
    );
}

#[test]
fn lab_does_not_warn_about_its_own_run() {
    let lab = lab();
    assert!(
        !lab.stderr.contains("calibrating from what it measured"),
        "{}",
        lab.stderr
    );
}

#[test]
fn every_target_calibrates_with_derivations_and_a_config() {
    let (_tmp, run) = fresh_run();
    for (target, file) in TARGETS {
        // The human report.
        let o = calibrate(&run, &["--for", target]);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        if !o.status.success() {
            // A refusal must name the rule that failed, never a bare error.
            assert!(
                err.contains("refusing to export a config the target would reject")
                    || err.contains("cannot meet a budget"),
                "{target}: failed without naming a rule: {err}"
            );
            if target == "cassandra" {
                assert!(err.contains("between 5 and 16"), "{err}");
            }
            continue;
        }
        assert!(
            out.starts_with(&format!("calibrated for {target} from ")),
            "{target}: {out}"
        );
        assert!(
            out.contains("RPC timeout (RFC 6298 RTO)"),
            "{target}: {out}"
        );
        let config = std::fs::read_to_string(run.join(file))
            .unwrap_or_else(|e| panic!("{target}: {file} not written: {e}"));
        assert!(
            out.contains(config.trim_end()),
            "{target}: the printed config differs from {file}"
        );
        assert!(
            config.contains("latlab 0.1.0 calibration; source run: "),
            "{config}"
        );

        // --json: the full result with a derivation for every value.
        let o = calibrate(&run, &["--for", target, "--json"]);
        assert!(o.status.success(), "{target} --json: {}", text(&o.stderr));
        let j: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{target} --json is not JSON: {e}"));
        assert_eq!(j["target"], target);
        assert_eq!(
            j,
            read_json(&run.join(format!("calibration-{target}.json")))
        );
        for k in ["rto", "percentile", "hedge"] {
            assert_derivation(&j["rpc"][k]["derivation"], &format!("{target} rpc.{k}"));
        }
        let is_raft = matches!(
            target,
            "etcd" | "hashicorp-raft" | "tikv" | "cockroachdb" | "generic"
        );
        assert_eq!(j["raft"].is_object(), is_raft, "{target}: raft");
        assert_eq!(
            j["hashicorp"].is_object(),
            target == "hashicorp-raft",
            "{target}"
        );
        assert_eq!(
            j["akka"].is_object(),
            matches!(target, "akka" | "generic"),
            "{target}"
        );
        assert_eq!(
            j["cassandra"].is_object(),
            matches!(target, "cassandra" | "generic"),
            "{target}"
        );
        for k in [
            "raft",
            "hashicorp",
            "akka",
            "cassandra",
            "clock",
            "lease",
            "cockroach",
        ] {
            if j[k].is_object() {
                assert_derivation(&j[k]["derivation"], &format!("{target} {k}"));
            }
        }
        if is_raft {
            let raft = &j["raft"];
            let (h, e) = (
                u(raft, "heartbeat_interval_ms"),
                u(raft, "election_timeout_ms"),
            );
            assert!(h >= 1 && e >= h, "{target}: {h}/{e}");
            let rate = f(raft, "spurious_elections_per_hour");
            assert!(
                rate <= f(&j, "budget_per_hour"),
                "{target}: predicted {rate}/h over the budget"
            );
        }

        // The config carries the JSON's numbers, in the target's own syntax.
        let raft = &j["raft"];
        match target {
            "etcd" => {
                let (h, e) = (
                    u(raft, "heartbeat_interval_ms"),
                    u(raft, "election_timeout_ms"),
                );
                assert_etcd_accepts(h, e, "etcd.yaml");
                assert!(
                    config.contains(&format!(
                        "\nheartbeat-interval: {h}\nelection-timeout: {e}\n"
                    )),
                    "{config}"
                );
            }
            "hashicorp-raft" => {
                let e = u(raft, "election_timeout_ms");
                let x = &j["hashicorp"];
                let (lease, commit) = (u(x, "leader_lease_timeout_ms"), u(x, "commit_timeout_ms"));
                // hashicorp/raft's ValidateConfig.
                assert!(e >= 5 && lease >= 5 && commit >= 1 && lease <= e, "{x}");
                for (k, v) in [
                    ("HeartbeatTimeout", e),
                    ("ElectionTimeout", e),
                    ("LeaderLeaseTimeout", lease),
                    ("CommitTimeout", commit),
                ] {
                    let line = format!("{k} = \"{}\"", go_duration(v));
                    assert!(config.contains(&line), "no {line} in {config}");
                }
            }
            "tikv" => {
                let (h, e) = (
                    u(raft, "heartbeat_interval_ms"),
                    u(raft, "election_timeout_ms"),
                );
                assert_eq!(e % h, 0);
                assert!(config.contains(&format!("raft-base-tick-interval = \"{h}ms\"")));
                assert!(config.contains(&format!("raft-election-timeout-ticks = {}\n", e / h)));
                assert!(e / h > 1, "election ticks must exceed heartbeat ticks");
            }
            "cockroachdb" => {
                let (h, e) = (
                    u(raft, "heartbeat_interval_ms"),
                    u(raft, "election_timeout_ms"),
                );
                assert!(config.contains(&format!("COCKROACH_RAFT_TICK_INTERVAL={h}ms\n")));
                assert!(config.contains(&format!(
                    "COCKROACH_RAFT_ELECTION_TIMEOUT_TICKS={}\n",
                    e / h
                )));
                if let Some(c) = j["cockroach"].as_object() {
                    let ms = c["max_offset_ms"].as_u64().unwrap();
                    assert!(ms >= 1 && config.contains(&format!("--max-offset={ms}ms")));
                }
            }
            "cassandra" => {
                let phi = f(&j["cassandra"], "phi_convict_threshold");
                assert!((5.0..=16.0).contains(&phi), "{phi}");
                let line = config
                    .lines()
                    .find_map(|l| l.strip_prefix("phi_convict_threshold: "))
                    .expect("phi_convict_threshold line");
                assert_eq!(line.parse::<f64>().unwrap(), phi);
            }
            "akka" => {
                let th = f(&j["akka"], "threshold");
                assert!(th > 0.0);
                let line = config
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("threshold = "))
                    .expect("threshold line");
                assert_eq!(line.parse::<f64>().unwrap(), th);
            }
            "generic" => {
                let (h, e) = (
                    u(raft, "heartbeat_interval_ms"),
                    u(raft, "election_timeout_ms"),
                );
                assert!(config.contains(&format!("heartbeat_interval_ms = {h}\n")));
                assert!(config.contains(&format!("election_timeout_ms = {e}\n")));
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn etcd_flags_to_stdout_are_the_flags_and_nothing_else() {
    let (_tmp, run) = fresh_run();
    let o = calibrate(
        &run,
        &["--for", "etcd", "--export", "etcd-flags", "-o", "-"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    // Only comments and the flags: no table, no paths, no JSON.
    for l in out.lines() {
        assert!(
            l.starts_with("# ") || l.starts_with("--heartbeat-interval="),
            "unexpected line {l:?} in\n{out}"
        );
    }
    let (h, e) = parse_etcd_flags(&out);
    assert_etcd_accepts(h, e, "etcd-flags");
    // The same numbers as the calibration written beside it, and as the YAML export.
    let j = read_json(&run.join("calibration-etcd.json"));
    assert_eq!(
        (h, e),
        (
            u(&j["raft"], "heartbeat_interval_ms"),
            u(&j["raft"], "election_timeout_ms")
        )
    );
    assert_eq!(
        std::fs::read_to_string(run.join("etcd.flags")).expect("etcd.flags"),
        out
    );
    let o = calibrate(&run, &["--for", "etcd", "--export", "etcd-yaml", "-o", "-"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let yaml = text(&o.stdout);
    assert!(
        yaml.ends_with(&format!("heartbeat-interval: {h}\nelection-timeout: {e}\n")),
        "{yaml}"
    );
    // -o FILE writes the same text and still prints the report.
    let file = run.join("my-etcd.flags");
    let o = latlab()
        .arg("calibrate")
        .arg(&run)
        .args(["--for", "etcd", "--export", "etcd-flags", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), out);
    assert!(text(&o.stdout).starts_with("calibrated for etcd"));
}

#[test]
fn etcd_flags_splice_into_a_command_line() {
    let (_tmp, run) = fresh_run();
    let o = calibrate(
        &run,
        &["--for", "etcd", "--export", "etcd-flags", "-o", "-"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for word in out.split_whitespace() {
        assert!(
            word.starts_with("--"),
            "{word:?} would reach etcd as an argument"
        );
    }
}

#[test]
fn etcd_exports_obey_etcd_rules_or_refuse_with_the_rule() {
    let (_tmp, run) = fresh_run();
    // A fixed heartbeat: the election timeout follows from it, up to etcd's 50 s limit.
    for hb in [1u64, 2, 3, 7, 10_000] {
        let o = calibrate(
            &run,
            &[
                "--for",
                "etcd",
                "--heartbeat",
                &hb.to_string(),
                "--export",
                "etcd-flags",
                "-o",
                "-",
            ],
        );
        assert!(o.status.success(), "--heartbeat {hb}: {}", text(&o.stderr));
        let (h, e) = parse_etcd_flags(&text(&o.stdout));
        assert_eq!(h, hb);
        assert_etcd_accepts(h, e, &format!("--heartbeat {hb}"));
    }
    // 5 × 10 001 ms is over etcd's maximum: refused, with the limit named.
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
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "printed a config: {}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(err.contains("over the limit of 50000 ms"), "{err}");

    // A generic calibration is not tick-based; exported for etcd it either happens to be a
    // whole number of heartbeats or is refused, naming etcd's tick rule. Never silently cut.
    let mut refused = 0;
    for (budget, hb) in [
        ("1e-4/h", "2"),
        ("1e-8/h", "2"),
        ("1e-10/h", "3"),
        ("1e-6/h", "3"),
    ] {
        let o = calibrate(
            &run,
            &[
                "--for",
                "generic",
                "--false-suspicion",
                budget,
                "--heartbeat",
                hb,
                "--export",
                "etcd-flags",
                "-o",
                "-",
            ],
        );
        if o.status.success() {
            let (h, e) = parse_etcd_flags(&text(&o.stdout));
            assert_etcd_accepts(h, e, &format!("generic {budget} {hb}"));
        } else {
            refused += 1;
            let err = text(&o.stderr);
            assert!(
                err.contains("refusing to export a config the target would reject")
                    && err.contains("whole heartbeats"),
                "{err}"
            );
            assert!(o.stdout.is_empty());
        }
    }
    eprintln!("generic → etcd-flags: {refused} of 4 refused for a timeout between heartbeats");

    // A target without Raft timing has nothing for etcd.
    let o = calibrate(
        &run,
        &["--for", "akka", "--export", "etcd-flags", "-o", "-"],
    );
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("etcd-flags: the calibration has no raft timing"),
        "{err}"
    );
}

#[test]
fn bad_inputs_get_clear_messages() {
    let (tmp, run) = fresh_run();
    let fails = |args: &[&std::ffi::OsStr]| {
        let o = latlab().arg("calibrate").args(args).output().unwrap();
        assert!(!o.status.success(), "{args:?} succeeded");
        text(&o.stderr)
    };

    let missing = tmp.path().join("no-such-run");
    let err = fails(&[missing.as_os_str()]);
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("does not exist"),
        "{err}"
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = fails(&[empty.as_os_str()]);
    assert!(err.contains("no manifest.json"), "{err}");

    let err = fails(&[run.as_os_str(), "--for".as_ref(), "zookeeper".as_ref()]);
    assert!(
        err.contains("unknown target \"zookeeper\"") && err.contains("etcd, hashicorp-raft"),
        "{err}"
    );
    let err = fails(&[run.as_os_str(), "--probe".as_ref(), "nosuch".as_ref()]);
    assert!(
        err.contains("has no probe named \"nosuch\"") && err.contains("udp-closed"),
        "{err}"
    );
    let err = fails(&[run.as_os_str(), "--export".as_ref(), "xml".as_ref()]);
    assert!(
        err.contains("unknown export format \"xml\"") && err.contains("etcd-flags"),
        "{err}"
    );
    let err = fails(&[
        run.as_os_str(),
        "--false-suspicion".as_ref(),
        "0/h".as_ref(),
    ]);
    assert!(err.contains("must be a positive number"), "{err}");
    let err = fails(&[
        run.as_os_str(),
        "--false-suspicion".as_ref(),
        "1/fortnight".as_ref(),
    ]);
    assert!(err.contains("unknown unit"), "{err}");
    let err = fails(&[run.as_os_str(), "--nodes".as_ref(), "1".as_ref()]);
    assert!(err.contains("--nodes"), "{err}");

    // A damaged summary.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::copy(run.join("manifest.json"), broken.join("manifest.json")).unwrap();
    std::fs::write(broken.join("summary.json"), "{not json").unwrap();
    let err = fails(&[broken.as_os_str()]);
    assert!(err.contains("is not a latlab summary"), "{err}");
}

#[test]
fn a_partial_run_is_calibrated_with_a_warning() {
    let (_tmp, run) = fresh_run();
    let path = run.join("summary.json");
    let mut s = read_json(&path);
    assert_eq!(s["status"], "complete");
    s["status"] = "partial".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    let o = calibrate(
        &run,
        &["--for", "etcd", "--export", "etcd-flags", "-o", "-"],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.to_lowercase().contains("partial") && err.contains("calibrating from what it measured"),
        "no warning about the partial run: {err}"
    );
    let (h, e) = parse_etcd_flags(&text(&o.stdout));
    assert_etcd_accepts(h, e, "partial run");
}

#[test]
fn require_evidence_refuses_a_budget_the_samples_cannot_support() {
    let (_tmp, run) = fresh_run();
    let o = calibrate(
        &run,
        &[
            "--for",
            "etcd",
            "--false-suspicion",
            "1e-9/h",
            "--require-evidence",
        ],
    );
    assert!(!o.status.success());
    let err = text(&o.stderr);
    // "too few samples …: need at least N, have M; run the probe longer (about S more seconds …)"
    let num_after = |key: &str| -> u64 {
        let rest = &err[err
            .find(key)
            .unwrap_or_else(|| panic!("no {key:?} in {err}"))
            + key.len()..];
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no number after {key:?} in {err}"))
    };
    let (need, have) = (num_after("need at least "), num_after("have "));
    assert!(err.contains("too few samples"), "{err}");
    assert!(err.contains("run the probe longer"), "{err}");
    assert!(
        need > have && need >= 1_000_000_000,
        "need {need}, have {have}"
    );
    // `have` is the round trips the closed-loop probes recorded.
    let summary = read_json(&run.join("summary.json"));
    let closed: u64 = summary["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["mode"] == "closed")
        .map(|p| u(p, "received"))
        .sum();
    assert!(
        have <= closed && have * 10 >= closed * 9,
        "have {have}, the closed-loop probes received {closed}"
    );
    // Without --require-evidence the same budget calibrates and says it extrapolated.
    let o = calibrate(&run, &["--for", "etcd", "--false-suspicion", "1e-9/h"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("extrapolates the fitted tail"));
}
