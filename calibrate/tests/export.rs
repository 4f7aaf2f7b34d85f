//! Exporters: golden files on a fixed, hand-built result; refusals where the target would
//! reject the config; and every target's natural format rendered from a real calibration.
//!
//! Golden files live in `tests/golden/`, with `@VERSION@` standing for latlab's version.
//! `LATLAB_BLESS=1 cargo test -p latlab-calibrate --test export` rewrites them.

use std::path::PathBuf;

use latlab_calibrate::clock::{ClockBounds, Lease};
use latlab_calibrate::export::{default_exporter, exporter, exporters, ExportError};
use latlab_calibrate::phi::{AkkaPhi, AkkaSettings, CassandraPhi};
use latlab_calibrate::rpc::{Hedge, PercentileTimeout, RpcTimeouts, RtoTimeout};
use latlab_calibrate::{
    calibrate, CalibrationInput, CalibrationResult, ClockOffsetSummary, CockroachOffset,
    Derivation, HashicorpExtras, Options, RaftTiming, Target, WeightedPoint, LATLAB_VERSION,
};

fn derivation(name: &str) -> Derivation {
    Derivation {
        parameter: name.into(),
        measured: vec![],
        model: "fixture".into(),
        target: "fixture".into(),
        formula: "fixture".into(),
        result: vec![],
        false_positive_rate_per_hour: None,
        false_positive_probability: None,
        detection_latency_ns: None,
        evidence: None,
        notes: vec![],
    }
}

/// A result with round numbers: h = 10 ms, E = 70 ms, tick 10 ms.
fn fixture() -> CalibrationResult {
    CalibrationResult {
        latlab_version: LATLAB_VERSION.into(),
        source_run: "results/fixture-run".into(),
        target: Target::Generic,
        budget_per_hour: 1e-4,
        raft: Some(RaftTiming {
            heartbeat_interval_ms: 10,
            heartbeat_interval_ns: 10e6,
            election_timeout_ms: 70,
            tick_ms: 10,
            spurious_elections_per_hour: 2.5e-5,
            spurious_elections_per_hour_expected: 1.25e-7,
            detection_ns: 83.5e6,
            expected_failover_ns: 95.25e6,
            derivation: derivation("raft"),
        }),
        hashicorp: Some(HashicorpExtras {
            leader_lease_timeout_ms: 35,
            commit_timeout_ms: 7,
            step_downs_per_hour: 3e-6,
            derivation: derivation("hashicorp"),
        }),
        akka: Some(AkkaPhi {
            settings: AkkaSettings::default(),
            threshold: 8.0,
            mean_ns: 4e9,
            std_ns: 1e8,
            suspect_after_ns: 4.52e9,
            false_suspicions_per_hour: 0.0,
            detection_ns: 4.0205e9,
            derivation: derivation("akka"),
        }),
        cassandra: Some(CassandraPhi {
            gossip_interval_ms: 1000,
            phi_convict_threshold: 5.25,
            mean_ns: 1e9,
            convict_after_ns: 12.088e9,
            false_suspicions_per_hour: 1.5e-9,
            detection_ns: 11.5885e9,
            derivation: derivation("cassandra"),
        }),
        rpc: RpcTimeouts {
            rto: RtoTimeout {
                rto_ns: 1.5e6,
                spurious_probability: 1e-3,
                derivation: derivation("rto"),
            },
            percentile: PercentileTimeout {
                timeout_ns: 4e6,
                false_timeout_probability: 2e-6,
                derivation: derivation("percentile"),
            },
            hedge: Hedge {
                delay_ns: 0.75e6,
                extra_load: 0.05,
                p99_ns: (1.5e6, 1.0e6),
                p999_ns: (2.0e6, 1.25e6),
                derivation: derivation("hedge"),
            },
        },
        clock: Some(ClockBounds {
            offset_bound_ns: 50e3,
            asymmetry_ns: 50e3,
            drift_ns: 6e6,
            epsilon_ns: 6.1e6,
            epsilon_mean_ns: 3.1e6,
            commit_wait_ns: 12.2e6,
            commit_wait_mean_ns: 6.2e6,
            exceed_probability: 1e-3,
            drift_ppm: 200.0,
            derivation: derivation("clock"),
        }),
        lease: Some(Lease {
            duration_ms: 60,
            margin_ns: 12e3,
            holder_stops_at_ns: 59.988e6,
            derivation: derivation("lease"),
        }),
        cockroach: Some(CockroachOffset {
            max_offset_ms: 8,
            derivation: derivation("cockroach"),
        }),
        warnings: vec!["fixture warning".into()],
    }
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"))
}

#[test]
fn golden_outputs() {
    let r = fixture();
    let bless = std::env::var_os("LATLAB_BLESS").is_some();
    for e in exporters() {
        let got = e
            .render(&r)
            .unwrap_or_else(|err| panic!("{}: {err}", e.name()));
        let path = golden_path(e.name());
        if bless {
            std::fs::write(&path, got.replace(LATLAB_VERSION, "@VERSION@")).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            .replace("@VERSION@", LATLAB_VERSION);
        assert_eq!(got, want, "{} differs from {}", e.name(), path.display());
        // Every output names the run and the version, except the flags, which must splice
        // into a command line.
        if e.name() == "etcd-flags" {
            assert!(!got.contains('#') && got.lines().count() == 1, "{got}");
            continue;
        }
        assert!(got.contains("results/fixture-run"), "{}", e.name());
        assert!(
            got.contains(&format!("latlab {LATLAB_VERSION}")),
            "{}",
            e.name()
        );
    }
}

#[test]
fn structured_outputs_parse() {
    let r = fixture();
    let json: serde_json::Value =
        serde_json::from_str(&exporter("json").unwrap().render(&r).unwrap()).unwrap();
    assert_eq!(json["election_timeout_ms"], 70);
    assert_eq!(json["source_run"], "results/fixture-run");
    let t: toml::Table = exporter("toml")
        .unwrap()
        .render(&r)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(t["heartbeat_interval_ms"].as_integer(), Some(10));
    let tikv: toml::Table = exporter("tikv")
        .unwrap()
        .render(&r)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        tikv["raftstore"]["raft-election-timeout-ticks"].as_integer(),
        Some(7)
    );
}

fn rejected(name: &str, r: &CalibrationResult) -> String {
    match exporter(name).unwrap().render(r) {
        Err(e @ ExportError::Rejected { .. }) => e.to_string(),
        other => panic!("{name}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn etcd_rules_are_enforced() {
    let mut r = fixture();
    r.raft.as_mut().unwrap().election_timeout_ms = 40; // < 5 × 10
    for f in ["etcd-flags", "etcd-yaml"] {
        assert!(rejected(f, &r).contains("at least 5 × heartbeat-interval"));
    }
    r.raft.as_mut().unwrap().election_timeout_ms = 50_010;
    assert!(rejected("etcd-yaml", &r).contains("maximum of 50000"));
    r.raft.as_mut().unwrap().election_timeout_ms = 75;
    assert!(rejected("etcd-flags", &r).contains("would cut 75 ms to 70 ms"));
    r.raft.as_mut().unwrap().heartbeat_interval_ms = 0;
    assert!(rejected("etcd-flags", &r).contains("must be positive"));
    r.raft = None;
    assert!(matches!(
        exporter("etcd-flags").unwrap().render(&r),
        Err(ExportError::Missing { .. })
    ));
}

#[test]
fn hashicorp_rules_are_enforced() {
    let mut r = fixture();
    r.hashicorp.as_mut().unwrap().leader_lease_timeout_ms = 80;
    assert!(rejected("hashicorp-raft", &r).contains("cannot be larger than HeartbeatTimeout"));
    r.hashicorp.as_mut().unwrap().leader_lease_timeout_ms = 4;
    assert!(
        rejected("hashicorp-raft", &r).contains("LeaderLeaseTimeout (4 ms) is under the minimum")
    );
    r.hashicorp.as_mut().unwrap().leader_lease_timeout_ms = 5;
    r.hashicorp.as_mut().unwrap().commit_timeout_ms = 0;
    assert!(rejected("hashicorp-raft", &r).contains("CommitTimeout"));
    r.hashicorp.as_mut().unwrap().commit_timeout_ms = 1;
    r.raft.as_mut().unwrap().election_timeout_ms = 4;
    assert!(rejected("hashicorp-raft", &r).contains("HeartbeatTimeout (4 ms)"));
}

#[test]
fn tikv_and_cockroach_rules_are_enforced() {
    let mut r = fixture();
    r.raft.as_mut().unwrap().election_timeout_ms = 75;
    assert!(rejected("tikv", &r).contains("whole number"));
    assert!(rejected("cockroachdb", &r).contains("whole number"));
    r.raft.as_mut().unwrap().election_timeout_ms = 10;
    assert!(rejected("tikv", &r).contains("must be greater than heartbeat tick"));
    assert!(rejected("cockroachdb", &r).contains("must be greater than heartbeat ticks"));
    r.raft.as_mut().unwrap().election_timeout_ms = 160_000;
    assert!(rejected("tikv", &r).contains("peer-stale-state-check-interval"));
    // The lease is capped at E − tick.
    let mut r = fixture();
    r.lease.as_mut().unwrap().holder_stops_at_ns = 500e6;
    let out = exporter("tikv").unwrap().render(&r).unwrap();
    assert!(
        out.contains("raft-store-max-leader-lease = \"60ms\""),
        "{out}"
    );
    // Without clock data CockroachDB's export says so rather than inventing --max-offset.
    r.cockroach = None;
    let out = exporter("cockroachdb").unwrap().render(&r).unwrap();
    assert!(out.contains("--max-offset not derived"), "{out}");
}

#[test]
fn cassandra_and_akka_rules_are_enforced() {
    let mut r = fixture();
    r.cassandra.as_mut().unwrap().phi_convict_threshold = 17.0;
    assert!(rejected("cassandra", &r).contains("between 5 and 16, but was 17"));
    r.cassandra.as_mut().unwrap().phi_convict_threshold = 4.99;
    assert!(rejected("cassandra", &r).contains("between 5 and 16"));
    r.cassandra.as_mut().unwrap().phi_convict_threshold = 8.0;
    r.cassandra.as_mut().unwrap().gossip_interval_ms = 500;
    assert!(rejected("cassandra", &r).contains("gossips every 1000 ms"));
    r.akka.as_mut().unwrap().threshold = 0.0;
    assert!(rejected("akka", &r).contains("must be positive"));
}

#[test]
fn source_run_cannot_break_out_of_the_comment() {
    let mut r = fixture();
    r.source_run = "run\n--election-timeout=1".into();
    let out = exporter("etcd-flags").unwrap().render(&r).unwrap();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("--")).count(),
        1,
        "{out}"
    );
}

/// 100 000 RTT samples, 0.5–1.3 ms, with clock offsets.
fn measured() -> CalibrationInput {
    let rtt: Vec<WeightedPoint> = (0..800)
        .map(|i| WeightedPoint::new(500e3 + i as f64 * 1e3, 125))
        .collect();
    CalibrationInput {
        source_run: "results/measured".into(),
        rtt: Some(rtt),
        loss_probability: 1e-3,
        clock_offset: Some(ClockOffsetSummary {
            mean_ns: 3e3,
            stddev_ns: 4e3,
            min_ns: -12e3,
            max_ns: 21e3,
            count: 50_000,
        }),
        sample_duration_s: Some(100.0),
        ..CalibrationInput::default()
    }
}

#[test]
fn every_target_exports_its_natural_format() {
    for t in Target::ALL {
        let r = calibrate(&measured(), t, &Options::default()).unwrap();
        let e = default_exporter(t);
        let out = e
            .render(&r)
            .unwrap_or_else(|err| panic!("{t} via {}: {err}", e.name()));
        assert!(out.contains("results/measured"), "{t}");
        assert!(out.ends_with('\n'));
    }
    // etcd's flags from a real etcd calibration.
    let r = calibrate(&measured(), Target::Etcd, &Options::default()).unwrap();
    let raft = r.raft.as_ref().unwrap();
    let flags = exporter("etcd-flags").unwrap().render(&r).unwrap();
    assert!(flags.contains(&format!(
        "--heartbeat-interval={} --election-timeout={}",
        raft.heartbeat_interval_ms, raft.election_timeout_ms
    )));
    // Cassandra's natural format from an Akka calibration is missing, not invented.
    let r = calibrate(&measured(), Target::Akka, &Options::default()).unwrap();
    assert!(matches!(
        exporter("cassandra").unwrap().render(&r),
        Err(ExportError::Missing { .. })
    ));
}
