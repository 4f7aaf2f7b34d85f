//! `latlab calibrate`: from run directories to the timing parameters of a real system.
//!
//! The run's RTT histograms (from the `.hlog` files, every bucket, not just the summary
//! percentiles), its loss and its clock-offset estimates become a `CalibrationInput`; the pure
//! `latlab-calibrate` crate derives the parameters with their predicted false-positive rates;
//! this module prints them, writes `calibration-<target>.json` and the target's config file
//! into the (first) run directory, and prints the config.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use latlab_calibrate::export::{self, Exporter};
use latlab_calibrate::{
    calibrate, CalibrationInput, CalibrationResult, ClockOffsetSummary, Options, Target,
    WeightedPoint,
};
use latlab_probes::manifest::{LoopMode, ProbeSummary, Summary};
use latlab_probes::record::{new_histogram, read_hlog};
use latlab_probes::rundir::{write_atomic, write_json};
use latlab_probes::{RunDir, RunStatus};

use crate::cli::CalibrateArgs;
use crate::output::{self, Table};

/// Parses a rate per hour: `1e-4`, `1e-4/h`, `0.01/day`, `1/week`.
pub fn parse_rate_per_hour(s: &str) -> Result<f64, String> {
    let (num, unit) = s.split_once('/').unwrap_or((s, "h"));
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a rate (examples: 1e-4/h, 0.01/day)"))?;
    let per_hour = match unit.trim() {
        "h" | "hour" => v,
        "min" | "minute" => v * 60.0,
        "s" | "second" => v * 3600.0,
        "day" | "d" => v / 24.0,
        "week" | "w" => v / 168.0,
        "year" | "y" => v / 8766.0,
        u => {
            return Err(format!(
                "unknown unit {u:?} in {s:?} (use /h, /day, /week, /year)"
            ))
        }
    };
    if per_hour.is_finite() && per_hour > 0.0 {
        Ok(per_hour)
    } else {
        Err(format!("{s:?}: the rate must be a positive number"))
    }
}

/// Parses a drift bound: `200ppm` or `200`.
pub fn parse_ppm(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches("ppm")
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a drift bound (example: 200ppm)"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{s:?}: the drift bound must be zero or positive"))
    }
}

/// What a set of run directories says about one path: the histogram and the rest.
pub struct Evidence {
    /// Merged RTT histogram of the selected probes.
    pub rtt: Histogram<u64>,
    /// Probes sent and lost.
    pub sent: u64,
    /// Probes lost.
    pub lost: u64,
    /// Pooled clock-offset summary.
    pub offset: Option<ClockOffsetSummary>,
    /// Total measuring time, s.
    pub seconds: f64,
    /// The probes used, as `run/probe`.
    pub used: Vec<String>,
}

/// Reads the selected probes of `runs`: `probe` names one, else every closed-loop probe (the
/// unloaded path), else every probe.
pub fn gather(runs: &[PathBuf], probe: Option<&str>) -> Result<Evidence> {
    gather_from(runs, probe, true)
}

fn gather_from(runs: &[PathBuf], probe: Option<&str>, warn_unfinished: bool) -> Result<Evidence> {
    let mut ev = Evidence {
        rtt: new_histogram(),
        sent: 0,
        lost: 0,
        offset: None,
        seconds: 0.0,
        used: Vec::new(),
    };
    let mut offsets: Vec<(u64, f64, f64, i64, i64)> = Vec::new();
    for path in runs {
        let dir = RunDir::open(path)?;
        let file = dir.file("summary.json");
        let summary: Summary = serde_json::from_slice(
            &std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
        )
        .with_context(|| format!("{} is not a latlab summary", file.display()))?;
        if warn_unfinished && summary.status != RunStatus::Complete {
            let status = serde_json::to_value(summary.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            eprintln!(
                "warning: {} is {status}: calibrating from what it measured",
                path.display(),
            );
        }
        let chosen: Vec<&ProbeSummary> = match probe {
            Some(name) => summary.probes.iter().filter(|p| p.name == name).collect(),
            None => {
                let closed: Vec<_> = summary
                    .probes
                    .iter()
                    .filter(|p| p.mode == LoopMode::Closed)
                    .collect();
                if closed.is_empty() {
                    summary.probes.iter().collect()
                } else {
                    closed
                }
            }
        };
        if chosen.is_empty() {
            let names: Vec<_> = summary.probes.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "{} has no probe {} (it has: {})",
                path.display(),
                probe.map_or("at all".to_string(), |n| format!("named {n:?}")),
                names.join(", ")
            );
        }
        for p in chosen {
            let hlog = dir.file(&p.hlog);
            for (_, _, h) in
                read_hlog(&hlog).with_context(|| format!("reading {}", hlog.display()))?
            {
                ev.rtt.add(&h).context("merging histograms")?;
            }
            ev.sent += p.sent;
            ev.lost += p.lost;
            ev.seconds += p.duration_s;
            if let Some(o) = p.clock_offset {
                offsets.push((o.count, o.mean, o.stddev, o.min, o.max));
            }
            ev.used.push(format!("{}/{}", dir.id(), p.name));
        }
    }
    if ev.rtt.is_empty() {
        bail!("the selected probes recorded no round trips: nothing to calibrate from");
    }
    if !offsets.is_empty() {
        // Pool the per-probe summaries: weighted mean, and the pooled variance including the
        // spread between probe means.
        let n: u64 = offsets.iter().map(|o| o.0).sum();
        let mean = offsets.iter().map(|o| o.0 as f64 * o.1).sum::<f64>() / n.max(1) as f64;
        let var = offsets
            .iter()
            .map(|o| o.0 as f64 * (o.2 * o.2 + (o.1 - mean).powi(2)))
            .sum::<f64>()
            / n.max(1) as f64;
        ev.offset = Some(ClockOffsetSummary {
            mean_ns: mean,
            stddev_ns: var.sqrt(),
            min_ns: offsets.iter().map(|o| o.3).min().unwrap_or(0) as f64,
            max_ns: offsets.iter().map(|o| o.4).max().unwrap_or(0) as f64,
            count: n,
        });
    }
    Ok(ev)
}

/// The histogram's buckets as weighted points (each bucket at its highest equivalent value,
/// so the distribution is never understated).
pub fn weighted_points(h: &Histogram<u64>) -> Vec<WeightedPoint> {
    h.iter_recorded()
        .map(|v| WeightedPoint {
            value_ns: v.value_iterated_to() as f64,
            count: v.count_at_value(),
        })
        .collect()
}

/// Builds the calibration input from gathered evidence.
pub fn input(ev: &Evidence, source: &str) -> CalibrationInput {
    CalibrationInput {
        source_run: source.to_string(),
        rtt: Some(weighted_points(&ev.rtt)),
        one_way: None,
        loss_probability: if ev.sent > 0 {
            ev.lost as f64 / ev.sent as f64
        } else {
            0.0
        },
        clock_offset: ev.offset,
        sample_duration_s: Some(ev.seconds),
    }
}

pub fn run(a: &CalibrateArgs) -> Result<()> {
    let target: Target = a.target.parse().map_err(anyhow::Error::msg)?;
    let ev = gather(&a.runs, a.probe.as_deref())?;
    let source = ev.used.join(", ");
    let opts = Options {
        budget_per_hour: a.false_suspicion,
        cluster_size: a.nodes,
        heartbeat_ms: a.heartbeat_ms,
        require_evidence: a.require_evidence,
        clock: latlab_calibrate::ClockOptions {
            drift_ppm: a.clock_drift,
            ..Default::default()
        },
        ..Options::default()
    };
    let result = calibrate(&input(&ev, &source), target, &opts)?;
    let exporter: Box<dyn Exporter> = match &a.export {
        Some(name) => export::exporter(name).with_context(|| {
            let names: Vec<_> = export::exporters().iter().map(|e| e.name()).collect();
            format!(
                "unknown export format {name:?} (one of: {})",
                names.join(", ")
            )
        })?,
        None => export::default_exporter(target),
    };
    let config = exporter.render(&result);

    // Files next to the first run's results.
    let dir = &a.runs[0];
    write_json(&dir.join(format!("calibration-{target}.json")), &result)
        .context("writing the calibration")?;
    if let Ok(text) = &config {
        write_atomic(
            &dir.join(config_file_name(exporter.name())),
            text.as_bytes(),
        )
        .context("writing the config")?;
    }
    if let Some(out) = &a.output {
        let text = config.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        if out.as_os_str() == "-" {
            print!("{text}");
            return Ok(());
        }
        write_atomic(out, text.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    }

    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", describe(&result, &ev));
        match &config {
            Ok(text) => {
                println!(
                    "\n{} ({}):",
                    exporter.name(),
                    dir.join(config_file_name(exporter.name())).display()
                );
                print!("{text}");
            }
            Err(e) => println!("\nno {} config: {e}", exporter.name()),
        }
    }
    config.map(|_| ()).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Calibrates `run` (one probe of it) for `target` with default options, and writes the
/// result and the target's config into the run directory. Used by `latlab lab`.
pub fn calibrate_run(
    run: &std::path::Path,
    probe: &str,
    target: Target,
) -> Result<(CalibrationResult, Evidence)> {
    // The lab calibrates its own run before marking it complete: no warning about that.
    let ev = gather_from(&[run.to_path_buf()], Some(probe), false)?;
    let result = calibrate(
        &input(&ev, &ev.used.join(", ")),
        target,
        &Options::default(),
    )?;
    write_json(&run.join(format!("calibration-{target}.json")), &result)?;
    let exporter = export::default_exporter(target);
    if let Ok(text) = exporter.render(&result) {
        write_atomic(
            &run.join(config_file_name(exporter.name())),
            text.as_bytes(),
        )?;
    }
    Ok((result, ev))
}

/// The file name an export is written under.
pub fn config_file_name(format: &str) -> String {
    match format {
        "etcd-flags" => "etcd.flags".into(),
        "etcd-yaml" => "etcd.yaml".into(),
        "hashicorp-raft" => "hashicorp-raft.go".into(),
        "tikv" => "tikv.toml".into(),
        "cockroachdb" => "cockroachdb.env".into(),
        "cassandra" => "cassandra.yaml".into(),
        "akka" => "akka.conf".into(),
        "json" => "timeouts.json".into(),
        "toml" => "timeouts.toml".into(),
        other => format!("{other}.txt"),
    }
}

fn ms(ns: f64) -> String {
    output::human_ns(ns)
}

/// The human report: one row per parameter, then the warnings.
pub fn describe(r: &CalibrationResult, ev: &Evidence) -> String {
    let mut s = format!(
        "calibrated for {} from {} round trips ({}), {:.4}% lost; budget {:e} false positives per hour\n\n",
        r.target,
        ev.rtt.len(),
        ev.used.join(", "),
        if ev.sent > 0 { 100.0 * ev.lost as f64 / ev.sent as f64 } else { 0.0 },
        r.budget_per_hour
    );
    let mut t = Table::new(&[
        "parameter",
        "value",
        "predicted false positives",
        "detection",
    ])
    .left_aligned();
    if let Some(raft) = &r.raft {
        t.row(vec![
            "heartbeat interval".into(),
            format!("{} ms", raft.heartbeat_interval_ms),
            String::new(),
            String::new(),
        ]);
        t.row(vec![
            "election timeout".into(),
            format!(
                "{} ms (raft draws {}–{} ms)",
                raft.election_timeout_ms,
                raft.election_timeout_ms,
                2 * raft.election_timeout_ms
            ),
            format!(
                "{:.2e}/h worst case, {:.2e}/h randomised",
                raft.spurious_elections_per_hour, raft.spurious_elections_per_hour_expected
            ),
            format!("failover {}", ms(raft.expected_failover_ns)),
        ]);
    }
    if let Some(h) = &r.hashicorp {
        t.row(vec![
            "leader lease / commit timeout".into(),
            format!(
                "{} ms / {} ms",
                h.leader_lease_timeout_ms, h.commit_timeout_ms
            ),
            format!("{:.2e} step-downs/h", h.step_downs_per_hour),
            String::new(),
        ]);
    }
    if let Some(a) = &r.akka {
        t.row(vec![
            "akka phi threshold".into(),
            format!("{:.2}", a.threshold),
            format!("{:.2e}/h", a.false_suspicions_per_hour),
            format!("detect {}", ms(a.detection_ns)),
        ]);
    }
    if let Some(c) = &r.cassandra {
        t.row(vec![
            "cassandra phi_convict_threshold".into(),
            format!("{:.2}", c.phi_convict_threshold),
            format!("{:.2e}/h", c.false_suspicions_per_hour),
            format!("detect {}", ms(c.detection_ns)),
        ]);
    }
    t.row(vec![
        "RPC timeout (RFC 6298 RTO)".into(),
        ms(r.rpc.rto.rto_ns),
        format!("{:.2e} per request", r.rpc.rto.spurious_probability),
        String::new(),
    ]);
    t.row(vec![
        "RPC timeout (percentile)".into(),
        ms(r.rpc.percentile.timeout_ns),
        format!(
            "{:.2e} per request",
            r.rpc.percentile.false_timeout_probability
        ),
        String::new(),
    ]);
    t.row(vec![
        "hedge delay".into(),
        ms(r.rpc.hedge.delay_ns),
        format!("{:.1}% extra requests", 100.0 * r.rpc.hedge.extra_load),
        String::new(),
    ]);
    if let Some(c) = &r.clock {
        t.row(vec![
            "clock uncertainty ε / commit-wait".into(),
            format!("{} / {}", ms(c.epsilon_ns), ms(c.commit_wait_ns)),
            String::new(),
            String::new(),
        ]);
    }
    if let Some(l) = &r.lease {
        t.row(vec![
            "lease / holder stops at".into(),
            format!("{} ms / {}", l.duration_ms, ms(l.holder_stops_at_ns)),
            String::new(),
            String::new(),
        ]);
    }
    if let Some(c) = &r.cockroach {
        t.row(vec![
            "cockroachdb --max-offset".into(),
            format!("{} ms", c.max_offset_ms),
            String::new(),
            String::new(),
        ]);
    }
    s += &t.render();
    s += "\nEach value's derivation (measured inputs, model, formula) is in the JSON (--json).\n";
    for w in &r.warnings {
        s += &format!("note: {w}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_drift_parse_with_units() {
        assert_eq!(parse_rate_per_hour("1e-4/h"), Ok(1e-4));
        assert_eq!(parse_rate_per_hour("1e-4"), Ok(1e-4));
        assert!((parse_rate_per_hour("0.24/day").unwrap() - 0.01).abs() < 1e-12);
        assert!(parse_rate_per_hour("0/h").is_err());
        assert!(parse_rate_per_hour("x").is_err());
        assert!(parse_rate_per_hour("1/fortnight").is_err());
        assert_eq!(parse_ppm("200ppm"), Ok(200.0));
        assert_eq!(parse_ppm("50"), Ok(50.0));
        assert!(parse_ppm("-1ppm").is_err());
    }
}
