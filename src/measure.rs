//! Running one probe from the CLI: a pinned thread measures, the main thread shows progress,
//! and the outcome becomes a `ProbeSummary` and an `.hlog` in the run directory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use latlab_kernels::Datapath;
use latlab_probes::manifest::{LoopMode, ProbeSummary};
use latlab_probes::record::{write_hlog, Stats};
use latlab_probes::rtt::{self, Live, ReplyFormat, RttConfig, RttOutcome, Schedule};
use latlab_probes::{Clock, RunDir};
use latlab_topology::Placement;

use crate::output;

/// One probe to run.
pub struct ProbeSpec {
    /// Name, unique in the run.
    pub name: String,
    /// Target, for messages and the summary.
    pub target: String,
    /// `udp` or `tcp`.
    pub proto: &'static str,
    /// The probe configuration.
    pub cfg: RttConfig,
    /// CPU to pin the probe thread to.
    pub cpu: Option<usize>,
    /// Placement record for the summary.
    pub placement: Placement,
}

/// Runs `spec` over `dp` in a pinned thread with a progress bar; writes its `.hlog` into `run`.
pub fn run_probe(
    dp: Box<dyn Datapath + Send>,
    clock: &Clock,
    spec: &ProbeSpec,
    run: &RunDir,
    stop: &AtomicBool,
    show_progress: bool,
) -> Result<ProbeSummary> {
    let info = dp.info();
    let live = Live::default();
    let total = spec.cfg.count.unwrap_or(0);
    let by_time = spec.cfg.count.is_none();
    let len = if by_time {
        spec.cfg.duration.map_or(1, |d| d.as_millis() as u64)
    } else {
        total
    };
    let pb = output::bar(len, &spec.name, show_progress);
    let mut placement = spec.placement.clone();
    let outcome: Result<RttOutcome> = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            let mut dp = dp;
            let pinned = spec.cpu.map(latlab_topology::pin_current_thread);
            let r = rtt::run(dp.as_mut(), clock, &spec.cfg, &spec.target, stop, &live);
            (r, pinned)
        });
        let started = Instant::now();
        // With nothing drawn, just wait: a main thread waking to update a hidden bar would
        // preempt a spinner on a machine with as many spinners as CPUs.
        while show_progress && !handle.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            if by_time {
                pb.set_position((started.elapsed().as_millis() as u64).min(len));
            } else {
                pb.set_position(live.sent.load(Ordering::Relaxed));
            }
        }
        let (r, pinned) = handle.join().expect("probe thread does not panic");
        if let Some(Err(e)) = &pinned {
            eprintln!("warning: {e}; {} ran unpinned", spec.name);
            placement.pinned = false;
        }
        r.map_err(anyhow::Error::from)
    });
    pb.finish_and_clear();
    let outcome = outcome.with_context(|| format!("probe {} to {}", spec.name, spec.target))?;
    let hlog = format!("{}.hlog", spec.name);
    write_hlog(
        &run.file(&hlog),
        outcome.start_unix_ns,
        &format!(
            "latlab {}: probe {} to {}, RTT in nanoseconds",
            env!("CARGO_PKG_VERSION"),
            spec.name,
            spec.target
        ),
        outcome.rtt.intervals(),
    )
    .with_context(|| format!("writing {}", run.file(&hlog).display()))?;
    Ok(summarize(spec, info, &outcome, hlog, placement))
}

fn summarize(
    spec: &ProbeSpec,
    datapath: latlab_kernels::DatapathInfo,
    o: &RttOutcome,
    hlog: String,
    placement: Placement,
) -> ProbeSummary {
    let c = o.counters;
    let duration_s = o.duration_ns as f64 / 1e9;
    ProbeSummary {
        name: spec.name.clone(),
        target: spec.target.clone(),
        proto: spec.proto.to_string(),
        reply: match spec.cfg.reply {
            ReplyFormat::Stamp => "stamp",
            ReplyFormat::Echo => "echo",
        }
        .to_string(),
        datapath,
        mode: if spec.cfg.schedule == Schedule::Closed {
            LoopMode::Closed
        } else {
            LoopMode::Open
        },
        schedule: spec.cfg.schedule.name().to_string(),
        rate_hz: spec.cfg.schedule.rate_hz(),
        achieved_rate_hz: if duration_s > 0.0 {
            c.sent as f64 / duration_s
        } else {
            0.0
        },
        size_bytes: spec.cfg.size,
        warmup: o.warmup,
        duration_s,
        sent: c.sent,
        received: c.received,
        lost: c.lost,
        late: c.late,
        reordered: c.reordered,
        duplicates: c.duplicates,
        malformed: c.malformed,
        timeout_s: spec.cfg.timeout.as_secs_f64(),
        status: if o.interrupted {
            "interrupted"
        } else {
            "complete"
        }
        .to_string(),
        rtt: Stats::of(o.rtt.total()),
        rtt_uncorrected: o.rtt_uncorrected.as_ref().map(Stats::of),
        network_rtt: o.network_rtt.as_ref().map(Stats::of),
        reflector_residence: o.residence.as_ref().map(Stats::of),
        clock_offset: o.offset,
        rx_kernel_to_user: o.rx_kernel_to_user.as_ref().map(Stats::of),
        hlog,
        placement,
    }
}

/// The results table shared by `lab` and `probe rtt`.
pub fn results_table(probes: &[ProbeSummary]) -> String {
    let mut t = output::Table::new(&[
        "probe",
        "mode",
        "rate/s",
        "sent",
        "lost",
        "reord",
        "dup",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "net p50 µs",
    ]);
    for p in probes {
        t.row(vec![
            p.name.clone(),
            p.schedule.clone(),
            p.rate_hz.map_or("-".into(), |r| format!("{r:.0}")),
            p.sent.to_string(),
            p.lost.to_string(),
            p.reordered.to_string(),
            p.duplicates.to_string(),
            output::us(p.rtt.p50),
            output::us(p.rtt.p90),
            output::us(p.rtt.p99),
            output::us(p.rtt.p99_9),
            output::us(p.rtt.max),
            p.network_rtt.map_or("-".into(), |n| output::us(n.p50)),
        ]);
    }
    t.render()
}
