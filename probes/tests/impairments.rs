//! The probe's accounting against a scripted reflector: injected loss, duplicates, reordering,
//! lateness and malformed replies must come out as exactly those counts.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use latlab_probes::rtt::{self, Live, ReplyFormat, RttConfig, Schedule};
use latlab_probes::scripted::{Fate, Scripted};
use latlab_probes::Clock;

fn run(cfg: &RttConfig, script: Vec<(u32, Fate)>) -> rtt::Counters {
    let clock = Clock::best();
    let mut dp = Scripted::new(cfg.reply, script);
    let out = rtt::run(
        &mut dp,
        &clock,
        cfg,
        "scripted",
        &AtomicBool::new(false),
        &Live::default(),
    )
    .expect("probe runs");
    assert!(!out.interrupted);
    assert_eq!(out.rtt.total().len(), out.counters.received);
    out.counters
}

#[test]
fn open_loop_counts_each_impairment_exactly() {
    for reply in [ReplyFormat::Stamp, ReplyFormat::Echo] {
        let cfg = RttConfig {
            count: Some(4000),
            warmup: 10,
            schedule: Schedule::Constant { rate_hz: 20_000.0 },
            timeout: Duration::from_millis(50),
            reply,
            ..RttConfig::default()
        };
        // Sequence numbers include the 10 warm-up probes (0..10); impairments there must not
        // count.
        let script = vec![
            (3, Fate::Drop),
            (20, Fate::Drop),
            (30, Fate::Drop),
            (40, Fate::Duplicate),
            (41, Fate::Duplicate),
            (50, Fate::HoldFor(3)),
            (60, Fate::Truncate),
            (70, Fate::Delay(Duration::from_millis(120))),
        ];
        let c = run(&cfg, script);
        // 4000 probes at 20 kHz take 200 ms: the reply to 70 comes back 120 ms after it left,
        // during the run but after its 50 ms timeout.
        assert_eq!(c.sent, 4000, "{reply:?} {c:?}");
        assert_eq!(c.lost, 4, "{reply:?} {c:?}"); // 20, 30, truncated 60, late 70
        assert_eq!(c.received, 3996, "{reply:?} {c:?}");
        assert_eq!(c.duplicates, 2, "{reply:?} {c:?}");
        assert_eq!(c.reordered, 1, "{reply:?} {c:?}");
        assert_eq!(c.malformed, 1, "{reply:?} {c:?}");
        assert_eq!(c.late, 1, "{reply:?} {c:?}");
    }
}

#[test]
fn closed_loop_loss_and_late_replies() {
    let cfg = RttConfig {
        count: Some(200),
        warmup: 0,
        schedule: Schedule::Closed,
        timeout: Duration::from_millis(5),
        ..RttConfig::default()
    };
    let c = run(
        &cfg,
        vec![
            (5, Fate::Drop),
            (6, Fate::Delay(Duration::from_millis(8))),
            (100, Fate::Drop),
        ],
    );
    assert_eq!((c.sent, c.received, c.lost), (200, 197, 3), "{c:?}");
    // The delayed reply to 6 arrives during a later probe and is counted late, not reordered.
    assert_eq!((c.late, c.reordered, c.duplicates), (1, 0, 0), "{c:?}");
}

#[test]
fn a_silent_target_is_an_error_after_the_give_up_time() {
    let clock = Clock::best();
    let cfg = RttConfig {
        count: Some(1_000_000),
        timeout: Duration::from_millis(20),
        give_up_after: Duration::from_millis(200),
        ..RttConfig::default()
    };
    // Drop everything the probe can send before it gives up.
    let mut dp = Scripted::new(ReplyFormat::Stamp, (0..100_000).map(|s| (s, Fate::Drop)));
    let t = std::time::Instant::now();
    let err = rtt::run(
        &mut dp,
        &clock,
        &cfg,
        "192.0.2.1:862",
        &AtomicBool::new(false),
        &Live::default(),
    )
    .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    let msg = err.to_string();
    assert!(msg.contains("no reply from 192.0.2.1:862"), "{msg}");
}

#[test]
fn stop_flag_ends_the_probe_and_marks_it_interrupted() {
    let clock = Clock::best();
    let cfg = RttConfig {
        count: None,
        duration: Some(Duration::from_secs(60)),
        warmup: 0,
        ..RttConfig::default()
    };
    let stop = AtomicBool::new(false);
    let mut dp = Scripted::new(ReplyFormat::Stamp, []);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        rtt::run(&mut dp, &clock, &cfg, "scripted", &stop, &Live::default()).unwrap()
    });
    assert!(out.interrupted);
    assert!(out.counters.sent > 0);
    assert_eq!(out.counters.sent, out.counters.received + out.counters.lost);
}

#[test]
fn configuration_errors_are_reported() {
    let clock = Clock::best();
    let mut dp = Scripted::new(ReplyFormat::Stamp, []);
    let small = RttConfig {
        size: 20,
        ..RttConfig::default()
    };
    let err = rtt::run(
        &mut dp,
        &clock,
        &small,
        "x",
        &AtomicBool::new(false),
        &Live::default(),
    );
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("below the STAMP packet"));
    let bad_rate = RttConfig {
        schedule: Schedule::Constant { rate_hz: 0.0 },
        ..RttConfig::default()
    };
    let err = rtt::run(
        &mut dp,
        &clock,
        &bad_rate,
        "x",
        &AtomicBool::new(false),
        &Live::default(),
    );
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("rate must be a positive number"));
}
