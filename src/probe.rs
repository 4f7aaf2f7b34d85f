//! `latlab probe rtt`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use latlab_kernels::UdpOptions;
use latlab_probes::manifest::ProbeSummary;
use latlab_probes::rtt::{ReplyFormat, RttConfig, Schedule};
use latlab_probes::stamp::ErrorEstimate;
use latlab_probes::RunStatus;
use serde_json::json;

use crate::cli::{Proto, ReplyArg, RttArgs, ScheduleArg};
use crate::context::RunContext;
use crate::datapath::ProbeEnds;
use crate::measure::{self, ProbeSpec};
use crate::{output, STOP};

/// The STAMP well-known port.
pub const STAMP_PORT: u16 = 862;

/// Resolves `HOST`, `HOST:PORT`, `[V6]:PORT` or `V6` with STAMP's port as the default.
pub fn resolve(target: &str) -> Result<SocketAddr> {
    if let Ok(a) = target.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = target.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, STAMP_PORT));
    }
    let with_port = if target.contains(':') {
        target.to_string()
    } else {
        format!("{target}:{STAMP_PORT}")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| {
            format!("cannot resolve target {target:?} (expected HOST, HOST:PORT or an IP address)")
        })?
        .next()
        .with_context(|| format!("target {target:?} resolved to no address"))
}

pub fn run_rtt(a: &RttArgs) -> Result<()> {
    let target = resolve(&a.target)?;
    let reply = match (a.reply, a.proto) {
        (Some(ReplyArg::Stamp), Proto::Tcp) => {
            bail!("--reply stamp is for UDP; over TCP latlab's reflector echoes (use --reply echo)")
        }
        (Some(ReplyArg::Stamp), _) | (None, Proto::Udp) => ReplyFormat::Stamp,
        (Some(ReplyArg::Echo), _) | (None, Proto::Tcp) => ReplyFormat::Echo,
    };
    if a.kernel_timestamps && a.proto == Proto::Tcp {
        bail!("--kernel-timestamps is available for UDP only");
    }
    let schedule = match (a.rate, a.schedule) {
        (None, _) => Schedule::Closed,
        (Some(r), _) if !(r.is_finite() && r > 0.0) => {
            bail!("--rate must be a positive number of probes per second")
        }
        (Some(rate_hz), ScheduleArg::Constant) => Schedule::Constant { rate_hz },
        (Some(rate_hz), ScheduleArg::Poisson) => Schedule::Poisson {
            rate_hz,
            seed: a.seed,
        },
    };
    let duration = match (a.count, a.duration) {
        (None, None) => Some(Duration::from_secs(5)),
        (_, d) => d,
    };
    let cfg = RttConfig {
        count: a.count,
        duration,
        warmup: a.warmup,
        size: a.size,
        schedule,
        timeout: a.timeout,
        reply,
        ssid: a.ssid,
        interval: a.interval,
        error_estimate: ErrorEstimate::from_seconds(1e-6, false),
        give_up_after: a.give_up,
    };
    let proto = match a.proto {
        Proto::Udp => "udp",
        Proto::Tcp => "tcp",
    };
    let dp = crate::datapath::open_probe(
        &a.path,
        &ProbeEnds {
            proto: a.proto,
            target,
            bind: a.bind,
            size: a.size,
            connect_timeout: a.give_up,
            udp: UdpOptions {
                busy_poll_us: a.busy_poll,
                kernel_timestamps: a.kernel_timestamps,
                recv_ttl: false,
                ..UdpOptions::default()
            },
        },
    )?;
    let topo = latlab_topology::Topology::detect();
    let placement = topo.placement(a.cpu, None, a.cpu.is_some());
    let config = json!({
        "target": target.to_string(), "proto": proto, "reply": format!("{reply:?}").to_lowercase(),
        "schedule": schedule.name(), "rate_hz": schedule.rate_hz(), "seed": a.seed,
        "count": a.count, "duration_s": duration.map(|d| d.as_secs_f64()), "warmup": a.warmup,
        "size_bytes": a.size, "timeout_s": a.timeout.as_secs_f64(), "give_up_s": a.give_up.as_secs_f64(),
        "busy_poll_us": a.busy_poll, "kernel_timestamps": a.kernel_timestamps, "cpu": a.cpu,
        "ssid": a.ssid, "interval_s": a.interval.as_secs_f64(),
        "datapath": a.path.datapath.name(), "sqpoll": a.path.sqpoll,
        "iface": a.path.iface, "queue": a.path.queue,
    });
    let mut ctx = RunContext::start(
        &a.output.out,
        "probe",
        "probe rtt",
        placement.clone(),
        config,
    )?;
    let spec = ProbeSpec {
        name: a.name.clone(),
        target: target.to_string(),
        proto,
        cfg,
        cpu: a.cpu,
        placement,
    };
    let show = output::interactive(a.output.json);
    let summary = match measure::run_probe(dp, &ctx.clock, &spec, &ctx.dir, &STOP, show) {
        Ok(s) => s,
        Err(e) => {
            ctx.abandon();
            return Err(e);
        }
    };
    ctx.summary.probes.push(summary.clone());
    let status = if STOP.load(Ordering::SeqCst) {
        RunStatus::Partial
    } else {
        RunStatus::Complete
    };
    ctx.finish(status)?;
    if a.output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_dir": ctx.dir.path(), "status": status, "clock": ctx.clock_info, "probe": summary,
            }))?
        );
    } else {
        print!("{}", describe(&summary));
        println!("results: {}", ctx.dir.path().display());
    }
    Ok(())
}

/// The human report of one probe: the table and the lines a table cannot hold.
pub fn describe(p: &ProbeSummary) -> String {
    let mut s = measure::results_table(std::slice::from_ref(p));
    let loss = if p.sent > 0 {
        100.0 * p.lost as f64 / p.sent as f64
    } else {
        0.0
    };
    s += &format!(
        "{} {} probes of {} B to {} over {} in {:.2} s ({:.0}/s): {} answered, {} lost ({loss:.3}%), {} late, {} reordered, {} duplicated, {} malformed\n",
        p.sent, p.schedule, p.size_bytes, p.target, p.datapath.kind, p.duration_s, p.achieved_rate_hz,
        p.received, p.lost, p.late, p.reordered, p.duplicates, p.malformed
    );
    if let Some(u) = p.rtt_uncorrected {
        s += &format!(
            "uncorrected RTT (from actual send time): p50 {} p99 {} p99.9 {} max {}\n",
            output::human_ns(u.p50 as f64),
            output::human_ns(u.p99 as f64),
            output::human_ns(u.p99_9 as f64),
            output::human_ns(u.max as f64)
        );
    }
    if let (Some(n), Some(r)) = (p.network_rtt, p.reflector_residence) {
        s += &format!(
            "network RTT (minus reflector residence): p50 {} p99 {}; reflector residence p50 {} p99 {}\n",
            output::human_ns(n.p50 as f64), output::human_ns(n.p99 as f64),
            output::human_ns(r.p50 as f64), output::human_ns(r.p99 as f64)
        );
    }
    if let Some(o) = p.clock_offset {
        s += &format!(
            "reflector clock offset: mean {} (min {}, max {}), from ((t2 - t1) + (t3 - t4)) / 2\n",
            output::human_ns(o.mean),
            output::human_ns(o.min as f64),
            output::human_ns(o.max as f64)
        );
    }
    if let Some(k) = p.rx_kernel_to_user {
        s += &format!(
            "kernel RX timestamp to user space: p50 {} p99 {}\n",
            output::human_ns(k.p50 as f64),
            output::human_ns(k.p99 as f64)
        );
    }
    if p.status != "complete" {
        s += &format!("status: {} (partial results)\n", p.status);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_with_the_stamp_port_by_default() {
        assert_eq!(
            resolve("127.0.0.1").unwrap(),
            "127.0.0.1:862".parse().unwrap()
        );
        assert_eq!(
            resolve("127.0.0.1:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(resolve("::1").unwrap(), "[::1]:862".parse().unwrap());
        assert_eq!(resolve("[::1]:7").unwrap(), "[::1]:7".parse().unwrap());
        assert_eq!(resolve("localhost:5").unwrap().port(), 5);
        assert!(resolve("no such host.invalid").is_err());
    }
}
