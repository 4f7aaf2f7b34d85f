//! `latlab model` end to end: `fit` on samples drawn from a known law (seeded, written here)
//! and on a real `latlab lab --quick` run directory, the inputs a user gets wrong, `predict`
//! against closed forms (M/M/1, M/D/1, the M/M/1 knee), and `sim`: the M/M/1 mean inside its
//! confidence interval, the same seed giving the same files, CoDel dropping on an overloaded
//! link.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn latlab() -> Command {
    let mut c = Command::cargo_bin("latlab").expect("the latlab binary is built for tests");
    c.timeout(Duration::from_secs(120));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs latlab, asserts success, returns stdout.
fn ok(args: &[&str]) -> String {
    let o = latlab().args(args).output().expect("run latlab");
    assert!(
        o.status.success(),
        "latlab {args:?} failed: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Runs latlab, asserts failure, returns stderr.
fn fails(args: &[&str]) -> String {
    let o = latlab().args(args).output().expect("run latlab");
    assert!(
        !o.status.success(),
        "latlab {args:?} should fail but printed: {}",
        text(&o.stdout)
    );
    text(&o.stderr)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn read_json(p: &Path) -> Value {
    let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

fn num(v: &Value, ptr: &str) -> f64 {
    v.pointer(ptr)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{ptr} is not a number in {v}"))
}

/// Lognormal samples from a 64-bit LCG (Knuth's MMIX constants) and Box–Muller.
fn lognormal_samples(n: usize, mu: f64, sigma: f64, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (mu + sigma * z).exp()
        })
        .collect()
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write test file");
    p
}

#[test]
fn fit_recovers_a_lognormal_from_csv_and_writes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    // ln(S / 1 µs) ~ N(ln 50, 0.5²), written in µs.
    let (mu_us, sigma) = (50f64.ln(), 0.5);
    let body: String = lognormal_samples(5000, mu_us, sigma, 42)
        .iter()
        .map(|x| format!("{x:.6}\n"))
        .collect();
    let csv = write(dir.path(), "lat.csv", &format!("# latency in us\n{body}"));
    let out = json(&ok(&[
        "model",
        "fit",
        "--csv",
        csv.to_str().unwrap(),
        "--unit",
        "us",
        "--json",
    ]));
    assert_eq!(out["best"]["family"], "lognormal", "{}", out["best"]);
    // The model is in ns: μ_ns = μ_us + ln 1000.
    let mu = num(&out, "/best/dist/params/mu");
    let s = num(&out, "/best/dist/params/sigma");
    assert!((mu - (mu_us + 1000f64.ln())).abs() < 0.03, "mu {mu}");
    assert!((s - sigma).abs() < 0.02, "sigma {s}");
    assert_eq!(out["samples"], 5000);
    assert!((num(&out, "/mean") / (50e3 * (sigma * sigma / 2.0).exp()) - 1.0).abs() < 0.03);

    let model = read_json(&dir.path().join("model.json"));
    assert_eq!(model["best"], out["best"]);
    let svg = std::fs::read_to_string(dir.path().join("model-ccdf.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.contains("stroke-dasharray") && !svg.contains("NaN"));

    // The table marks the best fit and shows times with their unit.
    let table = ok(&[
        "model",
        "fit",
        "--csv",
        csv.to_str().unwrap(),
        "--unit",
        "us",
    ]);
    assert!(table.contains("best") && table.contains("µs"), "{table}");
    assert!(table.contains("KS") && table.contains("AIC") && table.contains("cs²"));

    // The fitted law feeds predict.
    let p = json(&ok(&[
        "model",
        "predict",
        "--model",
        dir.path().join("model.json").to_str().unwrap(),
        "--load",
        "0.5",
        "--json",
    ]));
    assert_eq!(p["predictions"][0]["model"], "M/G/1");
    let service_mean = 50e-6 * (sigma * sigma / 2.0).exp();
    let w = num(&p, "/predictions/0/mean_wait");
    // P-K: W = λE[S²]/(2(1 − ρ)) = ρ(1 + cs²)E[S]/(2(1 − ρ)), cs² = e^{σ²} − 1.
    let pk = 0.5 * (sigma * sigma).exp() * service_mean;
    assert!((w / pk - 1.0).abs() < 0.05, "wait {w} vs P-K {pk}");
}

#[test]
fn bad_sample_files_are_refused_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let many = |extra: &str| format!("{}{extra}", "1000\n".repeat(20));
    for (name, body, expect) in [
        ("word.csv", format!("10\n20\nabc\n{}", many("")), ":3:"),
        ("neg.csv", format!("10\n-5\n{}", many("")), ":2:"),
        ("nan.csv", many("NaN\n"), ":21:"),
        ("few.csv", "1\n2\n3\n4\n5\n".to_string(), "only 5 samples"),
        ("equal.csv", many(""), "deterministic"),
    ] {
        let p = write(dir.path(), name, &body);
        let err = fails(&["model", "fit", "--csv", p.to_str().unwrap()]);
        assert!(err.contains(expect), "{name}: {err}");
        assert!(
            !dir.path().join("model.json").exists(),
            "{name} wrote a model"
        );
    }
    let err = fails(&["model", "fit", dir.path().to_str().unwrap()]);
    assert!(err.contains("not a latlab run directory"), "{err}");
}

#[test]
fn fit_a_lab_run_directory() {
    let out = tempfile::tempdir().unwrap();
    let lab = json(&ok(&[
        "lab",
        "--quick",
        "--json",
        "--out",
        out.path().to_str().unwrap(),
    ]));
    let run = PathBuf::from(lab["run_dir"].as_str().expect("run_dir"));
    let run_s = run.to_str().unwrap();
    let fit = json(&ok(&["model", "fit", run_s, "--json"]));
    assert!(fit["source"].as_str().unwrap().ends_with("udp-closed"));
    assert!(fit["samples"].as_u64().unwrap() > 100);
    let model = read_json(&run.join("model.json"));
    assert_eq!(model["best"], fit["best"]);
    assert!(model["fit"]["fits"].as_array().unwrap().len() >= 3);
    let svg = std::fs::read_to_string(run.join("model-ccdf.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("measured"));

    let tcp = json(&ok(&[
        "model",
        "fit",
        run_s,
        "--probe",
        "tcp-closed",
        "--json",
    ]));
    assert!(tcp["source"].as_str().unwrap().ends_with("tcp-closed"));
    let err = fails(&["model", "fit", run_s, "--probe", "nope"]);
    assert!(
        err.contains("no probe named") && err.contains("udp-closed"),
        "{err}"
    );
}

#[test]
fn predict_matches_mm1_and_md1_closed_forms() {
    let p = json(&ok(&[
        "model",
        "predict",
        "--service",
        "exp:1s",
        "--load",
        "0.8",
        "--json",
    ]));
    let row = &p["predictions"][0];
    assert_eq!(row["model"], "M/M/1");
    assert_eq!(row["method"]["kind"], "exact");
    assert!((num(row, "/mean_sojourn") - 5.0).abs() < 1e-9);
    // Sojourn ~ Exp(μ − λ): p99 = ln(100)/0.2.
    assert!((num(row, "/sojourn/p99") - 100f64.ln() / 0.2).abs() < 1e-6);

    let table = ok(&["model", "predict", "--service", "exp:1s", "--load", "0.8"]);
    assert!(
        table.contains("5.000 s") && table.contains("23.026 s") && table.contains("exact"),
        "{table}"
    );

    let d = json(&ok(&[
        "model",
        "predict",
        "--service",
        "det:1s",
        "--load",
        "0.5,0.8",
        "--json",
    ]));
    assert_eq!(d["predictions"][1]["model"], "M/D/1");
    // P-K for M/D/1: W = ρ/(2μ(1 − ρ)) = 2 s at ρ = 0.8.
    assert!((num(&d, "/predictions/1/mean_wait") - 2.0).abs() < 1e-9);
    assert!((num(&d, "/predictions/0/mean_wait") - 0.5).abs() < 1e-9);

    // Ranges include their end; rates are per second.
    let r = json(&ok(&[
        "model",
        "predict",
        "--service",
        "exp:1ms",
        "--load",
        "0.1..0.95",
        "--json",
    ]));
    let rows = r["predictions"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert!((num(&rows[9], "/utilization") - 0.95).abs() < 1e-12);
    let by_rate = json(&ok(&[
        "model",
        "predict",
        "--service",
        "exp:1ms",
        "--rate",
        "500",
        "--json",
    ]));
    assert!((num(&by_rate, "/predictions/0/mean_sojourn") - 2e-3).abs() < 1e-12);

    // M/M/2 is exact too.
    let c2 = json(&ok(&[
        "model",
        "predict",
        "--service",
        "exp:1s",
        "--servers",
        "2",
        "--load",
        "0.5",
        "--json",
    ]));
    assert_eq!(c2["predictions"][0]["model"], "M/M/2");
    // Erlang C at a = 1, c = 2: P(wait) = 1/3, W = P(wait)/(cμ − λ) = 1/3 s.
    assert!((num(&c2, "/predictions/0/mean_wait") - 1.0 / 3.0).abs() < 1e-9);
}

#[test]
fn predict_finds_the_knee_and_refuses_impossible_budgets() {
    // M/M/1 with μ = 1: p99 = ln(100)/(1 − λ) ≤ ln(100)/0.2 exactly when λ ≤ 0.8.
    let budget = format!("p99:{}ms", 1000.0 * 100f64.ln() / 0.2);
    let k = json(&ok(&[
        "model",
        "predict",
        "--service",
        "exp:1s",
        "--load",
        "0.5",
        "--budget",
        &budget,
        "--json",
    ]));
    assert!(
        (num(&k, "/knee/utilization") - 0.8).abs() < 1e-4,
        "{}",
        k["knee"]
    );
    let table = ok(&[
        "model",
        "predict",
        "--service",
        "exp:1s",
        "--load",
        "0.5",
        "--budget",
        &budget,
    ]);
    assert!(table.contains("knee: p99"), "{table}");
    // The service time alone has p99 = ln(100) s > 1 s.
    let err = fails(&[
        "model",
        "predict",
        "--service",
        "exp:1s",
        "--budget",
        "p99:1s",
    ]);
    assert!(err.contains("no knee"), "{err}");
    for bad in [
        "--load=1.2",
        "--load=0.9..0.5",
        "--budget=p99",
        "--service=exp:1",
    ] {
        let mut args = vec!["model", "predict", bad];
        if !bad.starts_with("--service") {
            args.extend(["--service", "exp:1s"]);
        }
        fails(&args);
    }
    let err = fails(&["model", "predict", "--service", "exp:1s", "--rate", "2"]);
    assert!(err.contains("capacity"), "{err}");
}

fn sim(out: &Path, args: &[&str]) -> (Value, PathBuf) {
    let mut all = vec!["model", "sim", "--json", "--out", out.to_str().unwrap()];
    all.extend(args);
    let v = json(&ok(&all));
    let dir = PathBuf::from(v["run_dir"].as_str().expect("run_dir"));
    (v, dir)
}

#[test]
fn sim_mm1_mean_lies_in_its_confidence_interval_and_fits_back() {
    let out = tempfile::tempdir().unwrap();
    let (v, dir) = sim(
        out.path(),
        &[
            "--arrivals",
            "poisson:0.8",
            "--service",
            "exp:1s",
            "--customers",
            "200000",
        ],
    );
    let (lo, hi) = (
        num(&v, "/report/sojourn/low"),
        num(&v, "/report/sojourn/high"),
    );
    assert!(lo <= 5.0 && 5.0 <= hi, "99% CI [{lo}, {hi}] misses 5");
    assert_eq!(v["report"]["served"], 200000);
    for f in ["sim.json", "sojourn.hlog", "drops.csv", "queue.csv"] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    let queue = std::fs::read_to_string(dir.join("queue.csv")).unwrap();
    assert!(queue.starts_with("time_s,in_system,in_queue\n") && queue.lines().count() > 100);

    // The sojourn log reads back: M/M/1 sojourn ~ Exp(0.2), mean 5 s.
    let fit = json(&ok(&["model", "fit", dir.to_str().unwrap(), "--json"]));
    assert_eq!(fit["samples"], 200000);
    assert!(
        (num(&fit, "/mean") / 5e9 - 1.0).abs() < 0.05,
        "{}",
        fit["mean"]
    );
    assert!((num(&fit, "/scv") - 1.0).abs() < 0.1, "{}", fit["scv"]);

    let table = ok(&[
        "model",
        "sim",
        "--out",
        out.path().to_str().unwrap(),
        "--arrivals",
        "poisson:0.8",
        "--service",
        "exp:1s",
        "--customers",
        "1000",
    ]);
    assert!(
        table.contains("99% CI") && table.contains("utilisation"),
        "{table}"
    );
}

#[test]
fn sim_is_repeatable_by_seed() {
    let out = tempfile::tempdir().unwrap();
    let args = [
        "--arrivals",
        "onoff:2k,10ms,40ms",
        "--service",
        "lognormal:-9.5,0.5",
        "--discipline",
        "red",
        "--customers",
        "20000",
        "--seed",
        "9",
    ];
    let (_, a) = sim(out.path(), &args);
    let (_, b) = sim(out.path(), &args);
    assert_ne!(a, b, "two runs, two directories");
    for f in ["sim.json", "sojourn.hlog", "drops.csv", "queue.csv"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two runs with the same seed"
        );
    }
    let mut other = args.to_vec();
    *other.last_mut().unwrap() = "10";
    let (_, c) = sim(out.path(), &other);
    assert_ne!(
        std::fs::read(a.join("sim.json")).unwrap(),
        std::fs::read(c.join("sim.json")).unwrap()
    );
}

#[test]
fn sim_codel_drops_on_an_overloaded_link() {
    let out = tempfile::tempdir().unwrap();
    // 12 000 packets/s of 1500 B is 144 Mb/s offered to a 100 Mb/s link.
    let (v, dir) = sim(
        out.path(),
        &[
            "--arrivals",
            "poisson:12k",
            "--link-rate",
            "100M",
            "--size",
            "1500",
            "--discipline",
            "codel-linux",
            "--duration",
            "5s",
        ],
    );
    assert_eq!(v["report"]["discipline"], "codel-linux");
    assert!(
        num(&v, "/report/drops/head") > 0.0,
        "{}",
        v["report"]["drops"]
    );
    let drops = std::fs::read_to_string(dir.join("drops.csv")).unwrap();
    assert!(drops.lines().count() > 1);
    assert!(num(&v, "/report/utilisation") > 0.99);

    let trace_dir = tempfile::tempdir().unwrap();
    let trace = write(trace_dir.path(), "gaps.txt", &"1ms\n0.002\n".repeat(50));
    let (t, _) = sim(
        out.path(),
        &[
            "--arrivals",
            &format!("trace:{}", trace.display()),
            "--service",
            "det:500us",
        ],
    );
    assert_eq!(t["report"]["served"], 100);
    assert_eq!(num(&t, "/report/wait/mean"), 0.0);
    for bad in [
        &[
            "--arrivals",
            "poisson:1",
            "--service",
            "exp:1s",
            "--discipline",
            "sfq",
        ][..],
        &["--arrivals", "bursty:1", "--service", "exp:1s"][..],
        &["--arrivals", "poisson:1"][..],
    ] {
        let mut args = vec!["model", "sim", "--out", out.path().to_str().unwrap()];
        args.extend(bad);
        fails(&args);
    }
}
