//! `.hlog` interval logs written by latlab, read by HdrHistogram implementations latlab did not
//! write: the Java library (`org.HdrHistogram.HistogramLogReader`, the reference
//! implementation of the format) and the Python `hdrhistogram` package (`hdrh.log`).
//!
//! Each reader is a small program in `scripts/interop/` that prints what its library decodes
//! as JSON: every interval's start, end, count and max, and for all intervals merged the
//! non-empty buckets (the library's own recorded-values iteration), min, max, total count and
//! the 50/90/99/99.9/99.99th percentiles. The test compares that with latlab's own reading
//! (`record::read_hlog`, `Stats::of`):
//!
//! * interval counts, bucket counts, totals, min and max: exactly;
//! * interval start and end times: to the millisecond (the format's precision);
//! * percentiles: each library turns a percentile into a rank by its own rule (see
//!   [`Rule`]); a library's value must be exactly the value at the rank its rule gives, and
//!   that rank may be at most one away from the exact ⌈p/100 · N⌉.
//!
//! Readers whose tool is missing are skipped with the reason printed, or fail under
//! `LATLAB_REQUIRE_TOOLS=1` (scripts/test-deps.sh installs them).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{output_within, skip};
use latlab_probes::record::{new_histogram, read_hlog, write_hlog, LatencyRecorder, Stats, MAX_NS};
use serde_json::Value;

/// The percentiles every reader reports: JSON key, percent, and the quantile literal that
/// `Stats::of` passes to the Rust library.
const PERCENTILES: [(&str, f64, f64, u64); 5] = [
    ("50", 50.0, 0.5, 5000),
    ("90", 90.0, 0.9, 9000),
    ("99", 99.0, 0.99, 9900),
    ("99.9", 99.9, 0.999, 9990),
    ("99.99", 99.99, 0.9999, 9999),
];

/// How a library turns "the p-th percentile of N samples" into a rank (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// HdrHistogram_rust 7.x `value_at_quantile(q)`: ⌈q·N⌉ in f64, at least 1. latlab's.
    Rust,
    /// Java HdrHistogram 2.1.11 `getValueAtPercentile(p)`: ⌈nextDown(p)·N/100⌉ in double, at
    /// least 1 (the next-lower double absorbs p·N/100 landing a hair above an integer).
    Java,
    /// Python hdrhistogram 0.10 `get_value_at_percentile(p)`: int(p·N/100 + 0.5), at least 1:
    /// rounded to the nearest rank.
    Python,
}

impl Rule {
    fn rank(self, percent: f64, quantile: f64, n: u64) -> u64 {
        let r = match self {
            Rule::Rust => (quantile * n as f64).ceil() as u64,
            Rule::Java => {
                // Math.nextAfter(p, -inf) for a positive finite p.
                let down = f64::from_bits(percent.to_bits() - 1);
                (down * n as f64 / 100.0).ceil() as u64
            }
            Rule::Python => (percent * n as f64 / 100.0 + 0.5) as u64,
        };
        r.max(1)
    }
}

/// The exact rank ⌈p/100 · N⌉, with p given in hundredths of a percent.
fn exact_rank(p_hundredths: u64, n: u64) -> u64 {
    (p_hundredths * n).div_ceil(10_000).max(1)
}

#[derive(Debug, Clone, PartialEq)]
struct IntervalReading {
    start_ms: f64,
    end_ms: f64,
    count: u64,
    max: u64,
}

/// What one library makes of an `.hlog`.
#[derive(Debug, Clone)]
struct Reading {
    reader: String,
    start_time_sec: f64,
    intervals: Vec<IntervalReading>,
    total: u64,
    min: u64,
    max: u64,
    /// Highest equivalent value of each non-empty bucket → its count.
    buckets: BTreeMap<u64, u64>,
    percentiles: BTreeMap<String, u64>,
}

impl Reading {
    fn from_json(v: &Value) -> Reading {
        let u = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as u64))
                .unwrap_or_else(|| panic!("not an integer: {v}"))
        };
        let m = &v["merged"];
        Reading {
            reader: v["reader"].as_str().expect("reader").to_string(),
            start_time_sec: v["start_time_sec"].as_f64().expect("start_time_sec"),
            intervals: v["intervals"]
                .as_array()
                .expect("intervals")
                .iter()
                .map(|i| IntervalReading {
                    start_ms: i["start_ms"].as_f64().expect("start_ms"),
                    end_ms: i["end_ms"].as_f64().expect("end_ms"),
                    count: u(&i["count"]),
                    max: u(&i["max"]),
                })
                .collect(),
            total: u(&m["total"]),
            min: u(&m["min"]),
            max: u(&m["max"]),
            buckets: m["buckets"]
                .as_array()
                .expect("buckets")
                .iter()
                .map(|b| (u(&b[0]), u(&b[1])))
                .collect(),
            percentiles: m["percentiles"]
                .as_object()
                .expect("percentiles")
                .iter()
                .map(|(k, v)| (k.clone(), u(v)))
                .collect(),
        }
    }
}

/// latlab's own reading: `read_hlog`, merged, `Stats::of`, the start time from the header.
fn latlab_reading(path: &Path) -> (Reading, Stats) {
    let text = std::fs::read_to_string(path).unwrap();
    let start_time_sec: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#[StartTime: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("a #[StartTime: ...] header");
    let ivs = read_hlog(path).unwrap();
    let mut merged = new_histogram();
    let mut intervals = Vec::new();
    for (start_s, len_s, h) in &ivs {
        merged.add(h).unwrap();
        let start_ms = (start_time_sec + start_s) * 1000.0;
        intervals.push(IntervalReading {
            start_ms,
            end_ms: start_ms + len_s * 1000.0,
            count: h.len(),
            max: if h.is_empty() { 0 } else { h.max() },
        });
    }
    let stats = Stats::of(&merged);
    let buckets = merged
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect();
    let percentiles = [
        ("50", stats.p50),
        ("90", stats.p90),
        ("99", stats.p99),
        ("99.9", stats.p99_9),
        ("99.99", stats.p99_99),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let reading = Reading {
        reader: "latlab (HdrHistogram_rust)".into(),
        start_time_sec,
        intervals,
        total: stats.count,
        min: stats.min,
        max: stats.max,
        buckets,
        percentiles,
    };
    (reading, stats)
}

/// The value at 1-based `rank` of the decoded distribution (a bucket's highest equivalent).
fn value_at_rank(buckets: &BTreeMap<u64, u64>, rank: u64) -> u64 {
    let mut cum = 0;
    for (&v, &c) in buckets {
        cum += c;
        if cum >= rank {
            return v;
        }
    }
    panic!("rank {rank} beyond the {cum} samples");
}

/// The ranks (cumulative count before, cumulative count through] that `value`'s bucket holds.
fn rank_span(buckets: &BTreeMap<u64, u64>, value: u64) -> Option<(u64, u64)> {
    let before: u64 = buckets.range(..value).map(|(_, c)| c).sum();
    buckets.get(&value).map(|c| (before, before + c))
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/interop")
}

/// Runs a reader program and parses its JSON, or says why it cannot run.
fn run_reader(cmd: &mut Command) -> Result<Value, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{cmd:?} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Ok(v)
}

/// The Java HdrHistogram jar (Debian's libhdrhistogram-java), or why there is none.
fn hdrhistogram_jar() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("LATLAB_HDRHISTOGRAM_JAR") {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!(
                "LATLAB_HDRHISTOGRAM_JAR={} does not exist",
                p.display()
            ))
        };
    }
    // Debian installs it as hdrhistogram.jar; other layouts use the project's capitalisation.
    ["/usr/share/java/HdrHistogram.jar", "/usr/share/java/hdrhistogram.jar"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            "no HdrHistogram jar in /usr/share/java (install libhdrhistogram-java, or set LATLAB_HDRHISTOGRAM_JAR)".to_string()
        })
}

fn java_reading(hlog: &Path) -> Result<Reading, String> {
    let jar = hdrhistogram_jar()?;
    match Command::new("java").arg("-version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("java is not installed (install default-jre-headless)".into()),
    }
    let v = run_reader(
        Command::new("java")
            .arg("-cp")
            .arg(&jar)
            .arg(interop_dir().join("HlogRead.java"))
            .arg(hlog),
    )?;
    Ok(Reading::from_json(&v))
}

fn python_reading(hlog: &Path) -> Result<Reading, String> {
    match Command::new("python3").args(["-c", "import hdrh"]).output() {
        Ok(o) if o.status.success() => {}
        Ok(_) => {
            return Err("python3 has no hdrh module (pip install hdrhistogram)".into());
        }
        Err(e) => return Err(format!("python3 is not installed: {e}")),
    }
    let v = run_reader(
        Command::new("python3")
            .arg(interop_dir().join("hlog_read.py"))
            .arg(hlog),
    )?;
    Ok(Reading::from_json(&v))
}

/// Checks `other` against latlab's reading of the same file; returns the rank each percentile
/// of `other` was taken at.
fn compare(ours: &Reading, other: &Reading, rule: Rule) -> Vec<u64> {
    let who = &other.reader;
    assert!(
        (other.start_time_sec - ours.start_time_sec).abs() < 1e-6,
        "{who}: StartTime {} vs latlab's {}",
        other.start_time_sec,
        ours.start_time_sec
    );
    assert_eq!(
        other.intervals.len(),
        ours.intervals.len(),
        "{who}: number of intervals"
    );
    for (i, (o, l)) in other.intervals.iter().zip(&ours.intervals).enumerate() {
        assert_eq!(o.count, l.count, "{who}: count of interval {i}");
        assert_eq!(o.max, l.max, "{who}: max of interval {i}");
        // Timestamps have millisecond precision in the log; readers convert through floats
        // (Java also truncates to whole ms).
        assert!(
            (o.start_ms - l.start_ms).abs() <= 1.0 && (o.end_ms - l.end_ms).abs() <= 1.0,
            "{who}: interval {i} spans {}..{} ms, latlab {}..{}",
            o.start_ms,
            o.end_ms,
            l.start_ms,
            l.end_ms
        );
    }
    assert_eq!(other.total, ours.total, "{who}: total count");
    assert_eq!(other.min, ours.min, "{who}: min");
    assert_eq!(other.max, ours.max, "{who}: max");
    if other.buckets != ours.buckets {
        let diff: Vec<_> = other
            .buckets
            .iter()
            .map(|(v, c)| (*v, Some(*c), ours.buckets.get(v).copied()))
            .chain(
                ours.buckets
                    .iter()
                    .filter(|(v, _)| !other.buckets.contains_key(v))
                    .map(|(v, c)| (*v, None, Some(*c))),
            )
            .filter(|(_, a, b)| a != b)
            .take(20)
            .collect();
        panic!("{who}: buckets differ from latlab's (value, theirs, ours): {diff:?}");
    }
    check_percentiles(&other.percentiles, &ours.buckets, ours.total, rule, who)
}

/// Each percentile must be the value at the rank `rule` gives, and within one rank of exact.
fn check_percentiles(
    got: &BTreeMap<String, u64>,
    buckets: &BTreeMap<u64, u64>,
    n: u64,
    rule: Rule,
    who: &str,
) -> Vec<u64> {
    let mut ranks = Vec::new();
    for (key, percent, quantile, hundredths) in PERCENTILES {
        let value = *got
            .get(key)
            .unwrap_or_else(|| panic!("{who}: no p{key} in {got:?}"));
        let exact = exact_rank(hundredths, n);
        let rank = rule.rank(percent, quantile, n);
        assert!(
            rank.abs_diff(exact) <= 1,
            "{who}: the {rule:?} rule takes p{key} of {n} at rank {rank}, exact is {exact}"
        );
        assert_eq!(
            value,
            value_at_rank(buckets, rank),
            "{who}: p{key} of {n} samples: {value}, but the {rule:?} rule's rank {rank} holds {} (exact rank {exact} holds {})",
            value_at_rank(buckets, rank),
            value_at_rank(buckets, exact)
        );
        let (lo, hi) = rank_span(buckets, value)
            .unwrap_or_else(|| panic!("{who}: p{key} = {value} is no bucket's value"));
        assert!(
            lo < exact + 1 && hi + 1 >= exact,
            "{who}: p{key} = {value} holds ranks {}..={hi}, more than one rank from {exact}",
            lo + 1
        );
        ranks.push(rank);
    }
    ranks
}

/// Reads `hlog` with latlab and every available independent reader and compares them.
/// Returns latlab's reading and stats, and each independent reader's percentile ranks.
fn cross_check(hlog: &Path) -> (Reading, Stats, Vec<(Rule, Vec<u64>)>) {
    let (ours, stats) = latlab_reading(hlog);
    let own_ranks = check_percentiles(
        &ours.percentiles,
        &ours.buckets,
        ours.total,
        Rule::Rust,
        &ours.reader,
    );
    let mut ranks = vec![(Rule::Rust, own_ranks)];
    for (rule, reading) in [
        (Rule::Java, java_reading(hlog)),
        (Rule::Python, python_reading(hlog)),
    ] {
        match reading {
            Ok(r) => {
                eprintln!(
                    "{}: {} intervals, {} samples, {} buckets, percentiles {:?}: same as latlab",
                    r.reader,
                    r.intervals.len(),
                    r.total,
                    r.buckets.len(),
                    r.percentiles
                );
                ranks.push((rule, compare(&ours, &r, rule)));
            }
            Err(reason) => skip(&format!("{rule:?} reader: {reason}")),
        }
    }
    (ours, stats, ranks)
}

#[test]
fn synthetic_hlog_reads_the_same_in_java_python_and_latlab() {
    const S: u64 = 1_000_000_000;
    let mut r = LatencyRecorder::new(Duration::from_secs(1));
    // Interval 0 (0 s – 1 s): the lowest value, 0 (clamped to 1), and 3,001 distinct small
    // values spanning the exact (width-1) and the first coarser buckets.
    r.record(1);
    r.record(0);
    for i in 1..=3001u64 {
        r.record(i * 7);
    }
    r.tick(S);
    // Interval 1 (1 s – 2.005 s): many equal values.
    for _ in 0..5000 {
        r.record(1_000_000);
    }
    r.tick(2 * S + 5_000_000);
    // Interval 2 (2.005 s – 3.005 s): nothing recorded, but the interval is closed and logged.
    r.tick(3 * S + 5_000_000);
    // Interval 3 (3.005 s – 4.25 s): 1,500 values growing geometrically from 1 µs to 6.4 s, a
    // large odd value, the top of the range (1 h), and u64::MAX (clamped to the top).
    let mut v = 1_000.0f64;
    for _ in 0..1500 {
        r.record(v as u64);
        v *= 1.0105;
    }
    r.record(MAX_NS);
    r.record(u64::MAX);
    r.record(123_456_789_012);
    let total = r.finish(4 * S + 250_000_000).clone();
    let n = 2 + 3001 + 5000 + 1500 + 3;
    assert_eq!(total.len(), n);
    let ivs = r.intervals().to_vec();
    assert_eq!(
        ivs.iter().map(|i| i.count).collect::<Vec<_>>(),
        [3003, 5000, 0, 1503]
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.hlog");
    // 2025-11-24T16:00:00.123Z: a start time with milliseconds.
    let start_unix_ns = 1_764_000_000_123_000_000;
    write_hlog(
        &path,
        start_unix_ns,
        "latlab interop test: synthetic values in ns",
        &ivs,
    )
    .unwrap();

    let (ours, stats, ranks) = cross_check(&path);
    assert_eq!(stats, Stats::of(&total), "the log holds what was recorded");
    assert_eq!(ours.start_time_sec, 1_764_000_000.123);
    assert_eq!(ours.min, 1);
    assert!(ours.max >= MAX_NS, "{}", ours.max);
    assert_eq!(ours.buckets.get(&1), Some(&2), "1 and the clamped 0");
    let expected_starts = [0.0, 1000.0, 2005.0, 3005.0];
    for (iv, s) in ours.intervals.iter().zip(expected_starts) {
        assert!(
            (iv.start_ms - (1_764_000_000_123.0 + s)).abs() < 0.01,
            "{iv:?}"
        );
    }
    // The data are chosen so that the three rules disagree somewhere: the comparison above
    // really exercised the one-rank tolerance.
    let rust = &ranks[0].1;
    for (rule, r) in &ranks[1..] {
        eprintln!("ranks: {:?} {r:?} vs Rust {rust:?}", rule);
    }
    if let Some((_, py)) = ranks.iter().find(|(rule, _)| *rule == Rule::Python) {
        assert_ne!(
            py, rust,
            "the synthetic data no longer make the Python and Rust rules differ"
        );
    }
}

/// A free UDP port on loopback (bound, then released).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `latlab reflect` child process, killed when dropped.
struct Reflector {
    child: Child,
}

impl Reflector {
    fn start(port: u16) -> Reflector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_latlab"))
            .args([
                "reflect",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--duration",
                "60s",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn latlab reflect");
        // It says where it listens once the socket is bound; keep draining stderr after that.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut r = Reflector { child };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.contains(&format!("127.0.0.1:{port}")) => {}
            other => {
                let _ = r.child.kill();
                panic!("latlab reflect did not start: {other:?}");
            }
        }
        r
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn probe_hlog_reads_the_same_in_java_python_and_latlab_and_matches_the_summary() {
    let port = free_udp_port();
    let _reflector = Reflector::start(port);
    let out_dir = tempfile::tempdir().unwrap();
    let out = output_within(
        Command::new(env!("CARGO_BIN_EXE_latlab"))
            .args([
                "probe",
                "rtt",
                "--target",
                &format!("127.0.0.1:{port}"),
                "--count",
                "20000",
                "--interval",
                "100ms",
                "--json",
                "--out",
            ])
            .arg(out_dir.path()),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("probe --json prints JSON");
    let run_dir = PathBuf::from(printed["run_dir"].as_str().expect("run_dir"));
    let probe = &printed["probe"];
    let hlog = run_dir.join(probe["hlog"].as_str().expect("probe.hlog"));
    assert_eq!(probe["received"], 20000, "{probe}");

    let (ours, stats, _) = cross_check(&hlog);

    // The summary latlab printed and the one in summary.json are what the .hlog holds.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    let in_file = summary["probes"]
        .as_array()
        .expect("summary.probes")
        .iter()
        .find(|p| p["name"] == probe["name"])
        .expect("the probe in summary.json");
    let from_hlog: Value = serde_json::to_value(stats).unwrap();
    for (what, rtt) in [("stdout", &probe["rtt"]), ("summary.json", &in_file["rtt"])] {
        for key in [
            "count", "min", "p50", "p90", "p99", "p99.9", "p99.99", "max",
        ] {
            assert_eq!(
                rtt[key], from_hlog[key],
                "{what}: rtt.{key} differs from the .hlog's"
            );
        }
        let (a, b) = (rtt["mean"].as_f64().unwrap(), stats.mean);
        assert!((a - b).abs() <= 1e-9 * b, "{what}: rtt.mean {a} vs {b}");
    }
    assert_eq!(ours.total, 20000);
    assert!(
        ours.intervals.len() >= 2,
        "a 100 ms interval log of a 20,000-probe run has several intervals: {:?}",
        ours.intervals
    );
}
