//! results/schema/*.schema.json against real output — a `latlab lab --quick` run, a
//! `latlab probe rtt` run, and the reference runs under results/reference/ — validated with
//! Python's `jsonschema` (an independent implementation of JSON Schema draft 2020-12), plus
//! mutated documents that the schemas must reject.
//!
//! Needs python3 with `jsonschema` (scripts/test-deps.sh installs it); without it the
//! validation test prints why and passes, unless `LATLAB_REQUIRE_TOOLS=1`, where it fails.

mod common;

use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::skip;
use serde_json::Value;

/// Validates every instance named on the command line against the schema named before it:
/// argv = SCHEMA INSTANCE [INSTANCE…] [-- SCHEMA INSTANCE…]. An instance path prefixed with
/// `!` must be rejected. Prints one line per instance; exits 1 on any mismatch.
const VALIDATE: &str = r#"
import json, sys
from jsonschema import Draft202012Validator, FormatChecker

groups, cur = [], []
for a in sys.argv[1:]:
    if a == "--":
        groups.append(cur); cur = []
    else:
        cur.append(a)
groups.append(cur)
bad = 0
for g in groups:
    schema = json.load(open(g[0]))
    Draft202012Validator.check_schema(schema)
    v = Draft202012Validator(schema, format_checker=FormatChecker())
    for inst in g[1:]:
        expect_ok = not inst.startswith("!")
        path = inst.lstrip("!")
        errors = sorted(v.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
        if bool(errors) == expect_ok:
            bad += 1
            print(f"MISMATCH {path}: expected {'valid' if expect_ok else 'invalid'}")
            for e in errors[:10]:
                print(f"  at /{'/'.join(map(str, e.path))}: {e.message[:300]}")
        else:
            why = errors[0].message[:120] if errors else ""
            print(f"ok {path} {'valid' if expect_ok else 'rejected: ' + why}")
sys.exit(1 if bad else 0)
"#;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema(name: &str) -> PathBuf {
    repo().join("results/schema").join(name)
}

fn load(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

/// Whether python3 with jsonschema is here; skips (or fails) with the reason when not.
fn have_jsonschema() -> bool {
    match Command::new("python3")
        .args(["-c", "import jsonschema"])
        .stderr(Stdio::piped())
        .output()
    {
        Err(e) => {
            skip(&format!("python3 not found ({e})"));
            false
        }
        Ok(o) if !o.status.success() => {
            skip(&format!(
                "python3 has no jsonschema module (pip install jsonschema; scripts/test-deps.sh does): {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or_default()
            ));
            false
        }
        Ok(_) => true,
    }
}

/// Runs the validator; returns (success, stdout + stderr).
fn validate(args: &[PathBuf]) -> (bool, String) {
    let mut child = Command::new("python3")
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(VALIDATE.as_bytes())
        .unwrap();
    let o = child.wait_with_output().expect("python3 output");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn latlab(args: &[&str]) {
    let o = assert_cmd::Command::cargo_bin("latlab")
        .unwrap()
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "latlab {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn only_run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
fn real_runs_match_the_schemas() {
    if !have_jsonschema() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s);

    // A lab run (UDP and TCP, closed and open loop, STAMP and echo replies, pinned).
    let lab_out = p("lab");
    latlab(&["lab", "--quick", "--out", lab_out.to_str().unwrap()]);
    let lab = only_run_dir(&lab_out);

    // A probe rtt run (its own config keys, unpinned placement, open loop, echo replies)
    // against a UDP echo service run by this test.
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = echo.local_addr().unwrap().to_string();
    echo.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let done = AtomicBool::new(false);
    let probe_out = p("probe");
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u8; 2048];
            let deadline = Instant::now() + Duration::from_secs(30);
            while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok((n, from)) = echo.recv_from(&mut buf) {
                    let _ = echo.send_to(&buf[..n], from);
                }
            }
        });
        let run = std::panic::catch_unwind(|| {
            latlab(&[
                "probe",
                "rtt",
                "--target",
                &target,
                "--reply",
                "echo",
                "--count",
                "300",
                "--warmup",
                "10",
                "--rate",
                "2000",
                "--schedule",
                "constant",
                "--out",
                probe_out.to_str().unwrap(),
            ])
        });
        done.store(true, Ordering::Relaxed);
        if let Err(e) = run {
            std::panic::resume_unwind(e);
        }
    });
    let probe = only_run_dir(&probe_out);
    let ps = load(&probe.join("summary.json"));
    assert_eq!(ps["probes"][0]["reply"], "echo", "{ps:#}");
    assert_eq!(ps["probes"][0]["mode"], "open", "{ps:#}");

    let manifest = load(&lab.join("manifest.json"));
    let summary = load(&lab.join("summary.json"));
    // Five loopback probes, then the datapath comparison (one to three more).
    let n = summary["probes"].as_array().map_or(0, Vec::len);
    assert!((6..=8).contains(&n), "{n} probes: {summary:#}");

    // Mutations the schemas must reject: each one a mistake a writer could make.
    let mut cases: Vec<(String, Value, Value)> = Vec::new(); // (name, manifest, summary)
    let mut m = manifest.clone();
    m.as_object_mut().unwrap().remove("clock");
    cases.push(("manifest-without-clock".into(), m, Value::Null));
    let mut m = manifest.clone();
    m["clock"]["read_cost_ns"] = Value::Null;
    cases.push(("manifest-clock-cost-null".into(), m, Value::Null));
    let mut m = manifest.clone();
    m["status"] = "done".into();
    cases.push(("manifest-bad-status".into(), m, Value::Null));
    let mut m = manifest.clone();
    m["host"]["logical_cpus"] = (-1).into();
    cases.push(("manifest-negative-cpus".into(), m, Value::Null));
    let mut s = summary.clone();
    s["probes"][0]["rtt"]
        .as_object_mut()
        .unwrap()
        .remove("p99.9");
    cases.push(("summary-without-p99.9".into(), Value::Null, s));
    let mut s = summary.clone();
    let v = s["probes"][0]["rtt"]["p99"].clone();
    s["probes"][0]["rtt"]["p99_9"] = v;
    cases.push(("summary-with-rust-field-name".into(), Value::Null, s));
    let mut s = summary.clone();
    s["units"] = "us".into();
    cases.push(("summary-in-microseconds".into(), Value::Null, s));
    let mut s = summary.clone();
    s["probes"][0]["rate_hz"] = 1000.0.into(); // udp-closed: closed loop has no rate
    cases.push(("summary-closed-loop-with-rate".into(), Value::Null, s));
    let mut s = summary.clone();
    s["probes"][3]["network_rtt"] = s["probes"][0]["network_rtt"].clone(); // tcp echo
    cases.push(("summary-echo-with-network-rtt".into(), Value::Null, s));

    let write = |name: &str, v: &Value| {
        let path = p(&format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
        path
    };
    let bang = |path: PathBuf| PathBuf::from(format!("!{}", path.display()));
    let mut args = vec![
        schema("manifest.schema.json"),
        lab.join("manifest.json"),
        probe.join("manifest.json"),
    ];
    let mut sargs = vec![
        schema("summary.schema.json"),
        lab.join("summary.json"),
        probe.join("summary.json"),
    ];
    for (name, m, s) in &cases {
        if !m.is_null() {
            args.push(bang(write(name, m)));
        }
        if !s.is_null() {
            sargs.push(bang(write(name, s)));
        }
    }
    // Reference runs committed under results/reference/ must stay valid too.
    let reference = repo().join("results/reference");
    for e in std::fs::read_dir(&reference).into_iter().flatten() {
        let d = e.unwrap().path();
        if d.join("manifest.json").is_file() && d.join("summary.json").is_file() {
            args.push(d.join("manifest.json"));
            sargs.push(d.join("summary.json"));
        }
    }
    args.push(PathBuf::from("--"));
    args.extend(sargs);
    let (ok, report) = validate(&args);
    eprintln!("{report}");
    assert!(ok, "schema validation:\n{report}");
    assert_eq!(
        report.lines().filter(|l| l.contains("rejected")).count(),
        cases.len(),
        "every mutation was rejected:\n{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.contains("manifest-without-clock.json rejected")
                && l.contains("'clock' is a required property")),
        "a manifest without its clock is rejected for that reason:\n{report}"
    );
}

#[test]
fn schemas_agree_with_each_other_and_the_writer() {
    let m = load(&schema("manifest.schema.json"));
    let s = load(&schema("summary.schema.json"));
    // The schema ids are the identifiers the files carry in "$schema".
    assert_eq!(
        m["$id"], m["properties"]["$schema"]["const"],
        "manifest schema id"
    );
    assert_eq!(
        s["$id"], s["properties"]["$schema"]["const"],
        "summary schema id"
    );
    assert_eq!(m["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    // Placement is described in both files; the two copies must not drift apart.
    assert_eq!(m["$defs"]["placement"], s["$defs"]["placement"]);
    // Every property of every object is described, with no undescribed leftovers.
    fn walk(v: &Value, at: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                // A $ref points at a definition that carries the description.
                let described = p.get("description").is_some() || p.get("$ref").is_some();
                if !described {
                    missing.push(format!("{at}/{k}"));
                }
            }
        }
        match v {
            Value::Object(o) => {
                for (k, c) in o {
                    walk(c, &format!("{at}/{k}"), missing);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    walk(c, &format!("{at}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&m, "manifest", &mut missing);
    walk(&s, "summary", &mut missing);
    // Conditional branches (if/then/else) restate properties only to constrain them.
    missing.retain(|p| !["/if/", "/then/", "/else/"].iter().any(|b| p.contains(b)));
    assert!(missing.is_empty(), "undescribed properties: {missing:?}");
}
