//! `latlab model`: from measured latency to a queueing model, and from a model to latency
//! under load.
//!
//! * `model fit` reads a run directory's histogram (or an `.hlog`, or a CSV of samples), fits
//!   every family of `latlab_queueing::fit` by maximum likelihood, prints and ranks them, and
//!   writes `model.json` and `model-ccdf.svg` beside the input.
//! * `model predict` puts a service law (the best fit of a `model.json`, or one given on the
//!   command line) behind Poisson arrivals and prints the waiting and sojourn times the
//!   analytic models predict at each load, and the knee for a latency budget.
//! * `model sim` runs the seeded discrete-event simulator on one bottleneck and writes a run
//!   directory (`sim.json`, `sojourn.hlog`, `drops.csv`, `queue.csv`).
//!
//! Histograms and `model.json` are in nanoseconds; `predict` and `sim` work in seconds (the
//! simulator's virtual time and the AQMs' parameters are in seconds), so a fitted law is
//! rescaled on the way in. Tables show durations with their unit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use latlab_probes::manifest::{LoopMode, Summary};
use latlab_probes::record::{new_histogram, read_hlog, write_hlog, Interval};
use latlab_probes::rundir::{write_atomic, write_json};
use latlab_probes::RunDir;
use latlab_queueing::aqm::{
    CodelConfig, CodelVariant, FqCodelConfig, Limit, PieConfig, PieVariant, RedConfig,
};
use latlab_queueing::fit::{
    fit_samples, fit_weighted, Empirical, FitError, FitOptions, FitReport, ServiceDist,
};
use latlab_queueing::models::{Method, ModelError, Prediction, QueueSpec};
use latlab_queueing::sim::{
    simulate, ArrivalProcess, DisciplineConfig, Scenario, Service, SimReport, SizeSpec, Source,
    Stop,
};
use latlab_queueing::stats::WeightedSamples;
use serde::Serialize;
use serde_json::{json, Value};

use crate::output::{self, Table};
use crate::plot::{Axis, Plot, Series, Style};

/// `latlab model …`: fit, predict, simulate.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Fit measured latency to candidate distributions by maximum likelihood.
    ///
    /// Tries the shifted exponential, lognormal (plain and shifted), gamma, Weibull and
    /// two-phase hyperexponential, a generalized-Pareto tail and the empirical law; prints each
    /// fit's parameters, Kolmogorov–Smirnov distance, Anderson–Darling A² and AIC, marks the
    /// best (lowest AIC among the sane fits), and gives the mean, the SCV (cs²) and the tail
    /// index. Writes model.json and model-ccdf.svg (measured vs fitted CCDF) into the run
    /// directory, or next to the --hlog/--csv file.
    Fit(FitArgs),
    /// Predict waiting and sojourn times under Poisson load from a service law.
    ///
    /// The service law is the best fit of a model.json (--model) or one given with --service.
    /// The model is chosen for the law: M/M/1 and M/M/c, M/D/1 exactly, M/G/1 by Laplace
    /// inversion, approximations otherwise; each row names it. --budget finds the knee: the
    /// highest load at which that sojourn percentile stays within the budget.
    Predict(PredictArgs),
    /// Simulate one bottleneck (servers or a link, with a queue discipline), seeded.
    ///
    /// Prints the mean sojourn with its 99% confidence interval (batch means), percentiles,
    /// drops, utilisation and throughput, and writes a run directory under --out with
    /// sim.json, sojourn.hlog (ns of virtual time), drops.csv and queue.csv. The same seed
    /// gives the same output, bit for bit.
    Sim(SimArgs),
}

/// Unit of the values in a CSV of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    /// Nanoseconds.
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

impl Unit {
    fn ns(self) -> f64 {
        match self {
            Unit::Ns => 1.0,
            Unit::Us => 1e3,
            Unit::Ms => 1e6,
            Unit::S => 1e9,
        }
    }
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Run directory to fit (from `latlab lab`, `probe rtt` or `model sim`).
    #[arg(value_name = "RUN_DIR", required_unless_present_any = ["hlog", "csv"],
          conflicts_with_all = ["hlog", "csv"])]
    pub run: Option<PathBuf>,
    /// The probe of the run directory to fit (default: its first closed-loop probe).
    #[arg(long, value_name = "NAME", requires = "run")]
    pub probe: Option<String>,
    /// Fit the histograms of this HdrHistogram interval log (values in ns).
    #[arg(long, value_name = "FILE", conflicts_with = "csv")]
    pub hlog: Option<PathBuf>,
    /// Fit the samples of this file: one value per line (blank lines and lines starting with
    /// # are skipped), in --unit.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Unit of the CSV values.
    #[arg(long, value_enum, default_value_t = Unit::Ns, requires = "csv")]
    pub unit: Unit,
    /// Print the fit report as JSON (the content of model.json) instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Use the best fit of this model.json (written by `latlab model fit`).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "service",
        conflicts_with = "service"
    )]
    pub model: Option<PathBuf>,
    /// Service law: exp:MEAN, det:V, lognormal:MU,SIGMA, gamma:K,THETA, empirical:RUN_DIR
    /// or model:FILE. MEAN, V and THETA are durations (20us, 1.5ms, 1s); MU is the mean of
    /// ln(S / 1 s), or of ln(S / 1 UNIT) when written MUunit (e.g. 9.9ns).
    #[arg(long, value_name = "SPEC")]
    pub service: Option<String>,
    /// Number of servers.
    #[arg(long, value_name = "C", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub servers: u32,
    /// Per-server loads ρ in (0, 1): a list (0.5,0.8,0.9) or a range FROM..TO[:STEP] (step
    /// 0.1; TO is included).
    #[arg(long, value_name = "LOADS", default_value = "0.1..0.95", value_parser = parse_loads,
          conflicts_with = "rate")]
    pub load: Numbers,
    /// Arrival rates λ per second instead of loads: a list (800,900 or 10k).
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rates)]
    pub rate: Option<Numbers>,
    /// Report the knee for a sojourn budget: PERCENTILE:DURATION, e.g. p99:2ms, p99.9:10ms.
    #[arg(long, value_name = "pP:DURATION", value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// Print the predictions as JSON (times in seconds) instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Arrivals: poisson:RATE, constant:RATE, onoff:ON_RATE,MEAN_ON,MEAN_OFF (rates per
    /// second, means as durations) or trace:FILE (one inter-arrival time per line, a
    /// duration such as 12us or a bare number of seconds).
    #[arg(long, value_name = "SPEC")]
    pub arrivals: String,
    /// Service law of each server (see `model predict --service`).
    #[arg(
        long,
        value_name = "SPEC",
        required_unless_present = "link_rate",
        conflicts_with = "link_rate"
    )]
    pub service: Option<String>,
    /// Number of servers.
    #[arg(long, value_name = "C", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "link_rate")]
    pub servers: u32,
    /// Serve packets on a link of this many bits per second (100M, 1G, 2.5e9) instead.
    #[arg(long, value_name = "BPS", value_parser = parse_bps)]
    pub link_rate: Option<f64>,
    /// Packet size in bytes, for --link-rate.
    #[arg(long, value_name = "B", default_value_t = 1500, requires = "link_rate",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub size: u32,
    /// Queue discipline: fifo, droptail:N (packets), red, codel, codel-linux, pie,
    /// pie-linux, fq-codel (defaults of each; the -linux variants use the kernel's
    /// arithmetic).
    #[arg(long, value_name = "NAME", default_value = "fifo", value_parser = parse_discipline)]
    pub discipline: DisciplineConfig,
    /// Stop after this many customers have arrived and left (default 100000; for a trace,
    /// its length).
    #[arg(long, value_name = "N", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub customers: Option<u64>,
    /// Stop at this virtual time instead (e.g. 10s).
    #[arg(long, value_name = "T", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Customers (by arrival order) left out of the statistics.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub warmup: u64,
    /// Seed of every random stream.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Directory under which the run directory is created.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,
    /// Print the result as JSON (sim.json and the run directory) instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// A list of numbers given as one argument (loads, rates).
#[derive(Debug, Clone, PartialEq)]
pub struct Numbers(pub Vec<f64>);

/// A sojourn budget: the percentile level (e.g. 0.99) and the bound in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Level in (0, 1).
    pub level: f64,
    /// Seconds.
    pub seconds: f64,
}

pub fn run(cmd: &ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Fit(a) => run_fit(a),
        ModelCommand::Predict(a) => run_predict(a),
        ModelCommand::Sim(a) => run_sim(a),
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses a duration with a unit (`20us`, `1.5ms`, `2s`, `250ns`, `1m`) into seconds.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() || c == 'µ')
        .ok_or_else(|| format!("{s:?} needs a unit (examples: 20us, 1.5ms, 2s)"))?;
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 20us, 1.5ms, 2s)"))?;
    let secs = to_seconds(v, unit.trim())
        .ok_or_else(|| format!("unknown unit {unit:?} in {s:?} (use ns, us, ms, s, m, h)"))?;
    if secs.is_finite() && secs >= 0.0 {
        Ok(secs)
    } else {
        Err(format!("{s:?}: a duration must be finite and not negative"))
    }
}

/// Converts `v` in `unit` to seconds (dividing for sub-second units, so that 20us is exactly
/// the literal 20e-6).
fn to_seconds(v: f64, unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => v / 1e9,
        "us" | "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    })
}

/// Parses a positive number with an optional k/M/G suffix (`10k`, `2.5M`).
fn parse_scaled(s: &str, what: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a {what} (examples: 800, 10k, 2.5M)"))?;
    let v = v * mult;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{s:?}: a {what} must be a positive number"))
    }
}

/// Parses a link rate in bits per second: `100M`, `1G`, `1e9`, `10Gbit`, `100Mbps`.
pub fn parse_bps(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("bps")
        .or_else(|| t.strip_suffix("bit"))
        .unwrap_or(t);
    parse_scaled(t, "rate in bits per second")
}

fn parse_list(s: &str, what: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|x| parse_scaled(x, what))
        .collect::<Result<Vec<f64>, String>>()
}

/// Parses loads: `0.5,0.8,0.9` or `FROM..TO[:STEP]` (step 0.1, TO included).
pub fn parse_loads(s: &str) -> Result<Numbers, String> {
    let loads = if let Some((from, rest)) = s.split_once("..") {
        let (to, step) = match rest.split_once(':') {
            Some((to, step)) => (to, parse_scaled(step, "load step")?),
            None => (rest, 0.1),
        };
        let from = parse_scaled(from, "load")?;
        let to = parse_scaled(to, "load")?;
        if to < from {
            return Err(format!("{s:?}: the range must go up (e.g. 0.1..0.95)"));
        }
        let mut v = Vec::new();
        let mut i = 0u32;
        loop {
            // Multiply rather than accumulate, so 0.1..0.9 ends exactly at 0.9.
            let x = ((from + f64::from(i) * step) * 1e9).round() / 1e9;
            if x > to + 1e-9 || i > 10_000 {
                break;
            }
            v.push(x);
            i += 1;
        }
        if v.last().is_some_and(|l| (to - l).abs() > 1e-9) {
            v.push(to);
        }
        v
    } else {
        parse_list(s, "load")?
    };
    if let Some(bad) = loads.iter().find(|l| !(**l > 0.0 && **l < 1.0)) {
        return Err(format!(
            "load {bad} is outside (0, 1): at ρ ≥ 1 the queue grows without bound"
        ));
    }
    Ok(Numbers(loads))
}

/// Parses arrival rates per second: a list, or a range like --load's.
pub fn parse_rates(s: &str) -> Result<Numbers, String> {
    parse_list(s, "rate per second").map(Numbers)
}

/// Parses `p99:2ms` (also `p99.9:10ms`, `99:2ms`).
pub fn parse_budget(s: &str) -> Result<Budget, String> {
    let (p, d) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not a budget (examples: p99:2ms, p99.9:10ms)"))?;
    let pct: f64 = p
        .trim()
        .trim_start_matches(['p', 'P'])
        .parse()
        .map_err(|_| format!("{p:?} is not a percentile (examples: p99, p99.9)"))?;
    if !(pct > 0.0 && pct < 100.0) {
        return Err(format!("percentile {pct} must be in (0, 100)"));
    }
    let seconds = parse_seconds(d)?;
    if seconds <= 0.0 {
        return Err(format!("{s:?}: the budget must be positive"));
    }
    Ok(Budget {
        level: pct / 100.0,
        seconds,
    })
}

/// Parses a queue discipline name.
pub fn parse_discipline(s: &str) -> Result<DisciplineConfig, String> {
    let (name, arg) = match s.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (s, None),
    };
    let d = match (name.trim(), arg) {
        ("fifo", None) => DisciplineConfig::Fifo,
        ("droptail" | "drop-tail", Some(n)) => {
            let n: u64 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("droptail:{n}: the limit must be a packet count ≥ 1"))?;
            DisciplineConfig::DropTail {
                limit: Limit::Packets(n),
            }
        }
        ("droptail" | "drop-tail", None) => {
            return Err("droptail needs its limit in packets, e.g. droptail:100".into())
        }
        ("red", None) => DisciplineConfig::Red(RedConfig::default()),
        ("codel", None) => DisciplineConfig::Codel(CodelConfig::default()),
        ("codel-linux", None) => {
            DisciplineConfig::Codel(CodelConfig::with_variant(CodelVariant::Linux))
        }
        ("pie", None) => DisciplineConfig::Pie(PieConfig::default()),
        ("pie-linux", None) => DisciplineConfig::Pie(PieConfig::with_variant(PieVariant::Linux)),
        ("fq-codel" | "fq_codel", None) => DisciplineConfig::FqCodel(FqCodelConfig::default()),
        _ => {
            return Err(format!(
                "unknown discipline {s:?} (one of: fifo, droptail:N, red, codel, codel-linux, pie, pie-linux, fq-codel)"
            ))
        }
    };
    Ok(d)
}

/// Parses a service law into a distribution in seconds.
pub fn parse_service(spec: &str) -> Result<ServiceDist> {
    let (kind, arg) = spec.split_once(':').ok_or_else(|| {
        anyhow!("{spec:?} is not a service law (examples: exp:20us, det:1ms, lognormal:-9,0.5, gamma:2,10us, empirical:RUN_DIR, model:model.json)")
    })?;
    let secs = |s: &str| parse_seconds(s).map_err(anyhow::Error::msg);
    let two = || -> Result<(&str, &str)> {
        arg.split_once(',')
            .ok_or_else(|| anyhow!("{kind} needs two parameters: {kind}:A,B"))
    };
    let d = match kind.trim() {
        "exp" | "exponential" => ServiceDist::exponential(secs(arg)?)?,
        "det" | "deterministic" => ServiceDist::deterministic(secs(arg)?)?,
        "lognormal" => {
            let (mu, sigma) = two()?;
            let mu = mu.trim();
            let split = mu
                .find(|c: char| c.is_ascii_alphabetic() && c != 'e' || c == 'µ')
                .unwrap_or(mu.len());
            let (num, unit) = mu.split_at(split);
            let mu: f64 = num
                .parse()
                .map_err(|_| anyhow!("lognormal: MU {num:?} is not a number"))?;
            let unit = if unit.is_empty() {
                1.0
            } else {
                to_seconds(1.0, unit).ok_or_else(|| anyhow!("lognormal: unknown unit {unit:?}"))?
            };
            let sigma: f64 = sigma
                .trim()
                .parse()
                .map_err(|_| anyhow!("lognormal: SIGMA {sigma:?} is not a number"))?;
            let d = ServiceDist::LogNormal {
                shift: 0.0,
                mu: mu + unit.ln(),
                sigma,
            };
            d.validate()?;
            d
        }
        "gamma" => {
            let (k, theta) = two()?;
            let k: f64 = k
                .trim()
                .parse()
                .map_err(|_| anyhow!("gamma: K {k:?} is not a number"))?;
            let d = ServiceDist::Gamma {
                shape: k,
                scale: secs(theta)?,
            };
            d.validate()?;
            d
        }
        "empirical" => {
            let (h, _) = load_histogram(Path::new(arg), None)?;
            let points: Vec<(f64, u64)> = histogram_points(&h)
                .into_iter()
                .map(|(v, c)| (v * 1e-9, c))
                .collect();
            let w = WeightedSamples::from_weighted(&points)
                .map_err(|e| anyhow!("{arg}: {e}"))?
                .quantize(3);
            ServiceDist::Empirical(Empirical::from_weighted_samples(&w)?)
        }
        "model" => scale_dist(&read_model(Path::new(arg))?, 1e-9)?,
        other => bail!(
            "unknown service law {other:?} (one of: exp, det, lognormal, gamma, empirical, model)"
        ),
    };
    Ok(d)
}

/// The best fit of a model.json, in ns.
fn read_model(path: &Path) -> Result<ServiceDist> {
    let v: Value = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", path.display()))?;
    let best = v
        .pointer("/best/dist")
        .ok_or_else(|| {
            anyhow!(
                "{} has no best fit (/best/dist): write it with `latlab model fit`",
                path.display()
            )
        })?
        .clone();
    let d: ServiceDist = serde_json::from_value(best)
        .with_context(|| format!("{}: the best fit is not a distribution", path.display()))?;
    d.validate()?;
    Ok(d)
}

/// The same law with every time multiplied by `f` (e.g. 1e-9: ns to s).
pub fn scale_dist(d: &ServiceDist, f: f64) -> Result<ServiceDist> {
    let emp = |e: &Empirical| -> Result<Empirical> {
        let pts: Vec<(f64, u64)> = e.points().into_iter().map(|(v, c)| (v * f, c)).collect();
        Ok(Empirical::new(&pts)?)
    };
    Ok(match d {
        ServiceDist::Deterministic(v) => ServiceDist::Deterministic(v * f),
        ServiceDist::Exponential(m) => ServiceDist::Exponential(m * f),
        ServiceDist::ShiftedExponential { shift, scale } => ServiceDist::ShiftedExponential {
            shift: shift * f,
            scale: scale * f,
        },
        ServiceDist::LogNormal { shift, mu, sigma } => ServiceDist::LogNormal {
            shift: shift * f,
            mu: mu + f.ln(),
            sigma: *sigma,
        },
        ServiceDist::Gamma { shape, scale } => ServiceDist::Gamma {
            shape: *shape,
            scale: scale * f,
        },
        ServiceDist::Weibull { shape, scale } => ServiceDist::Weibull {
            shape: *shape,
            scale: scale * f,
        },
        ServiceDist::HyperExponential { p, mean1, mean2 } => ServiceDist::HyperExponential {
            p: *p,
            mean1: mean1 * f,
            mean2: mean2 * f,
        },
        ServiceDist::GeneralizedPareto {
            location,
            scale,
            shape,
        } => ServiceDist::GeneralizedPareto {
            location: location * f,
            scale: scale * f,
            shape: *shape,
        },
        ServiceDist::EmpiricalGpdTail {
            body,
            threshold,
            tail_prob,
            scale,
            shape,
        } => ServiceDist::EmpiricalGpdTail {
            body: emp(body)?,
            threshold: threshold * f,
            tail_prob: *tail_prob,
            scale: scale * f,
            shape: *shape,
        },
        ServiceDist::Empirical(e) => ServiceDist::Empirical(emp(e)?),
        other => bail!("cannot rescale a {} law", other.name()),
    })
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// Reads the latency histogram (ns) of a run directory: the named probe, else the first
/// closed-loop probe, else the first; or the sojourns of a `model sim` directory. Returns the
/// histogram and a description of where it came from.
fn load_histogram(dir: &Path, probe: Option<&str>) -> Result<(Histogram<u64>, String)> {
    let hlog = if dir.join("summary.json").is_file() {
        let run = RunDir::open(dir)?;
        let file = run.file("summary.json");
        let summary: Summary = serde_json::from_slice(
            &std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
        )
        .with_context(|| format!("{} is not a latlab summary", file.display()))?;
        let chosen = match probe {
            Some(name) => summary.probes.iter().find(|p| p.name == name),
            None => summary
                .probes
                .iter()
                .find(|p| p.mode == LoopMode::Closed)
                .or(summary.probes.first()),
        };
        let Some(p) = chosen else {
            let names: Vec<_> = summary.probes.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "{} has no probe {} (it has: {})",
                dir.display(),
                probe.map_or("at all".to_string(), |n| format!("named {n:?}")),
                names.join(", ")
            );
        };
        (run.file(&p.hlog), format!("{}/{}", run.id(), p.name))
    } else if dir.join("sojourn.hlog").is_file() {
        if probe.is_some() {
            bail!(
                "{} is a simulation: it has no probes, only sojourn.hlog",
                dir.display()
            );
        }
        (
            dir.join("sojourn.hlog"),
            format!("{}/sojourn", dir.display()),
        )
    } else if dir.is_dir() {
        bail!(
            "{} is not a latlab run directory (no summary.json or sojourn.hlog)",
            dir.display()
        );
    } else {
        bail!("{}: no such run directory", dir.display());
    };
    Ok((read_merged_hlog(&hlog.0)?, hlog.1))
}

fn read_merged_hlog(path: &Path) -> Result<Histogram<u64>> {
    let mut h = new_histogram();
    for (_, _, iv) in read_hlog(path).with_context(|| format!("reading {}", path.display()))? {
        h.add(&iv)
            .with_context(|| format!("{}: merging histograms", path.display()))?;
    }
    Ok(h)
}

/// Histogram buckets as (value, count), each bucket at its median equivalent value (ns).
fn histogram_points(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    h.iter_recorded()
        .map(|v| {
            (
                h.median_equivalent(v.value_iterated_to()) as f64,
                v.count_at_value(),
            )
        })
        .collect()
}

/// Reads a CSV of samples (one per line) into ns, with the line of each bad value.
fn read_csv(path: &Path, unit: Unit) -> Result<Vec<f64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let field = l.trim_end_matches(',').trim();
        let v: f64 = field.parse().map_err(|_| {
            anyhow!(
                "{}:{}: {field:?} is not a number (one sample per line)",
                path.display(),
                i + 1
            )
        })?;
        if !v.is_finite() {
            bail!(
                "{}:{}: {field} is not a finite latency; drop NaN/inf values first",
                path.display(),
                i + 1
            );
        }
        if v < 0.0 {
            bail!(
                "{}:{}: {v} is negative; latencies cannot be (check the subtraction that produced it)",
                path.display(),
                i + 1
            );
        }
        out.push(v * unit.ns());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// fit

/// What `model fit` writes to model.json.
#[derive(Debug, Serialize)]
struct ModelFile<'a> {
    /// Where the data came from.
    source: String,
    /// Unit of every time in this file.
    unit: &'static str,
    /// Number of samples.
    samples: u64,
    /// The chosen fit.
    best: Best<'a>,
    /// Sample mean, ns.
    mean: f64,
    /// Sample squared coefficient of variation.
    scv: Option<f64>,
    /// Tail index estimates.
    tail_index: TailIndex,
    /// Every fit.
    fit: &'a FitReport,
}

#[derive(Debug, Serialize)]
struct Best<'a> {
    family: &'static str,
    dist: &'a ServiceDist,
}

#[derive(Debug, Serialize)]
struct TailIndex {
    /// GPD shape ξ of the upper tail (> 0: power law with index 1/ξ).
    gpd_shape: Option<f64>,
    /// Hill estimate of the tail index α.
    hill_alpha: Option<f64>,
}

fn run_fit(a: &FitArgs) -> Result<()> {
    let opts = FitOptions::default();
    let (result, source, out_dir) = if let Some(path) = &a.csv {
        let samples = read_csv(path, a.unit)?;
        (
            fit_samples(&samples, &opts),
            path.display().to_string(),
            parent(path),
        )
    } else {
        let (h, source, dir) = match (&a.run, &a.hlog) {
            (Some(dir), _) => {
                let (h, s) = load_histogram(dir, a.probe.as_deref())?;
                (h, s, dir.clone())
            }
            (None, Some(file)) => (
                read_merged_hlog(file)?,
                file.display().to_string(),
                parent(file),
            ),
            (None, None) => bail!("give a RUN_DIR, --hlog FILE or --csv FILE"),
        };
        (fit_weighted(&histogram_points(&h), &opts), source, dir)
    };
    let report = result.map_err(|e| match &e {
        FitError::AllEqual { value, count } => anyhow!(
            "{source}: all {count} samples equal {}: the latency is deterministic, there is no distribution to fit (predict with --service det:{}ns)",
            output::human_ns(*value),
            value
        ),
        _ => anyhow!("{source}: {e}"),
    })?;

    let best = report.best();
    let tail_index = TailIndex {
        gpd_shape: report.tail.as_ref().map(|t| t.shape),
        hill_alpha: report.tail.as_ref().and_then(|t| t.hill_alpha),
    };
    let file = ModelFile {
        source: source.clone(),
        unit: "ns",
        samples: report.data.count,
        best: Best {
            family: best.family.name(),
            dist: &best.dist,
        },
        mean: report.data.mean,
        scv: report.data.scv,
        tail_index,
        fit: &report,
    };
    let json_path = out_dir.join("model.json");
    let svg_path = out_dir.join("model-ccdf.svg");
    write_json(&json_path, &file).with_context(|| format!("writing {}", json_path.display()))?;
    write_atomic(&svg_path, ccdf_plot(&report, &source).to_svg().as_bytes())
        .with_context(|| format!("writing {}", svg_path.display()))?;

    if a.json {
        println!("{}", serde_json::to_string_pretty(&file)?);
    } else {
        print!("{}", describe_fit(&file));
        println!("\nwrote {} and {}", json_path.display(), svg_path.display());
    }
    Ok(())
}

fn parent(p: &Path) -> PathBuf {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A parameter as text: times (ns) in µs with the unit, the rest as numbers.
fn param_text(name: &str, value: f64) -> String {
    match name {
        "shift" | "scale" | "mean1" | "mean2" | "location" => {
            format!("{name}={}", output::human_ns(value))
        }
        "mu" => format!("mu={value:.4} (ln ns)"),
        _ => format!("{name}={value:.4}"),
    }
}

fn describe_fit(f: &ModelFile) -> String {
    let r = f.fit;
    let mut s = format!(
        "fitted {} samples from {} (min {}, max {})\n\n",
        r.data.count,
        f.source,
        output::human_ns(r.data.min),
        output::human_ns(r.data.max)
    );
    let mut t =
        Table::new(&["family", "parameters", "KS", "A²", "AIC", "mean", "cs²", ""]).left_aligned();
    for (i, fit) in r.fits.iter().enumerate() {
        let params: Vec<String> = fit
            .params
            .iter()
            .map(|p| param_text(p.name, p.value))
            .collect();
        let mark = if i == 0 {
            "best".to_string()
        } else {
            fit.rejected
                .as_ref()
                .map(|_| "rejected".to_string())
                .unwrap_or_default()
        };
        t.row(vec![
            fit.family.name().to_string(),
            params.join(" "),
            format!("{:.4}", fit.ks),
            format!("{:.3}", fit.anderson_darling),
            format!("{:.1}", fit.aic),
            output::human_ns(fit.mean),
            format!("{:.3}", fit.scv),
            mark,
        ]);
    }
    if let Some(tail) = &r.tail {
        t.row(vec![
            format!("gpd tail > p{}", tail.level * 100.0),
            format!(
                "u={} shape={:.4} scale={}",
                output::human_ns(tail.threshold),
                tail.shape,
                output::human_ns(tail.scale)
            ),
            format!("{:.4}", tail.ks),
            format!("{:.3}", tail.anderson_darling),
            "—".into(),
            "—".into(),
            "—".into(),
            "tail only".into(),
        ]);
    }
    t.row(vec![
        "empirical".into(),
        format!("{} distinct values", r.data.distinct),
        "0".into(),
        "—".into(),
        "—".into(),
        output::human_ns(r.data.mean),
        r.data.scv.map_or("—".into(), |v| format!("{v:.3}")),
        String::new(),
    ]);
    s += &t.render();
    let best = r.best();
    let _ = writeln!(
        s,
        "\nbest: {} (lowest AIC among sane fits); mean {}, cs² {}",
        best.family.name(),
        output::human_ns(r.data.mean),
        r.data.scv.map_or("—".into(), |v| format!("{v:.3}"))
    );
    match &r.tail {
        Some(t) => {
            let _ = write!(s, "tail: GPD shape ξ = {:.3}", t.shape);
            if t.shape > 0.0 {
                let _ = write!(s, " (power law, index 1/ξ = {:.2})", 1.0 / t.shape);
            } else {
                let _ = write!(s, " (exponential or lighter)");
            }
            match t.hill_alpha {
                Some(a) => {
                    let _ = writeln!(s, ", Hill α = {a:.2}");
                }
                None => s.push('\n'),
            }
        }
        None => {
            let why = r
                .skipped
                .iter()
                .find(|k| k.family.is_none())
                .map(|k| k.error.to_string())
                .unwrap_or_else(|| "not fitted".into());
            let _ = writeln!(s, "tail index: n/a ({why})");
        }
    }
    for k in r.skipped.iter().filter(|k| k.family.is_some()) {
        let _ = writeln!(
            s,
            "skipped {}: {}",
            k.family.map(|f| f.name()).unwrap_or("tail"),
            k.error
        );
    }
    s
}

/// Measured CCDF (steps) and every sane fit's CCDF (dashed), both axes logarithmic, x in µs.
fn ccdf_plot(r: &FitReport, source: &str) -> Plot {
    let ServiceDist::Empirical(emp) = &r.empirical else {
        unreachable!("the fit report's empirical law is Empirical")
    };
    let mut pts = emp.points();
    if pts.len() > 4000 {
        pts = WeightedSamples::from_weighted(&pts)
            .map(|w| w.quantize(3).iter().collect())
            .unwrap_or(pts);
    }
    let n = emp.total() as f64;
    let mut measured = Vec::with_capacity(pts.len() + 1);
    let mut cum = 0u64;
    if let Some(&(v0, _)) = pts.first() {
        measured.push((v0 / 1e3, 1.0));
    }
    for &(v, c) in &pts {
        cum += c;
        measured.push((v / 1e3, 1.0 - cum as f64 / n));
    }
    let mut series = vec![Series {
        label: format!("measured ({} samples)", emp.total()),
        points: measured,
        style: Style::Step,
    }];
    let lo = (r.data.min * 0.5).max(1.0);
    let hi = r.data.max * 2.0;
    let floor = 0.1 / n;
    let grid = |d: &ServiceDist| -> Vec<(f64, f64)> {
        (0..=200)
            .map(|i| lo * (hi / lo).powf(f64::from(i) / 200.0))
            .map(|x| (x / 1e3, d.sf(x)))
            .filter(|p| p.1 >= floor && p.1.is_finite())
            .collect()
    };
    for fit in r.fits.iter().filter(|f| f.rejected.is_none()) {
        series.push(Series {
            label: fit.family.name().to_string(),
            points: grid(&fit.dist),
            style: Style::Dashed,
        });
    }
    if let Some(t) = &r.tail {
        series.push(Series {
            label: "empirical + gpd tail".into(),
            points: grid(&t.dist),
            style: Style::Dashed,
        });
    }
    Plot {
        title: format!("latency CCDF: {source}"),
        x: Axis {
            label: "latency (µs)".into(),
            log: true,
        },
        y: Axis {
            label: "P(latency > x)".into(),
            log: true,
        },
        series,
    }
}

// ---------------------------------------------------------------------------------------------
// predict

fn method_name(m: &Method) -> String {
    match m {
        Method::Exact => "exact".into(),
        Method::LaplaceInversion => "laplace inversion".into(),
        Method::Approximation { name } => format!("approximation ({name})"),
        _ => format!("{m:?}"),
    }
}

fn law_text(d: &ServiceDist) -> String {
    let t = |s: f64| output::human_ns(s * 1e9);
    match d {
        ServiceDist::Deterministic(v) => format!("deterministic {}", t(*v)),
        ServiceDist::Exponential(m) => format!("exponential, mean {}", t(*m)),
        _ => format!("{}, mean {}, cs² {:.3}", d.name(), t(d.mean()), d.scv()),
    }
}

#[derive(Debug, Serialize)]
struct PredictOut {
    service: String,
    servers: u32,
    unit: &'static str,
    predictions: Vec<Prediction>,
    knee: Option<latlab_queueing::models::Knee>,
}

fn run_predict(a: &PredictArgs) -> Result<()> {
    let (service, origin) = match (&a.model, &a.service) {
        (Some(m), _) => (scale_dist(&read_model(m)?, 1e-9)?, m.display().to_string()),
        (None, Some(s)) => (parse_service(s)?, s.clone()),
        (None, None) => bail!("give --model FILE or --service SPEC"),
    };
    let service = match service {
        // Quantize measured laws so that each prediction stays fast.
        ServiceDist::Empirical(e) => {
            let w = WeightedSamples::from_weighted(&e.points())
                .map_err(|e| anyhow!("{origin}: {e}"))?
                .quantize(3);
            ServiceDist::Empirical(Empirical::from_weighted_samples(&w)?)
        }
        d => d,
    };
    let spec = QueueSpec::poisson(service, a.servers).with_context(|| origin.clone())?;
    let lambdas: Vec<f64> = match &a.rate {
        Some(r) => r.0.clone(),
        None => a.load.0.iter().map(|l| l * spec.capacity()).collect(),
    };
    let visible = output::interactive(a.json) && lambdas.len() >= 8;
    let bar = output::bar(lambdas.len() as u64, "predicting", visible);
    let mut predictions = Vec::with_capacity(lambdas.len());
    for &l in &lambdas {
        let p = spec.predict(l).map_err(|e| match e {
            ModelError::Unstable { .. } => anyhow!(
                "λ = {l}/s: {e} (per second; the capacity is {}/s)",
                rate(spec.capacity())
            ),
            e => anyhow!("λ = {l}/s: {e}"),
        })?;
        predictions.push(p);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let knee = match a.budget {
        Some(b) => Some(spec.knee(b.level, b.seconds).map_err(|e| match e {
            ModelError::BudgetBelowServiceTime { .. } => anyhow!(
                "no knee for p{}:{}: the service time alone has p{} = {} (raise the budget)",
                b.level * 100.0,
                output::human_ns(b.seconds * 1e9),
                b.level * 100.0,
                output::human_ns(spec.service.quantile(b.level) * 1e9)
            ),
            e => anyhow!("knee: {e}"),
        })?),
        None => None,
    };
    let out = PredictOut {
        service: law_text(&spec.service),
        servers: a.servers,
        unit: "s",
        predictions,
        knee,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", describe_predict(&out, spec.capacity()));
    }
    Ok(())
}

fn describe_predict(o: &PredictOut, capacity: f64) -> String {
    let t = |s: f64| output::human_ns(s * 1e9);
    let mut s = format!(
        "service: {}; {} server{}, Poisson arrivals; capacity {}/s\n",
        o.service,
        o.servers,
        if o.servers == 1 { "" } else { "s" },
        rate(capacity)
    );
    for (title, pick) in [
        ("waiting time (in queue)", true),
        ("sojourn time (wait + service)", false),
    ] {
        let _ = writeln!(s, "\n{title}:");
        let mut tb = Table::new(&[
            "load", "λ /s", "model", "method", "mean", "p50", "p90", "p99", "p99.9", "p99.99",
        ]);
        for p in &o.predictions {
            let (mean, q) = if pick {
                (p.mean_wait, p.wait)
            } else {
                (p.mean_sojourn, p.sojourn)
            };
            let mut row = vec![
                format!("{:.3}", p.utilization),
                rate(p.lambda),
                p.model.to_string(),
                method_name(&p.method),
                t(mean),
            ];
            row.extend(q.values().iter().map(|v| t(*v)));
            tb.row(row);
        }
        s += &tb.render();
    }
    if let Some(k) = &o.knee {
        let _ = writeln!(
            s,
            "\nknee: p{} of the sojourn ≤ {} up to load {:.4} (λ = {}/s; p{} there = {}; {}, {})",
            k.percentile * 100.0,
            t(k.budget),
            k.utilization,
            rate(k.lambda),
            k.percentile * 100.0,
            t(k.sojourn_at_knee),
            k.model,
            method_name(&k.method)
        );
    }
    s
}

// ---------------------------------------------------------------------------------------------
// sim

fn parse_arrivals(spec: &str) -> Result<(ArrivalProcess, Option<(String, usize)>)> {
    let (kind, arg) = spec.split_once(':').ok_or_else(|| {
        anyhow!("{spec:?} is not an arrival process (examples: poisson:800, constant:1k, onoff:2k,10ms,40ms, trace:gaps.txt)")
    })?;
    let rate = |s: &str| parse_scaled(s, "rate per second").map_err(anyhow::Error::msg);
    Ok(match kind.trim() {
        "poisson" => (ArrivalProcess::Poisson { rate: rate(arg)? }, None),
        "constant" => (ArrivalProcess::Constant { rate: rate(arg)? }, None),
        "onoff" | "on-off" => {
            let parts: Vec<&str> = arg.split(',').collect();
            let [on, mean_on, mean_off] = parts[..] else {
                bail!("onoff needs ON_RATE,MEAN_ON,MEAN_OFF, e.g. onoff:2k,10ms,40ms");
            };
            let secs = |s: &str| parse_seconds(s).map_err(anyhow::Error::msg);
            (
                ArrivalProcess::on_off(rate(on)?, secs(mean_on)?, secs(mean_off)?),
                None,
            )
        }
        "trace" => {
            let path = Path::new(arg);
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the trace {}", path.display()))?;
            let mut gaps = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let l = line.trim();
                if l.is_empty() || l.starts_with('#') {
                    continue;
                }
                let v = match l.parse::<f64>() {
                    Ok(v) => v,
                    Err(_) => parse_seconds(l)
                        .map_err(|e| anyhow!("{}:{}: {e}", path.display(), i + 1))?,
                };
                if !(v.is_finite() && v >= 0.0) {
                    bail!(
                        "{}:{}: {l} is not an inter-arrival time (finite, ≥ 0)",
                        path.display(),
                        i + 1
                    );
                }
                gaps.push(v);
            }
            if gaps.is_empty() {
                bail!("{}: the trace has no inter-arrival times", path.display());
            }
            let n = gaps.len();
            (
                ArrivalProcess::Trace {
                    interarrivals: gaps,
                    repeat: false,
                },
                Some((path.display().to_string(), n)),
            )
        }
        other => {
            bail!("unknown arrival process {other:?} (one of: poisson, constant, onoff, trace)")
        }
    })
}

fn run_sim(a: &SimArgs) -> Result<()> {
    let (arrivals, trace) = parse_arrivals(&a.arrivals)?;
    let mut source = Source::new(arrivals);
    let service = match (a.link_rate, &a.service) {
        (Some(rate_bps), _) => {
            source = source.with_size(SizeSpec::Fixed(a.size));
            Service::Link { rate_bps }
        }
        (None, Some(s)) => Service::Servers {
            count: a.servers,
            time: parse_service(s)?,
        },
        (None, None) => bail!("give --service SPEC or --link-rate BPS"),
    };
    let stop = match (a.duration, a.customers, &trace) {
        (Some(t), _, _) => Stop::Duration(t),
        (None, Some(n), _) => Stop::Customers(n),
        (None, None, Some((_, n))) => Stop::Customers(*n as u64),
        (None, None, None) => Stop::Customers(100_000),
    };
    let scenario: Scenario<ServiceDist> = Scenario::with_service_time(vec![source], service, stop)
        .with_discipline(a.discipline.clone())
        .with_seed(a.seed)
        .with_warmup(a.warmup);
    let report = simulate(&scenario).context("simulation")?;

    let dir = RunDir::create(&a.out, "sim")?;
    let doc = sim_json(&scenario, &report, trace.as_ref())?;
    write_json(&dir.file("sim.json"), &doc).context("writing sim.json")?;
    write_sojourn_hlog(&dir.file("sojourn.hlog"), &report).context("writing sojourn.hlog")?;
    let mut drops = String::from("time_s\n");
    for t in &report.drops.times {
        let _ = writeln!(drops, "{t}");
    }
    write_atomic(&dir.file("drops.csv"), drops.as_bytes()).context("writing drops.csv")?;
    let mut queue = String::from("time_s,in_system,in_queue\n");
    for (i, (n, q)) in report
        .queue
        .in_system
        .iter()
        .zip(&report.queue.in_queue)
        .enumerate()
    {
        let _ = writeln!(queue, "{},{n},{q}", report.queue.time_of(i));
    }
    write_atomic(&dir.file("queue.csv"), queue.as_bytes()).context("writing queue.csv")?;

    if a.json {
        let mut out = doc;
        out["run_dir"] = json!(dir.path().display().to_string());
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", describe_sim(&scenario, &report));
        println!("\nwrote {}", dir.path().display());
    }
    Ok(())
}

/// The scenario and the report, without the bulky series (they are in the CSVs and the hlog).
fn sim_json(
    scenario: &Scenario<ServiceDist>,
    report: &SimReport,
    trace: Option<&(String, usize)>,
) -> Result<Value> {
    let mut sc = serde_json::to_value(scenario)?;
    if let Some((file, n)) = trace {
        if let Some(arr) = sc.pointer_mut("/sources/0/arrivals") {
            arr["interarrivals"] = json!({ "file": file, "count": n });
        }
    }
    if let Some(Value::Object(svc)) = sc.pointer_mut("/service/time") {
        if svc.get("family").and_then(Value::as_str) == Some("empirical") {
            let n = svc.get("params").and_then(Value::as_array).map(Vec::len);
            svc.insert("params".into(), json!({ "distinct_values": n }));
        }
    }
    let mut rep = serde_json::to_value(report)?;
    if let Some(q) = rep.get_mut("queue") {
        q["in_system"] = json!({ "file": "queue.csv", "samples": report.queue.len() });
        q["in_queue"] = json!({ "file": "queue.csv", "samples": report.queue.len() });
    }
    if let Some(d) = rep.get_mut("drops") {
        d["times"] = json!({ "file": "drops.csv", "kept": report.drops.times.len() });
    }
    rep["sojourn_histogram"] = json!({ "file": "sojourn.hlog", "unit": "ns" });
    Ok(json!({ "unit": "s", "scenario": sc, "report": rep }))
}

/// Writes the report's sojourn histogram as a one-interval log spanning the run.
fn write_sojourn_hlog(path: &Path, report: &SimReport) -> Result<()> {
    let h = &report.sojourn_histogram;
    let mut compressed = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut compressed)
        .map_err(|e| anyhow!("compressing the sojourn histogram: {e:?}"))?;
    let iv = Interval {
        start_ns: 0,
        length_ns: ((report.end_time * 1e9) as u64).max(1),
        max_ns: if h.is_empty() { 0 } else { h.max() },
        count: h.len(),
        compressed,
    };
    write_hlog(
        path,
        0,
        "latlab model sim: sojourn times in ns of virtual time (start time is the run's t = 0)",
        &[iv],
    )?;
    Ok(())
}

fn describe_sim(sc: &Scenario<ServiceDist>, r: &SimReport) -> String {
    let t = |s: f64| output::human_ns(s * 1e9);
    let who = match &sc.service {
        Service::Servers { count, time } => {
            format!(
                "{count} server{} ({})",
                if *count == 1 { "" } else { "s" },
                law_text(time)
            )
        }
        Service::Link { rate_bps } => format!("a {:.4e} bit/s link", rate_bps),
    };
    let arr = &sc.sources[0].arrivals;
    let arrivals = match arr {
        ArrivalProcess::Poisson { rate } => format!("poisson {rate}/s"),
        ArrivalProcess::Constant { rate } => format!("constant {rate}/s"),
        ArrivalProcess::Mmpp { .. } => format!("on-off, mean {}/s", rate(arr.mean_rate())),
        ArrivalProcess::Trace { interarrivals, .. } => {
            format!("trace of {} arrivals", interarrivals.len())
        }
    };
    let mut s = format!(
        "{arrivals} → {who}, {}; seed {}; engine {:?}, {} events, {} of virtual time\n\n",
        r.discipline,
        r.seed,
        r.engine,
        r.events,
        t(r.end_time)
    );
    let mut tb = Table::new(&["", "mean", "99% CI", "p50", "p90", "p99", "p99.9", "max"]);
    let q = &r.sojourn_quantiles;
    tb.row(vec![
        "sojourn".into(),
        t(r.sojourn.mean),
        format!("{} – {}", t(r.sojourn.low), t(r.sojourn.high)),
        t(q.p50),
        t(q.p90),
        t(q.p99),
        t(q.p999),
        t(q.max),
    ]);
    tb.row(vec![
        "wait".into(),
        t(r.wait.mean),
        format!("{} – {}", t(r.wait.low), t(r.wait.high)),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    s += &tb.render();
    let _ = writeln!(
        s,
        "\narrived {}, served {}, dropped {} ({:.4}%: overflow {}, early {}, head {}, fattest flow {}), in system at end {}",
        r.arrived,
        r.served,
        r.dropped,
        if r.arrived > 0 { 100.0 * r.dropped as f64 / r.arrived as f64 } else { 0.0 },
        r.drops.overflow,
        r.drops.early,
        r.drops.head,
        r.drops.fattest_flow,
        r.in_system_at_end
    );
    let _ = writeln!(
        s,
        "utilisation {:.4}, throughput {}/s, mean in system {:.4}",
        r.utilisation,
        rate(r.throughput),
        r.mean_in_system
    );
    if r.histogram_saturated > 0 {
        let _ = writeln!(
            s,
            "note: {} sojourns exceeded the histogram's range and were counted at its top",
            r.histogram_saturated
        );
    }
    s
}

/// A rate per second with as many digits as it needs (6 significant).
fn rate(r: f64) -> String {
    if r.is_finite() && r.abs() >= 1.0 {
        let digits = (6 - (r.abs().log10().floor() as i32 + 1)).max(0) as usize;
        format!("{r:.digits$}")
    } else {
        format!("{r:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_loads_budgets_and_rates_parse() {
        assert_eq!(parse_seconds("20us"), Ok(20e-6));
        assert_eq!(parse_seconds("1.5ms"), Ok(1.5e-3));
        assert!(parse_seconds("20").unwrap_err().contains("unit"));
        assert!(parse_seconds("3 parsecs").is_err());
        assert_eq!(parse_loads("0.5,0.8,0.9"), Ok(Numbers(vec![0.5, 0.8, 0.9])));
        let r = parse_loads("0.1..0.95").unwrap().0;
        assert_eq!(r.len(), 10);
        assert_eq!((r[0], r[8], r[9]), (0.1, 0.9, 0.95));
        assert_eq!(
            parse_loads("0.5..0.7:0.1"),
            Ok(Numbers(vec![0.5, 0.6, 0.7]))
        );
        assert!(parse_loads("0.5,1.0").is_err());
        let b = parse_budget("p99.9:10ms").unwrap();
        assert!((b.level - 0.999).abs() < 1e-12 && (b.seconds - 0.01).abs() < 1e-15);
        assert!(parse_budget("p100:1ms").is_err());
        assert_eq!(parse_bps("100M"), Ok(1e8));
        assert_eq!(parse_bps("10Gbit"), Ok(1e10));
        assert!(parse_discipline("droptail").is_err());
        assert!(parse_discipline("codel-linux").is_ok());
        assert!(parse_discipline("sfq").is_err());
    }

    #[test]
    fn service_laws_parse_in_seconds() {
        assert_eq!(
            parse_service("exp:20us").unwrap(),
            ServiceDist::Exponential(20e-6)
        );
        assert_eq!(
            parse_service("det:1s").unwrap(),
            ServiceDist::Deterministic(1.0)
        );
        // ln(S / 1 ns) ~ N(10, 0.5²) is ln(S / 1 s) ~ N(10 + ln 1e-9, 0.5²).
        match parse_service("lognormal:10ns,0.5").unwrap() {
            ServiceDist::LogNormal { mu, sigma, .. } => {
                assert!((mu - (10.0 + 1e-9f64.ln())).abs() < 1e-12 && sigma == 0.5)
            }
            d => panic!("{d:?}"),
        }
        assert!(matches!(
            parse_service("lognormal:-9.5,0.5").unwrap(),
            ServiceDist::LogNormal { mu, .. } if mu == -9.5
        ));
        assert!(parse_service("gamma:2").is_err());
        assert!(parse_service("exp:-1s").is_err());
        assert!(parse_service("weird:1").is_err());
    }

    #[test]
    fn rescaling_preserves_the_law() {
        let d = ServiceDist::LogNormal {
            shift: 5000.0,
            mu: 9.0,
            sigma: 0.7,
        };
        let s = scale_dist(&d, 1e-9).unwrap();
        for p in [0.1, 0.5, 0.99] {
            assert!((s.quantile(p) / (d.quantile(p) * 1e-9) - 1.0).abs() < 1e-9);
        }
        let e = ServiceDist::Empirical(Empirical::new(&[(1000.0, 3), (3000.0, 1)]).unwrap());
        let es = scale_dist(&e, 1e-3).unwrap();
        assert!((es.mean() - 1.5).abs() < 1e-12);
    }
}
