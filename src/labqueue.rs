//! `latlab lab queue`: a real single-server queue on this machine, measured against the models.
//!
//! The bottleneck is an in-process STAMP reflector pinned to one core whose *service stage*
//! busy-waits, before answering each request, for a time drawn from a chosen distribution
//! (`--service`). Open-loop Poisson probes from another core load it at each offered load ρ,
//! and each load's measured sojourn percentiles are set beside three predictions.
//!
//! The method, step by step (docs/LAB-QUEUE.md has the discussion):
//!
//! 1. **Calibrate** (closed loop, one probe outstanding): the reflector's residence t3 − t2 is
//!    the spin plus the reflector's own work between its two timestamps; `RTT − residence` is
//!    the rest of the path (probe stack, loopback, the reflector's recv and send syscalls).
//! 2. **Overhead and capacity**: bursts of requests sent back to back, faster than the server
//!    answers, keep its queue non-empty; then the gap between one reply's t3 and the next
//!    request's t2 (both on the reflector's clock) is the server's per-request work outside
//!    t2..t3 (the rest of the send, the next recv): the overhead `o`, its median over the
//!    bursts. The effective mean service time is `mean residence + o`, the capacity
//!    μ_eff its inverse. The bursts are repeated after the loads to see whether the server's
//!    speed drifted (on a shared machine, other work takes its core).
//! 3. **Fit**: the service distribution is the calibration's residence histogram shifted by `o`;
//!    every parametric family is fitted to it and the best (AIC) kept.
//! 4. **Load**: for each ρ, Poisson probes at λ = ρ·μ_eff, latency counted from each probe's
//!    intended send time. The measured sojourn is `RTT − P`, where `P = median(closed-loop
//!    RTT − residence) − o` is the part of the round trip that does not occupy the server.
//! 5. **Predict**: M/G/1 (Pollaczek–Khinchine, percentiles by transform inversion) from the
//!    fitted distribution; M/M/1 with the same mean; and the discrete-event simulator fed the
//!    measured (shifted) service histogram itself, so that the fit's own error shows too.
//!
//! Units: nanoseconds in the measurements and the JSON; the queueing crate is fed seconds.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use latlab_kernels::{Datapath, UdpOptions, UdpPath};
use latlab_probes::clock::wall_ns;
use latlab_probes::manifest::ProbeSummary;
use latlab_probes::record::{write_hlog, Stats};
use latlab_probes::rtt::{self, Live, ReplyFormat, RttConfig, RttOutcome, Schedule};
use latlab_probes::stamp::{self, NtpTimestamp, ReflectorPacket, SenderPacket};
use latlab_probes::RunStatus;
use latlab_queueing::fit::{fit_weighted, Empirical, FitOptions, ServiceDist};
use latlab_queueing::models::QueueSpec;
use latlab_queueing::sim::{self, Scenario, Service, Source, Stop};
use latlab_topology::Topology;
use serde::Serialize;
use serde_json::json;

use crate::cli::{parse_duration, OutputArgs, Proto};
use crate::context::RunContext;
use crate::measure::{self, ProbeSpec};
use crate::plot::{Axis, Plot, Series, Style};
use crate::{output, STOP};

/// Options of `latlab lab queue`.
#[derive(Debug, Args)]
pub struct LabQueueArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// The reflector's per-request service time, busy-waited: exp:MEAN, det:VALUE,
    /// lognormal:MEAN:SCV or hyperexp:MEAN:SCV (SCV: squared coefficient of variation; MEAN
    /// from 2us to 1ms). Examples: exp:20us, det:50us, lognormal:20us:4.
    #[arg(long, value_name = "DIST", default_value = "exp:20us", value_parser = parse_service)]
    pub service: ServiceArg,
    /// Offered loads ρ = λ/μ to measure, each strictly between 0 and 1
    /// [default: 0.1,0.3,0.5,0.7,0.8,0.9; with --quick: 0.2,0.5,0.8].
    #[arg(long, value_name = "RHO,...", value_delimiter = ',', value_parser = parse_load)]
    pub loads: Option<Vec<f64>>,
    /// Measuring time at each load [default: 2s; with --quick: 1s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub per_load: Option<Duration>,
    /// Shorter calibration, 1 s per load and three loads: a smoke test (about 8 s).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the service times, the Poisson schedules and the simulator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// CPU for the probe thread (default: chosen from the topology).
    #[arg(long, value_name = "N", requires = "reflector_cpu")]
    pub probe_cpu: Option<usize>,
    /// CPU for the reflector, the server of the queue (default: chosen from the topology).
    #[arg(long, value_name = "N", requires = "probe_cpu")]
    pub reflector_cpu: Option<usize>,
}

/// A parsed `--service`: the text as given and the distribution, in seconds.
#[derive(Debug, Clone)]
pub struct ServiceArg {
    /// As given on the command line.
    pub spec: String,
    /// The distribution of the spin, seconds.
    pub dist: ServiceDist,
}

const SERVICE_HELP: &str =
    "expected exp:MEAN, det:VALUE, lognormal:MEAN:SCV or hyperexp:MEAN:SCV (e.g. exp:20us)";

/// Parses `--service`.
pub fn parse_service(s: &str) -> Result<ServiceArg, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let mean = |t: &str| -> Result<f64, String> {
        let d = humantime::parse_duration(t)
            .map_err(|e| format!("bad time {t:?} in {s:?}: {e}; {SERVICE_HELP}"))?;
        let secs = d.as_secs_f64();
        if !(2e-6..=1e-3).contains(&secs) {
            return Err(format!(
                "service time {t} in {s:?} is outside 2us..1ms (shorter drowns in the \
                 reflector's own overhead; longer leaves too few requests per load)"
            ));
        }
        Ok(secs)
    };
    let scv = |t: &str| -> Result<f64, String> {
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && v <= 100.0 => Ok(v),
            _ => Err(format!(
                "bad SCV {t:?} in {s:?}: a number in (0, 100]; {SERVICE_HELP}"
            )),
        }
    };
    let dist = match parts.as_slice() {
        ["exp", m] => ServiceDist::exponential(mean(m)?),
        ["det", m] => ServiceDist::deterministic(mean(m)?),
        ["lognormal", m, c] => ServiceDist::lognormal_with_mean_scv(mean(m)?, scv(c)?),
        ["hyperexp", m, c] => {
            let c = scv(c)?;
            if c <= 1.0 {
                return Err(format!("hyperexp needs SCV > 1, not {c}"));
            }
            ServiceDist::hyperexponential_with_mean_scv(mean(m)?, c)
        }
        _ => return Err(format!("unknown service {s:?}: {SERVICE_HELP}")),
    }
    .map_err(|e| format!("service {s:?}: {e}"))?;
    Ok(ServiceArg {
        spec: s.to_string(),
        dist,
    })
}

/// Parses one load ρ.
fn parse_load(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r < 1.0 => Ok(r),
        _ => Err(format!(
            "load {s:?} must be a number strictly between 0 and 1 (ρ = λ/μ; at 1 the queue \
             grows without bound)"
        )),
    }
}

/// A seeded stream of service times for the reflector: inverse-transform sampling of `dist`
/// with a SplitMix64 uniform, in nanoseconds, capped at 50 × the mean (and 10 ms) so that one
/// draw cannot stall the run.
struct ServiceStream {
    dist: ServiceDist,
    state: u64,
    cap_ns: f64,
}

impl ServiceStream {
    fn new(dist: ServiceDist, seed: u64) -> Self {
        let cap_ns = (dist.mean() * 50.0 * 1e9).min(1e7);
        ServiceStream {
            dist,
            state: seed ^ 0x5EED_5EED_5EED_5EED,
            cap_ns,
        }
    }

    fn next_ns(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // Uniform on [0, 1): quantile(0) is the minimum, never infinite.
        let u = (z >> 11) as f64 / (1u64 << 53) as f64;
        (self.dist.quantile(u) * 1e9)
            .clamp(0.0, self.cap_ns)
            .round() as u64
    }
}

/// Sojourn percentiles, nanoseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub mean: f64,
}

/// One offered load: what was measured and what each model predicts.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Offered load ρ = λ/μ_eff.
    pub load: f64,
    /// Intended arrival rate, per second.
    pub lambda_hz: f64,
    /// Probes actually sent per second.
    pub achieved_hz: f64,
    pub sent: u64,
    pub lost: u64,
    /// The probe's name in summary.json (its .hlog has the RTTs).
    pub probe: String,
    /// Measured sojourn: RTT (from intended send time) − P; none when fewer than 10 replies
    /// came back (the queue ran away).
    pub measured: Option<Quantiles>,
    /// The reflector's residence t3 − t2 at this load (the spin, not the wait).
    pub residence_p50_ns: u64,
    /// M/G/1 with the fitted service distribution.
    pub mg1: Quantiles,
    /// M/M/1 with the same mean service time.
    pub mm1: Quantiles,
    /// Simulated M/G/1 with the measured service histogram.
    pub sim: Quantiles,
    /// Half-width of the simulator's mean-sojourn confidence interval (99 %), ns.
    pub sim_mean_half_width: f64,
    /// (measured − M/G/1)/M/G/1 for p50, p90, p99.
    pub rel_err_mg1: Option<[f64; 3]>,
    /// (measured − simulated)/simulated for p50, p90, p99.
    pub rel_err_sim: Option<[f64; 3]>,
}

/// How the server was characterised before loading it.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Closed-loop RTT, ns.
    pub closed_rtt: Stats,
    /// Closed-loop reflector residence t3 − t2 (spin + stamping), ns.
    pub residence: Stats,
    /// Closed-loop RTT − residence, ns.
    pub network_rtt: Stats,
    /// The back-to-back bursts before the loads.
    pub burst: Burst,
    /// The same after the loads (drift check).
    pub burst_after: Option<Burst>,
    /// The server's capacity 1/(mean residence + overhead), per second.
    pub mu_eff_hz: f64,
    /// Per-request work outside t2..t3 (the burst's median t2[k+1] − t3[k]), ns.
    pub overhead_ns: f64,
    /// Effective mean service time 1/μ_eff, ns.
    pub mean_service_ns: f64,
    /// The part of the RTT that does not occupy the server, subtracted from loaded RTTs, ns.
    pub path_ns: f64,
}

/// The fitted service distribution.
#[derive(Debug, Clone, Serialize)]
pub struct FittedService {
    /// Best family by AIC.
    pub family: String,
    /// The distribution, seconds.
    pub dist: ServiceDist,
    /// Its mean, ns.
    pub mean_ns: f64,
    /// Its squared coefficient of variation.
    pub scv: f64,
    /// SCV of the measured (shifted) histogram.
    pub measured_scv: f64,
    /// SCV of the requested spin distribution.
    pub requested_scv: f64,
}

/// `queue.json`.
#[derive(Debug, Clone, Serialize)]
pub struct QueueResult {
    pub service: String,
    pub seed: u64,
    pub per_load_s: f64,
    pub calibration: Calibration,
    pub fit: FittedService,
    pub rows: Vec<Row>,
    /// Where the measurement is weak, in words.
    pub notes: Vec<String>,
}

pub fn run(a: &LabQueueArgs) -> Result<()> {
    let topo = Topology::detect();
    let (probe_cpu, refl_cpu) = match (a.probe_cpu, a.reflector_cpu) {
        (Some(p), Some(r)) => (p, r),
        _ => topo.local_pair(),
    };
    let placement = topo.placement(Some(probe_cpu), Some(refl_cpu), true);
    let per_load = a.per_load.unwrap_or(if a.quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(2)
    });
    let loads = a.loads.clone().unwrap_or_else(|| {
        if a.quick {
            vec![0.2, 0.5, 0.8]
        } else {
            vec![0.1, 0.3, 0.5, 0.7, 0.8, 0.9]
        }
    });
    let calib_time = Duration::from_millis(if a.quick { 500 } else { 1000 });
    let config = json!({
        "service": a.service.spec, "service_dist_s": a.service.dist, "loads": loads,
        "per_load_s": per_load.as_secs_f64(), "calibration_s": calib_time.as_secs_f64(),
        "bursts": BURSTS, "burst_len": BURST_LEN, "seed": a.seed, "size_bytes": 44,
        "target": "127.0.0.1 (in-process reflector with a service stage)",
    });
    let mut ctx = RunContext::start(
        &a.output.out,
        "labqueue",
        "lab queue",
        placement.clone(),
        config,
    )?;
    if placement.relation == Some(latlab_topology::Relation::SameCpu) && !a.output.json {
        eprintln!("warning: one CPU only: the probe and the server share it; the queue is not the only one measured");
    }
    let show = output::interactive(a.output.json);
    let mut notes = Vec::new();
    if let Some(load) = load_average() {
        if load > 0.5 * topo.cpus.len() as f64 {
            notes.push(format!(
                "the machine was busy before the run (load average {load:.2} on {} CPUs): other \
                 work takes the server's and the probe's cores for milliseconds at a time",
                topo.cpus.len()
            ));
        }
    }

    let mut stream = ServiceStream::new(a.service.dist.clone(), a.seed);
    let mut stage = move || stream.next_ns();
    let mut calib: Option<RttOutcome> = None;
    let mut burst_before: Option<Burst> = None;
    let mut burst_after: Option<Burst> = None;
    let mut loaded: Vec<(f64, f64, ProbeSummary)> = Vec::new();
    let mut mu_eff = 0.0;
    let udp_cfg = |schedule: Schedule, duration: Duration, warmup: u64| RttConfig {
        count: None,
        duration: Some(duration),
        warmup,
        schedule,
        timeout: Duration::from_millis(200),
        reply: ReplyFormat::Stamp,
        ssid: 1,
        ..RttConfig::default()
    };
    crate::lab::with_reflector(
        Proto::Udp,
        &crate::cli::DatapathArgs::kernel(),
        Some(refl_cpu),
        Some(&mut stage),
        |target| {
            // 1. Closed loop: the unloaded path and the service histogram.
            let cfg = udp_cfg(Schedule::Closed, calib_time, 2000);
            let dp = UdpPath::connect(target, None, UdpOptions::default())?;
            let o = closed_probe(dp, &ctx, &cfg, probe_cpu, &target.to_string())?;
            write_hlog(
                &ctx.dir.file("calibrate.hlog"),
                o.start_unix_ns,
                "latlab lab queue: closed-loop calibration, RTT in nanoseconds",
                o.rtt.intervals(),
            )
            .context("writing calibrate.hlog")?;
            let residence = o
                .residence
                .as_ref()
                .context("the reflector's replies carry no t2/t3")?;
            if residence.len() < 100 {
                anyhow::bail!("calibration got only {} replies", residence.len());
            }
            let spin_mean_ns = residence.mean();
            calib = Some(o);

            // 2. Back-to-back bursts: the server's overhead between its own timestamps.
            let b = burst_overhead(target, probe_cpu)?;
            mu_eff = 1e9 / (spin_mean_ns + b.gap_p50_ns);
            burst_before = Some(b);

            // 4. The loads.
            for (i, &rho) in loads.iter().enumerate() {
                if STOP.load(Ordering::SeqCst) {
                    break;
                }
                let lambda = rho * mu_eff;
                let warmup = (lambda * 0.2).clamp(200.0, 20_000.0) as u64;
                let name = format!("load-{:02}", (rho * 100.0).round() as u32);
                let spec = probe_spec(
                    &name,
                    target,
                    udp_cfg(
                        Schedule::Poisson {
                            rate_hz: lambda,
                            seed: a.seed.wrapping_add(1 + i as u64),
                        },
                        per_load,
                        warmup,
                    ),
                    probe_cpu,
                    &placement,
                );
                let dp = Box::new(UdpPath::connect(target, None, UdpOptions::default())?);
                let s = measure::run_probe(dp, &ctx.clock, &spec, &ctx.dir, &STOP, show)?;
                ctx.summary.probes.push(s.clone());
                ctx.save_summary()?;
                loaded.push((rho, lambda, s));
            }
            burst_after = burst_overhead(target, probe_cpu).ok();
            Ok(())
        },
    )?;

    let calib = calib.expect("set when the reflector body succeeded");
    let burst = burst_before.expect("set when the reflector body succeeded");
    let residence = calib.residence.as_ref().expect("checked in calibration");
    let network = calib
        .network_rtt
        .as_ref()
        .context("no network RTT in calibration")?;
    let res_stats = Stats::of(residence);
    let net_stats = Stats::of(network);
    let overhead_ns = burst.gap_p50_ns;
    let spin_p50_ns = a.service.dist.quantile(0.5) * 1e9;
    if res_stats.p50 as f64 > 1.5 * spin_p50_ns + 2000.0 {
        notes.push(format!(
            "the server's residence median {} is far above the spin's median {}: the server \
             thread lost its core during calibration, and the fitted service carries that",
            output::human_ns(res_stats.p50 as f64),
            output::human_ns(spin_p50_ns)
        ));
    }
    let mean_service_ns = 1e9 / mu_eff;
    match &burst_after {
        Some(after) if (after.gap_p50_ns - overhead_ns).abs() > 0.5 * overhead_ns.max(1000.0) => {
            notes.push(format!(
                "the server's overhead drifted from {} before the loads to {} after: the \
                 machine's other work changed the server's speed during the run",
                output::human_ns(overhead_ns),
                output::human_ns(after.gap_p50_ns)
            ))
        }
        None => notes.push("the closing burst failed: drift of the server's speed unknown".into()),
        _ => {}
    }
    if burst.busy_spacing_mean_ns > 1.5 * mean_service_ns {
        notes.push(format!(
            "back-to-back replies left on average {} apart against {} expected: the server \
             thread was interrupted or descheduled during the burst",
            output::human_ns(burst.busy_spacing_mean_ns),
            output::human_ns(mean_service_ns)
        ));
    }
    let path_ns = net_stats.p50 as f64 - overhead_ns;

    // 3. The service distribution: the residence histogram shifted by the overhead, seconds.
    let points: Vec<(f64, u64)> = residence
        .iter_recorded()
        .map(|v| {
            (
                (v.value_iterated_to() as f64 + overhead_ns) * 1e-9,
                v.count_at_value(),
            )
        })
        .collect();
    let empirical = ServiceDist::Empirical(
        Empirical::new(&points).context("the service histogram is not a distribution")?,
    );
    let options = FitOptions {
        tail_level: None,
        ..FitOptions::default()
    };
    let fitted = match fit_weighted(&points, &options) {
        Ok(r) => r.best().dist.clone(),
        Err(e) => match e.deterministic() {
            Some(d) => d,
            None => {
                notes.push(format!(
                    "no family fitted ({e}); M/G/1 uses the histogram itself"
                ));
                empirical.clone()
            }
        },
    };
    let fit = FittedService {
        family: fitted.name().to_string(),
        mean_ns: fitted.mean() * 1e9,
        scv: fitted.scv(),
        measured_scv: empirical.scv(),
        requested_scv: a.service.dist.scv(),
        dist: fitted.clone(),
    };

    // 5. Predictions beside each measured load.
    let mg1_spec =
        QueueSpec::poisson(fitted.clone(), 1).context("M/G/1 with the fitted service")?;
    let mm1_spec = QueueSpec::poisson(ServiceDist::exponential(fitted.mean())?, 1)?;
    let mut rows = Vec::new();
    for (i, (rho, lambda, s)) in loaded.iter().enumerate() {
        // The models see the arrival rate relative to the fitted mean (ρ as offered).
        let lam = rho / fitted.mean();
        let mg1 = model_quantiles(&mg1_spec, lam)?;
        let mm1 = model_quantiles(&mm1_spec, lam)?;
        let (sim, hw) = simulate(&empirical, rho / empirical.mean(), a.seed + i as u64)?;
        let measured = (s.received >= 10).then_some(Quantiles {
            p50: s.rtt.p50 as f64 - path_ns,
            p90: s.rtt.p90 as f64 - path_ns,
            p99: s.rtt.p99 as f64 - path_ns,
            mean: s.rtt.mean - path_ns,
        });
        let rel = |m: f64, p: f64| (m - p) / p;
        let errs = |p: &Quantiles| {
            measured.map(|m| [rel(m.p50, p.p50), rel(m.p90, p.p90), rel(m.p99, p.p99)])
        };
        rows.push(Row {
            load: *rho,
            lambda_hz: *lambda,
            achieved_hz: s.achieved_rate_hz,
            sent: s.sent,
            lost: s.lost,
            probe: s.name.clone(),
            residence_p50_ns: s.reflector_residence.map_or(0, |r| r.p50),
            rel_err_mg1: errs(&mg1),
            rel_err_sim: errs(&sim),
            measured,
            mg1,
            mm1,
            sim,
            sim_mean_half_width: hw,
        });
    }
    if rows.iter().any(|r| r.lost > 0) {
        notes.push("some loads lost probes (200 ms timeout or socket overflow): their tails are understated".into());
    }
    let calibration = Calibration {
        closed_rtt: Stats::of(calib.rtt.total()),
        residence: res_stats,
        network_rtt: net_stats,
        burst,
        burst_after,
        mu_eff_hz: mu_eff,
        overhead_ns,
        mean_service_ns,
        path_ns,
    };
    let result = QueueResult {
        service: a.service.spec.clone(),
        seed: a.seed,
        per_load_s: per_load.as_secs_f64(),
        calibration,
        fit,
        rows,
        notes,
    };
    latlab_probes::rundir::write_json(&ctx.dir.file("queue.json"), &result)
        .context("writing queue.json")?;
    let svg = plot_svg(&result, &mg1_spec, &mm1_spec, fitted.mean())?;
    std::fs::write(ctx.dir.file("queue-vs-load.svg"), svg).context("writing queue-vs-load.svg")?;

    let status = if STOP.load(Ordering::SeqCst) || result.rows.len() < loads.len() {
        RunStatus::Partial
    } else {
        RunStatus::Complete
    };
    ctx.finish(status)?;
    if a.output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_dir": ctx.dir.path(), "status": status, "placement": placement,
                "queue": result,
            }))?
        );
    } else {
        print!("{}", render(&result));
        println!("results: {}", ctx.dir.path().display());
    }
    Ok(())
}

/// The one-minute load average (Linux), before the run's own threads start.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What back-to-back bursts showed of the server.
#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    /// Requests sent (bursts × burst size).
    pub sent: u64,
    /// Replies received.
    pub received: u64,
    /// Pairs of consecutive replies where the next request was already waiting.
    pub busy_pairs: u64,
    /// Median of t2[k+1] − t3[k] over those pairs: the server's per-request work outside
    /// t2..t3 (finishing the send, the next recv), ns.
    pub gap_p50_ns: f64,
    /// Mean of t3[k+1] − t3[k] over those pairs: the busy server's mean service time, ns.
    pub busy_spacing_mean_ns: f64,
}

const BURSTS: u32 = 10;
const BURST_LEN: u32 = 100;

/// Sends bursts of requests faster than the server can answer them: while its queue is not
/// empty, the gap between one reply's t3 and the next request's t2 is the server's own
/// per-request overhead. Runs in a thread pinned to `cpu`; every wait is bounded.
fn burst_overhead(target: std::net::SocketAddr, cpu: usize) -> Result<Burst> {
    let mut dp = UdpPath::connect(target, None, UdpOptions::default())?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<Burst> {
            let _ = latlab_topology::pin_current_thread(cpu);
            let mut tx = vec![0u8; stamp::BASE_LEN];
            let mut rx = vec![0u8; 2048];
            let (mut sent, mut received) = (0u64, 0u64);
            let mut gaps = Vec::new();
            let mut spacings = Vec::new();
            for b in 0..BURSTS {
                let mut got: Vec<Option<ReflectorPacket>> = vec![None; BURST_LEN as usize];
                for k in 0..BURST_LEN {
                    let pkt = SenderPacket {
                        seq: b * BURST_LEN + k,
                        timestamp: NtpTimestamp::from_unix_ns(wall_ns()),
                        ssid: 2,
                        ..SenderPacket::default()
                    };
                    pkt.encode(&mut tx).expect("buffer of STAMP size");
                    dp.send(&tx)?;
                    sent += 1;
                }
                let deadline = Instant::now() + Duration::from_millis(300);
                let mut n = 0;
                while n < BURST_LEN && Instant::now() < deadline {
                    if let Some(r) = dp.try_recv(&mut rx)? {
                        if let Ok(p) = ReflectorPacket::decode(&rx[..r.len]) {
                            let i = p.sender_seq.wrapping_sub(b * BURST_LEN) as usize;
                            if i < got.len() && got[i].is_none() {
                                got[i] = Some(p);
                                n += 1;
                            }
                        }
                    } else {
                        std::hint::spin_loop();
                    }
                }
                received += u64::from(n);
                for w in got.windows(2) {
                    if let [Some(a), Some(c)] = w {
                        // The next request was already sent when this one's service ended.
                        if c.sender_timestamp.diff_ns(a.timestamp) < 0 {
                            gaps.push(c.receive_timestamp.diff_ns(a.timestamp) as f64);
                            spacings.push(c.timestamp.diff_ns(a.timestamp) as f64);
                        }
                    }
                }
            }
            if gaps.len() < 20 {
                anyhow::bail!(
                    "bursts of {BURST_LEN} requests found the server busy only {} times: \
                     the probe cannot send faster than the server serves",
                    gaps.len()
                );
            }
            gaps.sort_by(f64::total_cmp);
            Ok(Burst {
                sent,
                received,
                busy_pairs: gaps.len() as u64,
                gap_p50_ns: gaps[gaps.len() / 2].max(0.0),
                busy_spacing_mean_ns: spacings.iter().sum::<f64>() / spacings.len() as f64,
            })
        })
        .join()
        .expect("burst thread does not panic")
    })
    .context("back-to-back bursts")
}

/// A closed-loop probe in a thread pinned to `cpu`, keeping the whole outcome (the residence
/// histogram is the service-time sample).
fn closed_probe(
    mut dp: UdpPath,
    ctx: &RunContext,
    cfg: &RttConfig,
    cpu: usize,
    target: &str,
) -> Result<RttOutcome> {
    let live = Live::default();
    std::thread::scope(|s| {
        s.spawn(|| {
            if let Err(e) = latlab_topology::pin_current_thread(cpu) {
                eprintln!("warning: {e}; the calibration probe ran unpinned");
            }
            rtt::run(
                &mut dp as &mut dyn Datapath,
                &ctx.clock,
                cfg,
                target,
                &STOP,
                &live,
            )
        })
        .join()
        .expect("probe thread does not panic")
    })
    .context("closed-loop calibration probe")
}

fn probe_spec(
    name: &str,
    target: std::net::SocketAddr,
    cfg: RttConfig,
    cpu: usize,
    placement: &latlab_topology::Placement,
) -> ProbeSpec {
    ProbeSpec {
        name: name.to_string(),
        target: target.to_string(),
        proto: "udp",
        cfg,
        cpu: Some(cpu),
        placement: placement.clone(),
    }
}

fn model_quantiles(spec: &QueueSpec, lambda: f64) -> Result<Quantiles> {
    let p = spec
        .predict(lambda)
        .with_context(|| format!("model at λ = {lambda:.0}/s"))?;
    Ok(Quantiles {
        p50: p.sojourn.p50 * 1e9,
        p90: p.sojourn.p90 * 1e9,
        p99: p.sojourn.p99 * 1e9,
        mean: p.mean_sojourn * 1e9,
    })
}

/// Customers per simulated load (Lindley's recursion: tens of milliseconds).
const SIM_CUSTOMERS: u64 = 400_000;

fn simulate(service: &ServiceDist, lambda: f64, seed: u64) -> Result<(Quantiles, f64)> {
    let scenario = Scenario::with_service_time(
        vec![Source::poisson(lambda)],
        Service::Servers {
            count: 1,
            time: service.clone(),
        },
        Stop::Customers(SIM_CUSTOMERS),
    )
    .with_seed(seed)
    .with_warmup(SIM_CUSTOMERS / 20);
    let r = sim::simulate(&scenario).context("simulating the queue")?;
    let q = r.sojourn_quantiles;
    Ok((
        Quantiles {
            p50: q.p50 * 1e9,
            p90: q.p90 * 1e9,
            p99: q.p99 * 1e9,
            mean: r.sojourn.mean * 1e9,
        },
        r.sojourn.half_width * 1e9,
    ))
}

/// The terminal report: the server's calibration, then one row per load.
fn render(r: &QueueResult) -> String {
    let c = &r.calibration;
    let f = &r.fit;
    let mut s = format!(
        "server: reflector spinning {} per request; measured residence mean {}, capacity \
         μ_eff {:.0}/s: mean service {} = residence + {} overhead (recv/send, from bursts)\n\
         service fit: {} (mean {}, SCV {:.2}; histogram SCV {:.2}; requested SCV {:.2})\n\
         sojourn = RTT from intended send time − {} (closed-loop RTT − residence − overhead)\n\n",
        r.service,
        output::human_ns(c.residence.mean),
        c.mu_eff_hz,
        output::human_ns(c.mean_service_ns),
        output::human_ns(c.overhead_ns),
        f.family,
        output::human_ns(f.mean_ns),
        f.scv,
        f.measured_scv,
        f.requested_scv,
        output::human_ns(c.path_ns),
    );
    let mut t = output::Table::new(&[
        "load", "λ/s", "sent", "lost", "p50 µs", "M/G/1", "sim", "M/M/1", "err", "p99 µs", "M/G/1",
        "sim", "M/M/1", "err",
    ]);
    let us = |ns: f64| format!("{:.1}", ns / 1e3);
    let pct =
        |e: Option<[f64; 3]>, i: usize| e.map_or("-".into(), |e| format!("{:+.0}%", 100.0 * e[i]));
    let none = "no replies".to_string();
    for row in &r.rows {
        t.row(vec![
            format!("{:.2}", row.load),
            format!("{:.0}", row.lambda_hz),
            row.sent.to_string(),
            row.lost.to_string(),
            row.measured.map_or(none.clone(), |m| us(m.p50)),
            us(row.mg1.p50),
            us(row.sim.p50),
            us(row.mm1.p50),
            pct(row.rel_err_mg1, 0),
            row.measured.map_or(none.clone(), |m| us(m.p99)),
            us(row.mg1.p99),
            us(row.sim.p99),
            us(row.mm1.p99),
            pct(row.rel_err_mg1, 2),
        ]);
    }
    s += &t.render();
    s += "err: (measured − M/G/1)/M/G/1. sim: the simulator fed the measured service histogram.\n";
    for n in &r.notes {
        s += &format!("note: {n}\n");
    }
    s += "Details: queue.json; plot: queue-vs-load.svg.\n";
    s
}

/// Sojourn p50 and p99 against load: measured points over the model curves.
fn plot_svg(r: &QueueResult, mg1: &QueueSpec, mm1: &QueueSpec, mean_s: f64) -> Result<String> {
    let grid: Vec<f64> = (1..=19).map(|i| i as f64 * 0.05).collect();
    let curve = |spec: &QueueSpec, p: f64| -> Result<Vec<(f64, f64)>> {
        grid.iter()
            .map(|&rho| {
                let q = spec.sojourn_quantile(rho / mean_s, p)?;
                Ok((rho, q * 1e6))
            })
            .collect()
    };
    let pts = |f: &dyn Fn(&Row) -> Option<f64>| {
        r.rows
            .iter()
            .filter_map(|row| f(row).map(|v| (row.load, v / 1e3)))
            .collect()
    };
    let series = vec![
        Series {
            label: "measured p50".into(),
            points: pts(&|row| row.measured.map(|m| m.p50)),
            style: Style::Points,
        },
        Series {
            label: "measured p99".into(),
            points: pts(&|row| row.measured.map(|m| m.p99)),
            style: Style::Points,
        },
        Series {
            label: "M/G/1 p50".into(),
            points: curve(mg1, 0.5)?,
            style: Style::Dashed,
        },
        Series {
            label: "M/G/1 p99".into(),
            points: curve(mg1, 0.99)?,
            style: Style::Dashed,
        },
        Series {
            label: "M/M/1 p99 (same mean)".into(),
            points: curve(mm1, 0.99)?,
            style: Style::Dashed,
        },
        Series {
            label: "simulated p50".into(),
            points: pts(&|row| Some(row.sim.p50)),
            style: Style::Line,
        },
        Series {
            label: "simulated p99".into(),
            points: pts(&|row| Some(row.sim.p99)),
            style: Style::Line,
        },
    ];
    Ok(Plot {
        title: format!("Sojourn vs load: reflector with service {}", r.service),
        x: Axis {
            label: "offered load ρ = λ/μ".into(),
            log: false,
        },
        y: Axis {
            label: "sojourn (µs)".into(),
            log: true,
        },
        series,
    }
    .to_svg())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_specs_parse_with_their_moments() {
        let e = parse_service("exp:20us").unwrap();
        assert!((e.dist.mean() - 20e-6).abs() < 1e-12);
        assert!((e.dist.scv() - 1.0).abs() < 1e-9);
        let d = parse_service("det:50us").unwrap();
        assert_eq!(d.dist.scv(), 0.0);
        let l = parse_service("lognormal:20us:4").unwrap();
        assert!((l.dist.scv() - 4.0).abs() < 1e-6);
        let h = parse_service("hyperexp:30us:3").unwrap();
        assert!((h.dist.mean() - 30e-6).abs() < 1e-12);
    }

    #[test]
    fn bad_service_specs_say_what_is_expected() {
        for bad in [
            "uniform:20us",
            "exp",
            "exp:20",
            "exp:1ns",
            "exp:5s",
            "lognormal:20us",
            "hyperexp:20us:0.5",
        ] {
            let e = parse_service(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(parse_service("gauss:1us").unwrap_err().contains("exp:MEAN"));
        assert!(parse_load("1").is_err() && parse_load("0").is_err() && parse_load("x").is_err());
        assert_eq!(parse_load(" 0.5"), Ok(0.5));
    }

    #[test]
    fn the_service_stream_has_the_requested_mean() {
        let mut s = ServiceStream::new(ServiceDist::exponential(20e-6).unwrap(), 7);
        let n = 200_000;
        let mean = (0..n).map(|_| s.next_ns() as f64).sum::<f64>() / n as f64;
        assert!((mean - 20_000.0).abs() < 300.0, "mean {mean}");
        let mut a = ServiceStream::new(ServiceDist::exponential(20e-6).unwrap(), 7);
        let mut b = ServiceStream::new(ServiceDist::exponential(20e-6).unwrap(), 7);
        assert!((0..100).all(|_| a.next_ns() == b.next_ns()), "seeded");
    }
}
