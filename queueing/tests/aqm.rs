//! Queue disciplines against hand-computed values, driven by a virtual clock.

use latlab_queueing::aqm::{
    codel_kernel, pie_kernel, Codel, CodelConfig, CodelVariant, DelayEstimator, Discipline,
    DisciplineConfig, DropReason, Dropped, FqCodelConfig, Limit, Packet, Pie, PieConfig,
    PieVariant, QueueMeasure, Red, RedConfig,
};
use latlab_queueing::sim::{simulate, ArrivalProcess, Scenario, Service, SizeSpec, Source, Stop};

/// Drives a discipline with a standing queue of `k` packets: at step `i` (time `time(i)`) one
/// packet is dequeued and one is enqueued. The packet meant to leave at step `j` carries the
/// arrival stamp `time(j) - sojourn(time(j))`, so the sojourn CoDel/PIE measure at dequeue is
/// whatever `sojourn` says (each head drop brings the schedule one step forward, a shift of
/// one step per drop, negligible here). Returns every drop, in order.
fn drive<D: Discipline>(
    d: &mut D,
    k: u64,
    steps: u64,
    size: u32,
    time: impl Fn(u64) -> f64,
    sojourn: impl Fn(f64) -> f64,
    mut after_step: impl FnMut(&D, u64),
) -> Vec<Dropped> {
    let mut drops = Vec::new();
    let pkt = |j: u64| {
        let t = time(j);
        Packet {
            id: j,
            flow: 0,
            size,
            arrival: t - sojourn(t),
        }
    };
    for j in 0..k {
        d.enqueue(pkt(j), time(0));
    }
    for i in 0..steps {
        let now = time(i);
        d.dequeue(now);
        drops.extend(d.drain_drops());
        d.enqueue(pkt(i + k), now);
        drops.extend(d.drain_drops());
        after_step(d, i);
    }
    drops
}

// ---------------------------------------------------------------------------------------------
// CoDel
// ---------------------------------------------------------------------------------------------

/// RFC 8289 CoDel with the sojourn persistently at 20 ms (> target 5 ms) from t = 0, dequeued
/// every microsecond.
///
/// `first_above_time` is set at the first dequeue (t = 0) to 0 + interval = 100 ms; at the
/// first dequeue with `now >= 100 ms` CoDel enters the dropping state, drops, sets count = 1 and
/// schedules the next drop by the control law `drop_next = now + interval / sqrt(count)`. In
/// the dropping state each drop increments count and schedules
/// `drop_next += interval / sqrt(count)`. So, measured from the drop that entered the dropping
/// state, the control-law drops fall at
///
/// ```text
/// 100                                   = 100.00 ms
/// 100 + 100/√2                          = 170.71 ms
/// 100 + 100/√2 + 100/√3                 = 228.45 ms
/// 100 + 100/√2 + 100/√3 + 100/√4        = 278.45 ms
/// 100 + 100/√2 + 100/√3 + 100/√4 + 100/√5 = 323.17 ms
/// ```
///
/// and since that first drop happens at t = 100 ms, at 200, 270.71, 328.45, 378.45 and
/// 423.17 ms of absolute time.
#[test]
fn codel_rfc_drop_schedule_under_persistent_overload() {
    let mut q = Codel::new(CodelConfig {
        limit: 1_000_000,
        ..CodelConfig::with_variant(CodelVariant::Rfc8289)
    })
    .unwrap();
    let drops = drive(
        &mut q,
        1000,
        500_000,
        1500,
        |i| i as f64 / 1e6,
        |_| 0.020,
        |_, _| {},
    );
    assert!(drops.iter().all(|d| d.reason == DropReason::HeadDrop));
    let ms: Vec<f64> = drops.iter().map(|d| d.time * 1e3).collect();
    assert!(ms.len() >= 6, "{ms:?}");
    // Entering the dropping state at t = 100 ms.
    assert!((ms[0] - 100.0).abs() < 0.01, "{ms:?}");
    let relative = [100.0, 170.71, 228.45, 278.45, 323.17];
    for (k, want) in relative.iter().enumerate() {
        let got = ms[k + 1] - ms[0];
        assert!(
            (got - want).abs() < 0.01,
            "drop {}: {got} ms after entry, want {want}",
            k + 1
        );
    }
    let absolute = [100.0, 200.0, 270.71, 328.45, 378.45, 423.17];
    for (k, want) in absolute.iter().enumerate() {
        assert!(
            (ms[k] - want).abs() < 0.01,
            "drop {k}: {} ms, want {want}",
            ms[k]
        );
    }
    let v = q.rfc_vars().unwrap();
    assert!(v.dropping);
}

/// The kernel's arithmetic for the first control-law steps, executed by hand from
/// `codel_impl.h` (the integers below come from following the C code line by line).
///
/// ```text
/// interval = MS2TIME(100) = 100 000 000 >> 10 = 97 656      target = MS2TIME(5) = 4 882
/// entering: count = 1, rec_inv_sqrt = ~0U >> 16 = 0xFFFF (65535)
///   control_law: reciprocal_scale(97656, 0xFFFF << 16 = 4294901760)
///              = (97656 * 4294901760) >> 32 = 97654               (97656 * (1 - 2^-16))
/// count = 2: Newton step from 0xFFFF
///   invsqrt  = 0xFFFF << 16                         = 4 294 901 760
///   invsqrt2 = (invsqrt * invsqrt) >> 32            = 4 294 836 225
///   val      = (3 << 32) - 2 * invsqrt2             = 4 295 229 438
///   val >>= 2                                       = 1 073 807 359
///   val      = (val * invsqrt) >> 31                = 2 147 581 948
///   rec_inv_sqrt = val >> 16                        = 32 769 (0x8001)   (≈ 0.5, not 1/√2)
///   increment = (97656 * (32769 << 16)) >> 32       = 48 829
/// count = 3: invsqrt = 2 147 549 184, invsqrt2 = 1 073 807 361, val = 9 663 479 805,
///   >>2 = 2 415 869 951, (val*invsqrt)>>31 = 2 415 943 677, rec = 36 864 (0x9000), inc = 54 931
/// count = 4: invsqrt = 2 415 919 104, invsqrt2 = 1 358 954 496, val = 7 449 083 904,
///   >>2 = 1 862 270 976, (val*invsqrt)>>31 = 2 095 054 848, rec = 31 968 (0x7CE0), inc = 47 635
/// count = 5: invsqrt = 2 095 054 848, invsqrt2 = 1 021 953 024, val = 7 775 136 768,
///   >>2 = 1 943 784 192, (val*invsqrt)>>31 = 1 896 328 523, rec = 28 935 (0x7107), inc = 43 116
/// count = 6: rec = 26 481 (0x6771), inc = 39 459
/// count = 7: rec = 24 588 (0x600C), inc = 36 638
/// count = 8: rec = 23 037 (0x59FD), inc = 34 327
/// count = 9: rec = 21 746 (0x54F2), inc = 32 403
/// ```
#[test]
fn codel_linux_kernel_arithmetic_by_hand() {
    use codel_kernel::*;
    assert_eq!(ns_to_time(100_000_000), 97_656);
    assert_eq!(ns_to_time(5_000_000), 4_882);
    assert_eq!(REC_INV_SQRT_ONE, 0xFFFF);
    assert_eq!(reciprocal_scale(97_656, 0xFFFF << 16), 97_654);
    let table: [(u32, u16, u32); 8] = [
        (2, 0x8001, 48_829),
        (3, 0x9000, 54_931),
        (4, 0x7CE0, 47_635),
        (5, 0x7107, 43_116),
        (6, 0x6771, 39_459),
        (7, 0x600C, 36_638),
        (8, 0x59FD, 34_327),
        (9, 0x54F2, 32_403),
    ];
    let mut rec = REC_INV_SQRT_ONE;
    for (count, want_rec, want_inc) in table {
        rec = newton_step(rec, count);
        assert_eq!(rec, want_rec, "count {count}");
        assert_eq!(
            control_law(1000, 97_656, rec) - 1000,
            want_inc,
            "count {count}"
        );
    }
    // The control law wraps like the kernel's u32 codel_time_t.
    assert_eq!(control_law(u32::MAX - 10, 97_656, 0xFFFF), 97_654 - 11);
}

/// Linux CoDel on the same persistent overload, dequeued every codel time unit (1024 ns) from
/// t = 1.024 s (unit 1 000 000): the drop times in codel units match the hand-executed
/// sequence above exactly.
///
/// ```text
/// first dequeue at 1 000 000: first_above_time = 1 000 000 + 97 656 = 1 097 656
/// enter (first now strictly after it)  1 097 657          count 1
/// + 97 654 -> 1 195 311                                    count 2
/// + 48 829 -> 1 244 140                                    count 3
/// + 54 931 -> 1 299 071                                    count 4
/// + 47 635 -> 1 346 706                                    count 5
/// + 43 116 -> 1 389 822                                    count 6
/// + 39 459 -> 1 429 281                                    count 7
/// + 36 638 -> 1 465 919                                    count 8
/// + 34 327 -> 1 500 246                                    count 9
/// ```
#[test]
fn codel_linux_drop_times_match_kernel_integers() {
    let mut q = Codel::new(CodelConfig {
        limit: 1_000_000,
        ..CodelConfig::with_variant(CodelVariant::Linux)
    })
    .unwrap();
    let unit = |i: u64| (1_000_000 + i) as f64 * 1024.0 / 1e9;
    let drops = drive(&mut q, 1000, 510_000, 1500, unit, |_| 0.020, |_, _| {});
    let units: Vec<u32> = drops
        .iter()
        .map(|d| codel_kernel::ns_to_time((d.time * 1e9).round() as u64))
        .collect();
    assert_eq!(
        &units[..9],
        &[
            1_097_657, 1_195_311, 1_244_140, 1_299_071, 1_346_706, 1_389_822, 1_429_281, 1_465_919,
            1_500_246
        ]
    );
    let v = q.linux_vars().unwrap();
    assert_eq!(v.count, 9);
    assert_eq!(v.rec_inv_sqrt, 0x54F2);
    assert_eq!(v.drop_next, 1_500_246 + 32_403);
}

/// The two variants on the same input give different drop times. Same driver as above for
/// both: both enter the dropping state at unit 1 097 657; the RFC variant's next drops are
/// 100 ms (97 656.25 units, so the dequeue at +97 657) and 100 + 70.71 ms (+166 710) later,
/// the Linux variant's +97 654 and +146 483 (the Newton step from 1/√1 gives 0.5 at count 2).
#[test]
fn codel_rfc_and_linux_differ_on_the_same_input() {
    let unit = |i: u64| (1_000_000 + i) as f64 * 1024.0 / 1e9;
    let run = |variant| {
        let mut q = Codel::new(CodelConfig {
            limit: 1_000_000,
            ..CodelConfig::with_variant(variant)
        })
        .unwrap();
        drive(&mut q, 1000, 420_000, 1500, unit, |_| 0.020, |_, _| {})
            .iter()
            .map(|d| codel_kernel::ns_to_time((d.time * 1e9).round() as u64))
            .collect::<Vec<u32>>()
    };
    let rfc = run(CodelVariant::Rfc8289);
    let linux = run(CodelVariant::Linux);
    assert_eq!(rfc[0], 1_097_657);
    assert_eq!(linux[0], 1_097_657);
    assert_eq!(rfc[1] - rfc[0], 97_657);
    assert_eq!(linux[1] - linux[0], 97_654);
    assert_eq!(rfc[2] - rfc[0], 166_710);
    assert_eq!(linux[2] - linux[0], 146_483);
    assert_ne!(rfc[..5], linux[..5]);
}

/// Leaving and re-entering the dropping state soon after: count resumes at count − lastcount
/// (both variants), and in the Linux variant `rec_inv_sqrt` gets one Newton step for that
/// count. After a long quiet spell (> 16 intervals) count restarts at 1.
#[test]
fn codel_reentry_resumes_count() {
    for variant in [CodelVariant::Rfc8289, CodelVariant::Linux] {
        let mut q = Codel::new(CodelConfig {
            limit: 1_000_000,
            ..CodelConfig::with_variant(variant)
        })
        .unwrap();
        let time = |i: u64| 1.024 + i as f64 * 1e-5;
        // 20 ms for 0.5 s, 1 ms for 50 ms, 20 ms for 0.3 s, 1 ms for 2 s, 20 ms again.
        let soj = |t: f64| {
            let t = t - 1.024;
            if t < 0.5 || (0.55..0.85).contains(&t) || t >= 2.85 {
                0.020
            } else {
                0.001
            }
        };
        let mut entries: Vec<(u32, u32)> = Vec::new(); // (count before, count after) on entry
        let mut prev: Option<(bool, u32, u32, u16)> = None;
        let mut newton_ok = true;
        drive(&mut q, 200, 400_000, 1500, time, soj, |q, _| {
            let now = match (q.rfc_vars(), q.linux_vars()) {
                (Some(v), _) => (v.dropping, v.count, v.lastcount, 0),
                (_, Some(v)) => (v.dropping, v.count, v.lastcount, v.rec_inv_sqrt),
                _ => unreachable!(),
            };
            if let Some(p) = prev {
                if !p.0 && now.0 {
                    entries.push((p.1, now.1));
                    if variant == CodelVariant::Linux && now.1 > 1 {
                        newton_ok &= now.3 == codel_kernel::newton_step(p.3, now.1);
                    }
                    assert_eq!(now.2, now.1, "lastcount = count on entry");
                }
            }
            prev = Some(now);
        });
        assert!(entries.len() >= 3, "{variant:?}: {entries:?}");
        // First entry: count 1. Second, 150 ms after leaving: count - lastcount (lastcount 1).
        assert_eq!(entries[0].1, 1, "{variant:?}: {entries:?}");
        assert!(entries[1].0 > 2, "{variant:?}: {entries:?}");
        assert_eq!(entries[1].1, entries[1].0 - 1, "{variant:?}: {entries:?}");
        // Third, two seconds (20 intervals) after leaving: back to 1.
        assert_eq!(entries[2].1, 1, "{variant:?}: {entries:?}");
        assert!(newton_ok);
    }
}

/// No drop while the backlog is at most one MTU, however long the sojourn.
#[test]
fn codel_never_drops_below_one_mtu() {
    for variant in [CodelVariant::Rfc8289, CodelVariant::Linux] {
        let mut q = Codel::new(CodelConfig::with_variant(variant)).unwrap();
        // One 1000-byte packet waiting behind the one dequeued: backlog 1000 <= 1514.
        let drops = drive(
            &mut q,
            1,
            100_000,
            1000,
            |i| 1.0 + i as f64 * 1e-4,
            |_| 0.5,
            |_, _| {},
        );
        assert!(drops.is_empty(), "{variant:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// PIE
// ---------------------------------------------------------------------------------------------

/// Drives PIE with one arrival and one departure per millisecond (at half-millisecond
/// offsets, so that they never coincide with an update) and 20 packets waiting, each leaving
/// with a 20 ms sojourn. Returns the drop probability after every update, until `until`.
fn pie_fixed_delay(pie: &mut Pie, until: f64) -> Vec<(f64, f64)> {
    let time = |i: u64| i as f64 * 1e-3 + 0.5e-3;
    let mut seen = Vec::new();
    let mut last_update = pie.next_update();
    let steps = (until * 1e3) as u64;
    let drops = drive(
        pie,
        20,
        steps,
        1000,
        time,
        |_| 0.020,
        |p, _| {
            if p.next_update() != last_update {
                seen.push((last_update, p.drop_probability()));
                last_update = p.next_update();
            }
        },
    );
    assert!(drops.is_empty(), "no drop may disturb the fixed delay");
    seen
}

/// RFC 8033 PIE, timestamp delay, qdelay = 20 ms throughout, updates every 15 ms:
///
/// ```text
/// update 1 (t = 15 ms): p = 0 < 1e-6, so the step is scaled by 1/2048:
///   (0.125 * (0.020 - 0.015) + 1.25 * (0.020 - 0)) / 2048 = 0.025625 / 2048 = 1.2512207e-5
/// update 2: 1e-5 <= p < 1e-4, scale 1/128; qdelay_old = 20 ms so only alpha acts:
///   p += 0.125 * 0.005 / 128 = 4.8828125e-6            -> 1.7395020e-5
/// update 3:                                            -> 2.2277832e-5
/// update 4:                                            -> 2.7160645e-5
/// update 5:                                            -> 3.2043457e-5
/// ```
#[test]
fn pie_rfc_probability_by_hand() {
    let mut pie = Pie::new(PieConfig::with_variant(PieVariant::Rfc8033), 1).unwrap();
    let seen = pie_fixed_delay(&mut pie, 0.0800);
    let first = 0.025625 / 2048.0;
    let step = 0.125 * 0.005 / 128.0;
    let want: Vec<f64> = (0..5).map(|k| first + k as f64 * step).collect();
    assert_eq!(seen.len(), 5, "{seen:?}");
    for (k, ((t, p), w)) in seen.iter().zip(&want).enumerate() {
        assert!((t - 0.015 * (k + 1) as f64).abs() < 1e-12);
        assert!((p - w).abs() < 1e-15, "update {}: {p} vs {w}", k + 1);
    }
    assert!((want[4] - 3.2043457e-5).abs() < 1e-12);
    let v = pie.rfc_vars().unwrap();
    // Burst allowance: 150 ms less 5 updates of 15 ms.
    assert!((v.burst_allowance - 0.075).abs() < 1e-12);
}

/// Linux PIE, same input. The timer first fires at HZ/2 = 500 ms, then every 15 jiffies.
/// Kernel units: qdelay = 20 ms = 312 500 ticks, target = 234 375 ticks,
/// MAX_PROB = 2^56 - 1 = 72 057 594 037 927 935, MAX_PROB / PSCHED_TICKS_PER_SEC = 4 611 686 018.
///
/// ```text
/// alpha = (2 * 4 611 686 018) >> 4 = 576 460 752     beta = (20 * 4 611 686 018) >> 4 = 5 764 607 522
/// update 1: prob = 0: >> 1, then >> 2 for power = 100, 1e3, 1e4, 1e5, 1e6: >> 11 in all
///   alpha = 281 474, beta = 2 814 749
///   delta = 281 474 * (312 500 - 234 375) + 2 814 749 * (312 500 - 0) = 901 599 218 750
///   prob  = 901 599 218 750                                 (1.2512203e-5)
/// update 2: MAX_PROB/1e5 <= prob < MAX_PROB/1e4: >> 1 and three >> 2: >> 7
///   alpha = 4 503 599, beta = 45 035 996; qdelay_old = 312 500
///   delta = 4 503 599 * 78 125 = 351 843 671 875   prob = 1 253 442 890 625
/// update 3: prob = 1 605 286 562 500
/// update 4: prob = 1 957 130 234 375
/// update 5: prob = 2 308 973 906 250                        (3.2043450e-5)
/// ```
#[test]
fn pie_linux_probability_by_hand() {
    let mut pie = Pie::new(PieConfig::with_variant(PieVariant::Linux), 1).unwrap();
    let p = pie.linux_params().copied().unwrap();
    assert_eq!(p.target, 234_375);
    assert_eq!((p.alpha, p.beta), (2, 20));
    assert_eq!(pie_kernel::MAX_PROB, 72_057_594_037_927_935);
    assert_eq!(pie_kernel::scaled_alpha_beta(&p, 0), (281_474, 2_814_749));
    assert_eq!(
        pie_kernel::scaled_alpha_beta(&p, 901_599_218_750),
        (4_503_599, 45_035_996)
    );
    let mut probs = Vec::new();
    let mut last = pie.next_update();
    let time = |i: u64| i as f64 * 1e-3 + 0.5e-3;
    let drops = drive(
        &mut pie,
        20,
        561,
        1000,
        time,
        |_| 0.020,
        |q, _| {
            if q.next_update() != last {
                probs.push((last, q.linux_vars().unwrap().prob));
                last = q.next_update();
            }
        },
    );
    assert!(drops.is_empty());
    let want = [
        901_599_218_750u64,
        1_253_442_890_625,
        1_605_286_562_500,
        1_957_130_234_375,
        2_308_973_906_250,
    ];
    assert_eq!(probs.len(), 5, "{probs:?}");
    for (k, ((t, got), w)) in probs.iter().zip(want).enumerate() {
        assert!((t - (0.5 + 0.015 * k as f64)).abs() < 1e-12, "{t}");
        assert_eq!(*got, w, "update {}", k + 1);
    }
}

/// Departure-rate estimation (RFC): draining 16 KiB at 1000 bytes per ms takes 17 ms (the
/// 17th packet crosses the threshold), so qdelay = backlog * 17 ms / 16384.
#[test]
fn pie_rfc_departure_rate_estimate() {
    let mut pie = Pie::new(
        PieConfig {
            estimator: DelayEstimator::DepartureRate,
            ..PieConfig::with_variant(PieVariant::Rfc8033)
        },
        1,
    )
    .unwrap();
    let time = |i: u64| i as f64 * 1e-3 + 0.5e-3;
    drive(&mut pie, 40, 100, 1000, time, |_| 0.040, |_, _| {});
    let v = pie.rfc_vars().unwrap();
    assert!((v.avg_dq_time - 0.017).abs() < 1e-9, "{}", v.avg_dq_time);
    // The update at 90 ms saw 40 packets of 1000 bytes waiting.
    assert!(
        (v.qdelay - 40_000.0 * 0.017 / 16384.0).abs() < 1e-12,
        "{}",
        v.qdelay
    );
}

/// Decay when idle: with a burst allowance too long to ever run out (so nothing is dropped),
/// a 200 ms delay drives p to its cap of 1. Then the queue empties. The first update sees
/// qdelay = 0, qdelay_old = 0.2 s: p += 0.125 (0 - 0.015) + 1.25 (0 - 0.2) = -0.251875, so
/// p = 0.748125. From then on both delays are 0: p <- (p - 0.125 * 0.015) * 0.98, i.e.
/// 0.731325, 0.7148610, 0.6987463, ...
#[test]
fn pie_rfc_decays_when_idle() {
    let mut pie = Pie::new(
        PieConfig {
            max_burst: 1e6,
            ..PieConfig::with_variant(PieVariant::Rfc8033)
        },
        1,
    )
    .unwrap();
    let time = |i: u64| i as f64 * 1e-3 + 0.5e-3;
    let drops = drive(&mut pie, 200, 3000, 1000, time, |_| 0.200, |_, _| {});
    assert!(drops.is_empty());
    assert_eq!(pie.drop_probability(), 1.0);
    let mut t = 3.0005;
    while pie.dequeue(t).is_some() {
        t += 1e-6;
    }
    let mut want = 1.0 - 0.251875;
    let mut upd = pie.next_update();
    for k in 0..6 {
        pie.advance(upd);
        let p = pie.drop_probability();
        assert!((p - want).abs() < 1e-12, "update {k}: {p} vs {want}");
        want = (want - 0.125 * 0.015) * 0.98;
        upd = pie.next_update();
    }
    // And all the way down to 0, after which the burst allowance is restored.
    pie.advance(1000.0);
    assert_eq!(pie.drop_probability(), 0.0);
    assert_eq!(pie.rfc_vars().unwrap().burst_allowance, 1e6);
}

/// Under a 20 % unresponsive overload PIE holds the queueing delay near its 15 ms target and
/// drops about 1/6 of the packets (the excess).
#[test]
fn pie_converges_near_target_under_overload() {
    for variant in [PieVariant::Rfc8033, PieVariant::Linux] {
        let cap = 10e6 / (1500.0 * 8.0);
        let sc = Scenario::new(
            vec![Source::new(ArrivalProcess::Poisson { rate: 1.2 * cap })],
            Service::Link { rate_bps: 10e6 },
            Stop::Duration(200.0),
        )
        .with_discipline(DisciplineConfig::Pie(PieConfig::with_variant(variant)))
        .with_warmup(20_000)
        .with_seed(11);
        let r = simulate(&sc).unwrap();
        let wait = r.wait.mean;
        assert!(
            (0.013..0.018).contains(&wait),
            "{variant:?}: mean queueing delay {wait}"
        );
        let loss = r.dropped as f64 / r.arrived as f64;
        assert!((loss - 1.0 / 6.0).abs() < 0.02, "{variant:?}: loss {loss}");
        assert!(r.utilisation > 0.98, "{variant:?}: {}", r.utilisation);
    }
}

// ---------------------------------------------------------------------------------------------
// RED
// ---------------------------------------------------------------------------------------------

fn pkt(id: u64, t: f64) -> Packet {
    Packet {
        id,
        flow: 0,
        size: 1000,
        arrival: t,
    }
}

/// EWMA and idle correction with w = 0.5 and s = 1 ms, thresholds out of reach:
///
/// ```text
/// arrivals at t = 0 seeing q = 0, 1, 2, 3:
///   avg = 0.5*0 + 0.5*0 = 0, then 0.5*0 + 0.5*1 = 0.5, 0.5*0.5 + 0.5*2 = 1.25,
///   0.5*1.25 + 0.5*3 = 2.125
/// the four leave at 1, 2, 3, 4 ms; the server finds the queue empty at 5 ms (idle starts)
/// arrival at 8 ms: m = (8 - 5) / 1 = 3, avg = 2.125 * 0.5^3 = 0.265625
/// arrival at 8 ms seeing q = 1: avg = 0.5*0.265625 + 0.5*1 = 0.6328125
/// ```
#[test]
fn red_average_and_idle_correction_by_hand() {
    let mut red = Red::new(
        RedConfig {
            min_th: 100.0,
            max_th: 200.0,
            weight: 0.5,
            idle_packet_time: 1e-3,
            limit: Limit::Packets(1000),
            ..RedConfig::default()
        },
        1,
    )
    .unwrap();
    let mut avgs = Vec::new();
    for i in 0..4 {
        red.enqueue(pkt(i, 0.0), 0.0);
        avgs.push(red.vars().avg);
    }
    assert_eq!(avgs, vec![0.0, 0.5, 1.25, 2.125]);
    for i in 1..=4 {
        assert!(red.dequeue(i as f64 * 1e-3).is_some());
    }
    assert!(red.dequeue(5e-3).is_none());
    assert_eq!(red.vars().idle_since, Some(5e-3));
    red.enqueue(pkt(4, 8e-3), 8e-3);
    assert!((red.vars().avg - 0.265625).abs() < 1e-15);
    red.enqueue(pkt(5, 8e-3), 8e-3);
    assert!((red.vars().avg - 0.6328125).abs() < 1e-15);
    assert_eq!(red.vars().count, -1);
}

/// With w = 1 the average is the queue seen by each arrival. Holding it at 4 packets with
/// min_th = 2, max_th = 6, max_p = 0.2: p_b = 0.2 * (4 - 2) / (6 - 2) = 0.1, and an arrival
/// that follows `count` accepted packets since the last drop is dropped with
/// p_a = 0.1 / (1 - 0.1 count): 0.1, 0.1111, 0.125, 0.1429, 0.1667, 0.2, 0.25, 0.3333, 0.5, 1
/// for count = 0..9. So the gap between drops is uniform on 1..=10 (each with probability
/// exactly 0.1: 0.1, 0.9 x 0.1111, 0.9 x 0.8889 x 0.125, ...), never longer than 10.
#[test]
fn red_count_spacing_by_hand() {
    let mut red = Red::new(
        RedConfig {
            min_th: 2.0,
            max_th: 6.0,
            max_p: 0.2,
            weight: 1.0,
            limit: Limit::Packets(1000),
            ..RedConfig::default()
        },
        42,
    )
    .unwrap();
    let mut id = 0;
    while red.len() < 4 {
        red.enqueue(pkt(id, 0.0), 0.0);
        id += 1;
    }
    red.drain_drops().for_each(drop);
    let mut gaps = [0u64; 11];
    let n = 200_000u64;
    for i in 0..n {
        let k = red.vars().count.max(0); // accepted since the last drop
        let r = red.enqueue(pkt(id + i, 0.0), 0.0);
        let v = *red.vars();
        assert!((v.last_pb - 0.1).abs() < 1e-15);
        let want_pa = if k as f64 * 0.1 >= 1.0 {
            1.0
        } else {
            0.1 / (1.0 - 0.1 * k as f64)
        };
        assert!(
            (v.last_pa - want_pa).abs() < 1e-12,
            "count {k}: {}",
            v.last_pa
        );
        match r {
            latlab_queueing::aqm::EnqueueResult::Dropped(DropReason::Early) => {
                assert!(k <= 9, "gap {}", k + 1);
                gaps[k as usize + 1] += 1;
            }
            _ => {
                red.dequeue(0.0);
            }
        }
        red.drain_drops().for_each(drop);
    }
    let total: u64 = gaps.iter().sum();
    for (g, c) in gaps.iter().enumerate().skip(1) {
        let f = *c as f64 / total as f64;
        assert!((f - 0.1).abs() < 0.01, "gap {g}: {f}");
    }
}

/// Gentle mode: between max_th and 2 max_th, p_b = max_p + (1 - max_p)(avg - max_th)/max_th;
/// at avg = 9 with max_th = 6, max_p = 0.2: 0.2 + 0.8 * 3/6 = 0.6. Without gentle mode every
/// arrival above max_th is dropped; with it, every arrival above 2 max_th.
#[test]
fn red_gentle_region_by_hand() {
    let cfg = |gentle| RedConfig {
        min_th: 2.0,
        max_th: 6.0,
        max_p: 0.2,
        weight: 1.0,
        gentle,
        limit: Limit::Packets(1000),
        measure: QueueMeasure::Packets,
        ..RedConfig::default()
    };
    let mut red = Red::new(cfg(true), 3).unwrap();
    // Fill to 9 regardless of early drops (dequeue nothing; retry until 9 are queued).
    let mut id = 0;
    while red.len() < 9 {
        red.enqueue(pkt(id, 0.0), 0.0);
        id += 1;
    }
    red.enqueue(pkt(id, 0.0), 0.0);
    let v = *red.vars();
    assert_eq!(v.avg, 9.0);
    assert!((v.last_pb - 0.6).abs() < 1e-15);
    // Fill to 12 = 2 max_th: every further arrival is dropped.
    while red.len() < 12 {
        id += 1;
        red.enqueue(pkt(id, 0.0), 0.0);
    }
    for _ in 0..100 {
        id += 1;
        assert_eq!(
            red.enqueue(pkt(id, 0.0), 0.0),
            latlab_queueing::aqm::EnqueueResult::Dropped(DropReason::Early)
        );
    }
    let mut hard = Red::new(cfg(false), 3).unwrap();
    let mut id = 0;
    while hard.len() < 6 {
        hard.enqueue(pkt(id, 0.0), 0.0);
        id += 1;
    }
    for _ in 0..100 {
        id += 1;
        assert_eq!(
            hard.enqueue(pkt(id, 0.0), 0.0),
            latlab_queueing::aqm::EnqueueResult::Dropped(DropReason::Early)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// FQ-CoDel
// ---------------------------------------------------------------------------------------------

/// A heavy flow offering 120 % of a 10 Mb/s link and a light flow offering 2 %: under
/// FQ-CoDel the light flow's packets wait behind the packet in transmission and at most one
/// quantum of the heavy flow, so its sojourn stays within a few transmission times (1.2 ms
/// each), while the heavy flow's (unresponsive, like the CoDel test below) is around 100 ms.
/// Under a drop-tail FIFO the light flow suffers the heavy flow's whole queue.
#[test]
fn fq_codel_protects_the_light_flow() {
    let cap = 10e6 / (1500.0 * 8.0);
    let scenario = |d| {
        Scenario::new(
            vec![
                Source::new(ArrivalProcess::Poisson { rate: 1.2 * cap })
                    .with_flow(1)
                    .with_size(SizeSpec::Fixed(1500)),
                Source::new(ArrivalProcess::Poisson { rate: 0.02 * cap })
                    .with_flow(2)
                    .with_size(SizeSpec::Fixed(1500)),
            ],
            Service::Link { rate_bps: 10e6 },
            Stop::Duration(60.0),
        )
        .with_discipline(d)
        .with_warmup(5_000)
        .with_seed(5)
    };
    let fq = simulate(&scenario(DisciplineConfig::FqCodel(
        FqCodelConfig::default(),
    )))
    .unwrap();
    let heavy = fq.flows.iter().find(|f| f.flow == 1).unwrap();
    let light = fq.flows.iter().find(|f| f.flow == 2).unwrap();
    assert!(light.served > 500);
    assert!(
        light.mean_sojourn < 0.0025,
        "light mean {}",
        light.mean_sojourn
    );
    assert!(
        light.max_sojourn < 0.0060,
        "light max {}",
        light.max_sojourn
    );
    assert_eq!(light.dropped, 0);
    assert!(
        heavy.mean_sojourn > 0.005,
        "heavy mean {}",
        heavy.mean_sojourn
    );
    assert!(heavy.dropped > 0);

    let fifo = simulate(&scenario(DisciplineConfig::DropTail {
        limit: Limit::Packets(1000),
    }))
    .unwrap();
    let light_fifo = fifo.flows.iter().find(|f| f.flow == 2).unwrap();
    assert!(
        light_fifo.mean_sojourn > 0.5,
        "fifo light mean {}",
        light_fifo.mean_sojourn
    );
}

/// CoDel against a 20 % *unresponsive* overload on a 10 Mb/s link. Its drop rate grows like
/// sqrt(count)/interval, so it needs about 190 drops in a row (interval/sqrt(count) ≈ 7 ms,
/// the spacing that removes the excess 139 packets/s) and a few seconds to catch up: the queue
/// climbs to a few hundred milliseconds, then cycles. It still bounds the delay far below a
/// 1000-packet drop-tail buffer (1.2 s), drops about the excess 1/6 of the packets, all at the
/// head, and keeps the link busy.
#[test]
fn codel_bounds_the_queue_under_unresponsive_overload() {
    let cap = 10e6 / (1500.0 * 8.0);
    for variant in [CodelVariant::Rfc8289, CodelVariant::Linux] {
        let sc = Scenario::new(
            vec![Source::new(ArrivalProcess::Poisson { rate: 1.2 * cap })],
            Service::Link { rate_bps: 10e6 },
            Stop::Duration(60.0),
        )
        .with_discipline(DisciplineConfig::Codel(CodelConfig::with_variant(variant)))
        .with_warmup(5_000)
        .with_seed(2);
        let r = simulate(&sc).unwrap();
        assert!(r.wait.mean < 0.25, "{variant:?}: {:?}", r.wait);
        assert!(
            r.sojourn_quantiles.p999 < 0.5,
            "{variant:?}: {:?}",
            r.sojourn_quantiles
        );
        let loss = r.dropped as f64 / r.arrived as f64;
        assert!((loss - 1.0 / 6.0).abs() < 0.02, "{variant:?}: loss {loss}");
        assert_eq!(r.drops.head, r.drops.count);
        assert!(r.utilisation > 0.98);
    }
}
