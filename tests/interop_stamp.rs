//! latlab's STAMP packets (RFC 8762 unauthenticated, RFC 8972 SSID) against code latlab did not
//! write:
//!
//! * scapy's STAMP layer (`scapy.contrib.stamp`) as a Session-Sender towards `latlab reflect`
//!   (`scripts/interop/stamp_sender.py`), and as a Session-Reflector for `latlab probe rtt`
//!   (`scripts/interop/stamp_reflector.py`). The scripts build and dissect packets with scapy
//!   and print what they saw as JSON; this file judges.
//! * Wireshark's TWAMP-Test dissector (tshark; Debian's tshark 4.0 has no STAMP dissector, and
//!   STAMP's unauthenticated reflector packet is TWAMP-Test's with the SSID where TWAMP has
//!   its first MBZ), on a loopback capture of a probe run, against the kernel's capture times
//!   and latlab's own summary.
//!
//! A missing tool skips its test with the reason printed, or fails it under
//! `LATLAB_REQUIRE_TOOLS=1` (scripts/test-deps.sh installs them).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{output_within, skip};
use latlab_probes::record::{new_histogram, record_ns, Stats};
use serde_json::Value;

const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/interop")
        .join(name)
}

/// Whether python3 with scapy's STAMP layer is here; prints why not and returns false if not.
fn have_scapy() -> bool {
    match Command::new("python3")
        .args(["-c", "import scapy.contrib.stamp"])
        .output()
    {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            skip(&format!(
                "python3 cannot import scapy.contrib.stamp (pip install scapy): {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
            false
        }
        Err(e) => {
            skip(&format!("python3 is not installed: {e}"));
            false
        }
    }
}

/// The raw 64-bit NTP timestamp as ns since the Unix epoch (era 0, fraction floored).
fn ntp_to_unix_ns(raw: u64) -> u64 {
    let secs = (raw >> 32) - NTP_UNIX_OFFSET_S;
    secs * 1_000_000_000 + (((raw & 0xffff_ffff) * 1_000_000_000) >> 32)
}

/// `b − a` of two raw NTP timestamps in ns, as latlab's and RFC 8762's arithmetic has it.
fn ntp_diff_ns(b: u64, a: u64) -> i64 {
    ((b.wrapping_sub(a) as i64 as i128 * 1_000_000_000) >> 32) as i64
}

fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn ip_default_ttl() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(64)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a UDP socket is bound to `port` (from /proc/net/udp).
fn udp_port_bound(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    std::fs::read_to_string("/proc/net/udp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| format!("{a} ").ends_with(&needle))
        })
    })
}

/// Sends SIGINT to a child (by its pid) and waits up to `limit` for it to exit, then kills it.
fn interrupt_and_collect(mut child: Child, limit: Duration) -> Output {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    child.wait_with_output().unwrap()
}

/// A `latlab reflect --json` child process, killed when dropped.
struct Reflector {
    child: Option<Child>,
}

impl Reflector {
    fn start(port: u16) -> Reflector {
        let child = Command::new(env!("CARGO_BIN_EXE_latlab"))
            .args([
                "reflect",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--duration",
                "60s",
                "--json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn latlab reflect");
        let mut r = Reflector { child: Some(child) };
        let started = Instant::now();
        while !udp_port_bound(port) {
            let c = r.child.as_mut().unwrap();
            if c.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(10) {
                let out = interrupt_and_collect(r.child.take().unwrap(), Duration::from_secs(1));
                panic!(
                    "latlab reflect did not bind 127.0.0.1:{port}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    /// Stops the reflector (Ctrl-C) and returns the counters it prints.
    fn stop(mut self) -> Value {
        let out = interrupt_and_collect(self.child.take().unwrap(), Duration::from_secs(10));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "latlab reflect --json printed no counters ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn run_probe(port: u16, extra: &[&str], out_dir: &Path) -> Value {
    let out = output_within(
        Command::new(env!("CARGO_BIN_EXE_latlab"))
            .args(["probe", "rtt", "--target", &format!("127.0.0.1:{port}")])
            .args(extra)
            .arg("--json")
            .arg("--out")
            .arg(out_dir),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "latlab probe rtt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("probe --json prints JSON")
}

fn error_estimate_seconds(ee: &Value) -> f64 {
    let (scale, mult) = (u(&ee[2]) as i32, u(&ee[3]) as f64);
    mult * 2f64.powi(scale - 32)
}

#[test]
fn scapy_sender_gets_rfc_replies_from_latlab_reflect() {
    if !have_scapy() {
        return;
    }
    let port = free_udp_port();
    let reflector = Reflector::start(port);
    let count = 20;
    let out = output_within(
        Command::new("python3")
            .arg(script("stamp_sender.py"))
            .args([
                "127.0.0.1",
                &port.to_string(),
                "--count",
                &count.to_string(),
            ])
            .args(["--ssid", "4242", "--first-seq", "1000"]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "stamp_sender.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stamp_sender.py prints JSON");
    let counters = reflector.stop();

    let probes = v["probes"].as_array().unwrap();
    assert_eq!(probes.len(), count);
    let mut all = probes.clone();
    all.push(v["padded"].clone());
    for (i, p) in all.iter().enumerate() {
        // The padded probe follows the malformed one, which took sequence number 1000 + count.
        let seq = 1000 + i as u64 + u64::from(i == count);
        assert_eq!(u(&p["seq"]), seq, "scapy built the sequence number: {p}");
        assert_eq!(u(&p["ssid"]), 4242);
        let r = &p["reply"];
        assert!(r.is_object(), "no reply to probe {seq}: {p}");
        assert_eq!(r["len"], p["len"], "reply length = request length: {p}");
        assert_eq!(
            u(&r["seq"]),
            seq,
            "stateless reflector copies the sequence number"
        );
        assert_eq!(u(&r["sender_seq"]), seq, "Session-Sender Sequence Number");
        assert_eq!(
            r["sender_t1"], p["t1"],
            "Session-Sender Timestamp, bit for bit"
        );
        assert_eq!(r["sender_ee"], p["ee"], "Session-Sender Error Estimate");
        assert_eq!(u(&r["ssid"]), 4242, "SSID");
        assert_eq!(
            r["sender_ttl"], p["ttl"],
            "Ses-Sender TTL is the request's IP TTL"
        );
        assert_eq!((u(&r["mbz1"]), u(&r["mbz2"])), (0, 0), "MBZ fields: {r}");
        let ee = &r["ee"];
        assert_eq!(
            u(&ee[1]),
            0,
            "reflector timestamps are NTP format (Z=0): {ee}"
        );
        assert!(u(&ee[3]) >= 1, "RFC 4656: multiplier is never 0: {ee}");
        // t1 ≤ t2 ≤ t3 ≤ t4 on this host's clock, all in NTP era 0 and near now.
        let (t1, t2, t3) = (u(&p["t1"]), u(&r["t2"]), u(&r["t3"]));
        let t1_ns = u(&p["t1_unix_ns"]);
        let t4_ns = u(&p["t4_unix_ns"]);
        assert_eq!(ntp_to_unix_ns(t1) / 1000, t1_ns / 1000, "scapy's t1 is now");
        assert!(t1 <= t2 && t2 <= t3, "t1 {t1} ≤ t2 {t2} ≤ t3 {t3}");
        let (t2_ns, t3_ns) = (ntp_to_unix_ns(t2), ntp_to_unix_ns(t3));
        assert!(
            t3_ns <= t4_ns && t4_ns - t2_ns < 5_000_000_000,
            "t2 {t2_ns} ≤ t3 {t3_ns} ≤ t4 {t4_ns} ns"
        );
        assert!(
            t2_ns.abs_diff(unix_now_ns()) < 60_000_000_000,
            "t2 is today"
        );
    }
    // Both IP TTLs the sender used came back.
    let ttls: Vec<u64> = probes
        .iter()
        .map(|p| u(&p["reply"]["sender_ttl"]))
        .collect();
    assert!(ttls.contains(&255) && ttls.contains(&64), "{ttls:?}");

    let padded = &v["padded"]["reply"];
    assert_eq!(u(&padded["len"]), 100, "padded request, padded reply");
    let after = padded["after_44"].as_str().unwrap();
    assert_eq!(after.len(), 2 * 56);
    assert!(
        after.chars().all(|c| c == '0'),
        "latlab zeroes the reply after byte 44 (it reflects no TLVs): {after}"
    );
    assert_eq!(
        v["short_reply_len"],
        Value::Null,
        "a 20-byte request gets no reply"
    );

    assert_eq!(u(&counters["received"]), count as u64 + 2, "{counters}");
    assert_eq!(u(&counters["reflected"]), count as u64 + 1, "{counters}");
    assert_eq!(u(&counters["malformed"]), 1, "{counters}");
}

#[test]
fn latlab_probe_sends_rfc_packets_to_a_scapy_reflector() {
    if !have_scapy() {
        return;
    }
    let mut refl = Command::new("python3")
        .arg(script("stamp_reflector.py"))
        .args([
            "--count",
            "50",
            "--max-seconds",
            "30",
            "--idle-seconds",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stamp_reflector.py");
    let stdout = refl.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let port = lines.next().and_then(Result::ok);
        let _ = tx.send(port);
        lines.map_while(Result::ok).collect::<Vec<_>>().join("\n")
    });
    let port: u16 = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Some(p)) => p
            .trim()
            .parse()
            .expect("stamp_reflector.py prints its port"),
        other => {
            let _ = refl.kill();
            let out = refl.wait_with_output().unwrap();
            panic!(
                "stamp_reflector.py did not start ({other:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    let out_dir = tempfile::tempdir().unwrap();
    let printed = run_probe(
        port,
        &[
            "--count",
            "50",
            "--warmup",
            "0",
            "--give-up",
            "2s",
            "--ssid",
            "777",
        ],
        out_dir.path(),
    );
    let started = Instant::now();
    while refl.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(35) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if refl.try_wait().unwrap().is_none() {
        let _ = refl.kill();
    }
    let status = refl.wait().unwrap();
    let text = reader.join().unwrap();
    assert!(status.success(), "stamp_reflector.py: {status}");
    let v: Value = serde_json::from_str(&text).expect("stamp_reflector.py prints JSON");

    let p = &printed["probe"];
    assert_eq!(
        (
            u(&p["sent"]),
            u(&p["received"]),
            u(&p["lost"]),
            u(&p["malformed"])
        ),
        (50, 50, 0, 0),
        "latlab accepts scapy's reflector packets: {p}"
    );

    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 50, "{v}");
    let now = unix_now_ns();
    let ttl = ip_default_ttl();
    let mut residence = new_histogram();
    let mut prev_t1 = 0;
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(
            u(&r["len"]),
            44,
            "default size is the bare STAMP packet: {r}"
        );
        assert_eq!(
            u(&r["seq"]),
            i as u64,
            "sequence numbers from 0, one by one"
        );
        assert_eq!(u(&r["ssid"]), 777, "SSID from --ssid");
        assert_eq!(u(&r["mbz"]), 0, "the 28 MBZ bytes are zero");
        assert_eq!(u(&r["ttl"]), ttl, "sent with the default IP TTL");
        let ee = &r["ee"];
        assert_eq!((u(&ee[0]), u(&ee[1])), (0, 0), "S=0, Z=0 (NTP): {ee}");
        let err = error_estimate_seconds(ee);
        assert!((1e-6..1.01e-6).contains(&err), "about 1 µs: {err}");
        let (t1, t2, t3) = (u(&r["t1"]), u(&r["t2"]), u(&r["t3"]));
        assert!(t1 > prev_t1, "t1 increases");
        prev_t1 = t1;
        assert!(t1 <= t2 && t2 <= t3, "t1 {t1} ≤ t2 {t2} ≤ t3 {t3}");
        let t1_ns = ntp_to_unix_ns(t1);
        assert!(
            t1_ns < now && now - t1_ns < 60_000_000_000,
            "t1 is an NTP era-0 time from the last minute: {t1_ns} vs now {now}"
        );
        record_ns(&mut residence, ntp_diff_ns(t3, t2) as u64);
    }
    // latlab's reflector residence is t3 − t2 from scapy's packets, exactly.
    let want = serde_json::to_value(Stats::of(&residence)).unwrap();
    let got = &p["reflector_residence"];
    for key in ["count", "min", "p50", "p90", "p99", "max"] {
        assert_eq!(
            got[key], want[key],
            "reflector_residence.{key}: {got} vs {want}"
        );
    }
    // One clock on both sides: |offset| = |(t2 − t1) − (t4 − t3)| / 2 ≤ RTT / 2.
    let off = &p["clock_offset"];
    let half_rtt = u(&p["rtt"]["max"]) as i64 / 2 + 100_000;
    let (lo, hi) = (off["min"].as_i64().unwrap(), off["max"].as_i64().unwrap());
    assert!(
        lo >= -half_rtt && hi <= half_rtt,
        "clock offset {lo}..{hi} ns beyond half the RTT {half_rtt}"
    );
}

/// Parses tshark's absolute time, e.g. `Nov 25, 2026 14:00:16.943407142 UTC`, into Unix ns.
fn parse_tshark_time(s: &str) -> u64 {
    let f: Vec<&str> = s.split_whitespace().collect();
    assert!(
        f.len() == 5 && f[4] == "UTC",
        "unexpected time format {s:?}"
    );
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == f[0])
    .unwrap_or_else(|| panic!("month in {s:?}"))
        + 1;
    let day: u32 = f[1].trim_end_matches(',').parse().unwrap();
    let rfc3339 = format!("{}-{month:02}-{day:02}T{}Z", f[2], f[3]);
    humantime::parse_rfc3339(&rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// `1795614016.943407000` → ns.
fn parse_epoch(s: &str) -> u64 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    secs.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap()
}

const TSHARK_FIELDS: [&str; 16] = [
    "frame.time_epoch",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "twamp.test.seq_number",
    "twamp.test.timestamp",
    "twamp.test.error_estimate.s",
    "twamp.test.error_estimate.z",
    "twamp.test.error_estimate.scale",
    "twamp.test.error_estimate.multiplier",
    "twamp.test.mbz1",
    "twamp.test.receive_timestamp",
    "twamp.test.sender_seq_number",
    "twamp.test.sender_timestamp",
    "twamp.test.sender_error_estimate",
    "twamp.test.sender_ttl",
];

/// Starts tshark capturing `udp port PORT` on lo into `file`; `None` (after saying why) when
/// it cannot capture here.
fn start_capture(port: u16, file: &Path) -> Option<Child> {
    let mut child = match Command::new("tshark")
        .args(["-i", "lo", "-f", &format!("udp port {port}")])
        .arg("-w")
        .arg(file)
        .args(["-a", "duration:40"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            skip(&format!("tshark is not installed ({e})"));
            return None;
        }
    };
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    let mut said = Vec::new();
    while started.elapsed() < Duration::from_secs(15) {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("Capturing on") => return Some(child),
            Ok(line) => said.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    skip(&format!(
        "tshark cannot capture on lo (needs root or CAP_NET_RAW): {}",
        said.join(" / ")
    ));
    None
}

#[test]
fn tshark_decodes_a_latlab_probe_as_twamp_test() {
    if Command::new("tshark").arg("--version").output().is_err() {
        skip("tshark is not installed (apt-get install tshark)");
        return;
    }
    let port = free_udp_port();
    let _reflector = Reflector::start(port);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("probe.pcapng");
    let Some(capture) = start_capture(port, &pcap) else {
        return;
    };
    let printed = run_probe(
        port,
        &["--count", "300", "--warmup", "20", "--ssid", "777"],
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let cap = interrupt_and_collect(capture, Duration::from_secs(10));
    assert!(
        pcap.exists(),
        "tshark wrote no capture: {}",
        String::from_utf8_lossy(&cap.stderr)
    );

    let mut decode = Command::new("tshark");
    decode
        .arg("-r")
        .arg(&pcap)
        .args(["-d", &format!("udp.port=={port},twamp.test")])
        .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]);
    for f in TSHARK_FIELDS {
        decode.args(["-e", f]);
    }
    let out = output_within(&mut decode, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<BTreeMap<&str, &str>> = text
        .lines()
        .map(|l| TSHARK_FIELDS.iter().copied().zip(l.split('\t')).collect())
        .collect();

    let p = &printed["probe"];
    let (warmup, sent) = (u(&p["warmup"]), u(&p["sent"]));
    assert_eq!((warmup, sent, u(&p["received"])), (20, 300, 300), "{p}");
    let total = warmup + sent;
    assert_eq!(
        rows.len() as u64,
        2 * total,
        "one request and one reply per probe, warm-up included"
    );

    // The run's wall-clock window from the manifest (millisecond precision).
    let run_dir = PathBuf::from(printed["run_dir"].as_str().unwrap());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    let at = |k: &str| {
        humantime::parse_rfc3339(manifest[k].as_str().unwrap())
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    };
    let (run_start, run_end) = (at("started_at"), at("finished_at") + 1_000_000);

    let port_s = port.to_string();
    let num = |r: &BTreeMap<&str, &str>, k: &str| -> u64 {
        let s = r.get(k).copied().unwrap_or("");
        s.parse()
            .or_else(|_| u64::from_str_radix(s.trim_start_matches("0x"), 16))
            .unwrap_or_else(|_| panic!("{k} = {s:?} in {r:?}"))
    };
    let mut requests = BTreeMap::new();
    let mut replies = BTreeMap::new();
    for r in &rows {
        let seq = num(r, "twamp.test.seq_number");
        assert_eq!(num(r, "udp.length"), 8 + 44, "44-byte STAMP packets: {r:?}");
        assert_eq!(
            num(r, "twamp.test.mbz1"),
            777,
            "SSID, where TWAMP has MBZ: {r:?}"
        );
        let slot = if r["udp.dstport"] == port_s {
            &mut requests
        } else {
            assert_eq!(r["udp.srcport"], port_s);
            &mut replies
        };
        assert!(slot.insert(seq, r.clone()).is_none(), "seq {seq} twice");
    }
    let seqs: Vec<u64> = (0..total).collect();
    assert_eq!(requests.keys().copied().collect::<Vec<_>>(), seqs);
    assert_eq!(replies.keys().copied().collect::<Vec<_>>(), seqs);

    let ttl = ip_default_ttl();
    let mut residence = new_histogram();
    for (seq, req) in &requests {
        let rep = &replies[seq];
        // The sender's error estimate: S=0, Z=0, about 1 µs.
        assert_eq!(req["twamp.test.error_estimate.s"], "0", "{req:?}");
        assert_eq!(req["twamp.test.error_estimate.z"], "0", "{req:?}");
        let err = num(req, "twamp.test.error_estimate.multiplier") as f64
            * 2f64.powi(num(req, "twamp.test.error_estimate.scale") as i32 - 32);
        assert!((1e-6..1.01e-6).contains(&err), "{err} s: {req:?}");

        assert_eq!(num(rep, "twamp.test.sender_seq_number"), *seq);
        assert_eq!(num(rep, "twamp.test.sender_ttl"), ttl, "{rep:?}");
        assert_eq!(
            rep["twamp.test.sender_timestamp"], req["twamp.test.timestamp"],
            "the reply echoes t1"
        );
        assert_eq!(
            num(rep, "twamp.test.sender_error_estimate"),
            (num(req, "twamp.test.error_estimate.scale") << 8)
                | num(req, "twamp.test.error_estimate.multiplier"),
            "the reply echoes the sender's error estimate"
        );
        let t1 = parse_tshark_time(req["twamp.test.timestamp"]);
        let t2 = parse_tshark_time(rep["twamp.test.receive_timestamp"]);
        let t3 = parse_tshark_time(rep["twamp.test.timestamp"]);
        // The kernel's capture times (µs resolution) fall between the STAMP timestamps:
        // t1 (sender, before send) ≤ request on the wire ≤ t2 ≤ t3 ≤ reply on the wire.
        let us = 1_000;
        let f_req = parse_epoch(req["frame.time_epoch"]);
        let f_rep = parse_epoch(rep["frame.time_epoch"]);
        assert!(
            t1 <= f_req + us && f_req <= t2 + us && t2 <= t3 && t3 <= f_rep + us,
            "seq {seq}: t1 {t1} ≤ wire {f_req} ≤ t2 {t2} ≤ t3 {t3} ≤ wire {f_rep}"
        );
        assert!(
            run_start <= t1 && t3 <= run_end,
            "seq {seq}: {t1}..{t3} outside the run {run_start}..{run_end}"
        );
        if *seq >= warmup {
            record_ns(&mut residence, t3 - t2);
        }
    }
    // latlab's reflector residence (t3 − t2 of measured probes) is what tshark decoded, up to
    // tshark's rounding of each NTP fraction to whole nanoseconds.
    let ours = &p["reflector_residence"];
    let theirs = serde_json::to_value(Stats::of(&residence)).unwrap();
    assert_eq!(ours["count"], theirs["count"]);
    for key in ["min", "p50", "p90", "p99", "max"] {
        let (a, b) = (u(&ours[key]), u(&theirs[key]));
        assert!(
            a.abs_diff(b) <= 2 + b / 500,
            "reflector_residence.{key}: latlab {a}, tshark {b}"
        );
    }
}
