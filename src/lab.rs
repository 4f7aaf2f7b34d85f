//! `latlab lab`: measure this machine in one command.
//!
//! The plan: calibrate the clock; start a reflector pinned to one core; probe it from another
//! over kernel UDP (closed loop, then Poisson open loop at two rates) and kernel TCP (closed,
//! then Poisson); write everything into one run directory and print one table.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use latlab_calibrate::{CalibrationResult, Target};
use latlab_kernels::testbed::VethPair;
use latlab_kernels::{netns, Datapath, TcpPath, UdpOptions, UdpPath};
use latlab_probes::clock::{ClockInfo, ClockSource};
use latlab_probes::manifest::ProbeSummary;
use latlab_probes::reflector::{ReflectorConfig, ReflectorCounters};
use latlab_probes::rtt::{ReplyFormat, RttConfig, Schedule};
use latlab_probes::RunStatus;
use latlab_topology::{Placement, Topology};
use serde_json::json;

use crate::cli::{DatapathArg, DatapathArgs, LabArgs, Proto};
use crate::context::RunContext;
use crate::datapath::ProbeEnds;
use crate::measure::{self, ProbeSpec};
use crate::reflect::Served;
use crate::{output, STOP};

struct Step {
    name: &'static str,
    proto: Proto,
    schedule: Schedule,
}

fn plan() -> Vec<Step> {
    let poisson = |rate_hz| Schedule::Poisson { rate_hz, seed: 1 };
    vec![
        Step {
            name: "udp-closed",
            proto: Proto::Udp,
            schedule: Schedule::Closed,
        },
        Step {
            name: "udp-poisson-10k",
            proto: Proto::Udp,
            schedule: poisson(10_000.0),
        },
        Step {
            name: "udp-poisson-50k",
            proto: Proto::Udp,
            schedule: poisson(50_000.0),
        },
        Step {
            name: "tcp-closed",
            proto: Proto::Tcp,
            schedule: Schedule::Closed,
        },
        Step {
            name: "tcp-poisson-10k",
            proto: Proto::Tcp,
            schedule: poisson(10_000.0),
        },
    ]
}

pub fn run(a: &LabArgs) -> Result<()> {
    let topo = Topology::detect();
    let (probe_cpu, refl_cpu) = if a.no_pin {
        (None, None)
    } else if let (Some(p), Some(r)) = (a.probe_cpu, a.reflector_cpu) {
        (Some(p), Some(r))
    } else {
        let (p, r) = topo.local_pair();
        (Some(p), Some(r))
    };
    let placement = topo.placement(probe_cpu, refl_cpu, !a.no_pin);
    let per_probe = a.probe_duration.unwrap_or(if a.quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(3)
    });
    let warmup = if a.quick { 500 } else { 2000 };
    let steps = plan();
    let config = json!({
        "probe_duration_s": per_probe.as_secs_f64(),
        "warmup": warmup,
        "size_bytes": 44,
        "timeout_s": 0.2,
        "target": "127.0.0.1 (in-process reflector)",
        "probes": steps.iter().map(|s| json!({
            "name": s.name, "proto": format!("{:?}", s.proto).to_lowercase(),
            "schedule": s.schedule.name(), "rate_hz": s.schedule.rate_hz(),
        })).collect::<Vec<_>>(),
    });
    let mut ctx = RunContext::start(&a.output.out, "lab", "lab", placement.clone(), config)?;
    let show = output::interactive(a.output.json);
    if !a.output.json {
        print!("{}", clock_table(&ctx.clock_info, &placement, &topo));
        if placement.relation == Some(latlab_topology::Relation::SameCpu) {
            eprintln!("warning: one CPU only: probe and reflector share it, so RTTs include scheduling delays");
        }
        println!();
    }

    let mut failures = Vec::new();
    for proto in [Proto::Udp, Proto::Tcp] {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let mine: Vec<&Step> = steps.iter().filter(|s| s.proto == proto).collect();
        let result = with_reflector(proto, &DatapathArgs::kernel(), refl_cpu, None, |target| {
            for step in &mine {
                if STOP.load(Ordering::SeqCst) {
                    break;
                }
                let cfg = RttConfig {
                    count: None,
                    duration: Some(per_probe),
                    warmup,
                    schedule: step.schedule,
                    timeout: Duration::from_millis(200),
                    reply: if proto == Proto::Udp {
                        ReplyFormat::Stamp
                    } else {
                        ReplyFormat::Echo
                    },
                    ssid: 1,
                    ..RttConfig::default()
                };
                let dp: Box<dyn Datapath + Send> = match proto {
                    Proto::Udp => Box::new(UdpPath::connect(target, None, UdpOptions::default())?),
                    Proto::Tcp => Box::new(TcpPath::connect(
                        target,
                        cfg.size,
                        Duration::from_secs(2),
                        None,
                    )?),
                };
                let spec = ProbeSpec {
                    name: step.name.to_string(),
                    target: target.to_string(),
                    proto: if proto == Proto::Udp { "udp" } else { "tcp" },
                    cfg,
                    cpu: probe_cpu,
                    placement: placement.clone(),
                };
                match measure::run_probe(dp, &ctx.clock, &spec, &ctx.dir, &STOP, show) {
                    Ok(s) => {
                        ctx.summary.probes.push(s);
                        ctx.save_summary()?;
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        failures.push(format!("{}: {e:#}", step.name));
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            eprintln!("error: {e:#}");
            failures.push(format!("{proto:?} reflector: {e:#}"));
        }
    }

    // The same round trip over every datapath this machine can run.
    let (dp_names, dp_notes) = if STOP.load(Ordering::SeqCst) {
        (Vec::new(), Vec::new())
    } else {
        let base = RttConfig {
            count: None,
            duration: Some(per_probe),
            warmup,
            timeout: Duration::from_millis(200),
            reply: ReplyFormat::Stamp,
            ssid: 1,
            ..RttConfig::default()
        };
        compare_datapaths(&mut ctx, &base, (probe_cpu, refl_cpu), &placement, show)
    };

    // The end of the pipeline: what these measurements mean for timeouts.
    let calibration = if STOP.load(Ordering::SeqCst)
        || !ctx.summary.probes.iter().any(|p| p.name == "udp-closed")
    {
        None
    } else {
        match crate::calibrate::calibrate_run(ctx.dir.path(), "udp-closed", Target::Generic) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("warning: calibration failed: {e:#}");
                None
            }
        }
    };

    let status = if STOP.load(Ordering::SeqCst) || !failures.is_empty() {
        RunStatus::Partial
    } else {
        RunStatus::Complete
    };
    ctx.finish(status)?;
    if a.output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "run_dir": ctx.dir.path(), "status": status, "clock": ctx.clock_info,
                "placement": placement, "probes": ctx.summary.probes, "failures": failures,
                "datapaths": { "probes": dp_names, "notes": dp_notes },
                "calibration": calibration.as_ref().map(|c| &c.0),
            }))?
        );
    } else {
        print!("{}", measure::results_table(&ctx.summary.probes));
        println!("\nRTT is t4 - t1 on the probe's clock; open-loop rows count from each probe's intended send time.");
        println!(
            "net = RTT minus the reflector's residence (t3 - t2). Full statistics: summary.json."
        );
        if !dp_names.is_empty() || !dp_notes.is_empty() {
            println!("\nDatapaths, closed-loop UDP round trip:");
            print!("{}", datapath_lines(&ctx.summary.probes, &dp_names));
            for n in &dp_notes {
                println!("  note: {n}");
            }
        }
        if let Some((r, _)) = &calibration {
            print!("{}", timeouts_summary(r));
        }
        if status == RunStatus::Partial {
            println!(
                "status: partial ({})",
                if failures.is_empty() {
                    "interrupted".to_string()
                } else {
                    failures.join("; ")
                }
            );
        }
        println!("results: {}", ctx.dir.path().display());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} of {} probes failed", failures.len(), steps.len())
    }
}

/// Runs `body` with an in-process reflector for `proto` on 127.0.0.1, pinned to `cpu`.
pub fn with_reflector(
    proto: Proto,
    path: &DatapathArgs,
    cpu: Option<usize>,
    service: Option<&mut (dyn FnMut() -> u64 + Send)>,
    body: impl FnOnce(SocketAddr) -> Result<()>,
) -> Result<()> {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let served = Served::bind(proto, any, reflector_udp(), path)?;
    with_served(served, cpu, service, body)
}

/// The reflector's UDP socket options: STAMP needs the received TTL.
fn reflector_udp() -> UdpOptions {
    UdpOptions {
        recv_ttl: true,
        ..UdpOptions::default()
    }
}

/// Runs `body` while `served` answers in a thread pinned to `cpu`.
fn with_served(
    served: Served,
    cpu: Option<usize>,
    service: Option<&mut (dyn FnMut() -> u64 + Send)>,
    body: impl FnOnce(SocketAddr) -> Result<()>,
) -> Result<()> {
    let stop = AtomicBool::new(false);
    let counters = ReflectorCounters::default();
    let cfg = ReflectorConfig::default();
    let addr = served.local;
    let (stop_ref, counters_ref, cfg_ref) = (&stop, &counters, &cfg);
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let service = service.map(|f| f as &mut dyn FnMut() -> u64);
            served
                .run(cpu, cfg_ref, stop_ref, counters_ref, service)
                .map(|_| ())
        });
        let r = body(addr);
        stop.store(true, Ordering::SeqCst);
        let refl = h
            .join()
            .expect("reflector thread does not panic")
            .context("in-process reflector");
        r.and(refl)
    })
}

/// Where the datapath comparison ran, for the report.
enum Bed {
    Veth(VethPair),
    Loopback(String),
}

/// The datapath comparison: the same closed-loop UDP probe over the kernel, io_uring and
/// AF_XDP paths, each against a reflector on the same path. As root it runs over a veth pair
/// between two namespaces (AF_XDP needs a real interface); otherwise kernel against io_uring
/// over loopback. Returns the names of the probes it added, and notes on what was skipped.
fn compare_datapaths(
    ctx: &mut RunContext,
    base: &RttConfig,
    cpus: (Option<usize>, Option<usize>),
    placement: &Placement,
    show: bool,
) -> (Vec<String>, Vec<String>) {
    let bed = match VethPair::create("lab") {
        Ok(v) => Bed::Veth(v),
        Err(e) => Bed::Loopback(format!("{e}")),
    };
    let mut notes = Vec::new();
    let mut names = Vec::new();
    let paths: &[DatapathArg] = match &bed {
        Bed::Veth(v) => {
            notes.extend(v.notes.iter().cloned());
            &[
                DatapathArg::Kernel,
                DatapathArg::IoUring,
                DatapathArg::AfXdp,
            ]
        }
        Bed::Loopback(why) => {
            notes.push(format!(
                "datapaths compared over loopback, without AF_XDP: {why}"
            ));
            &[DatapathArg::IoUring]
        }
    };
    for &dp in paths {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let name = match &bed {
            Bed::Veth(_) => format!("veth-{}", dp.name()),
            Bed::Loopback(_) => format!("udp-{}-closed", dp.name()),
        };
        match compare_one(ctx, &bed, dp, &name, base, cpus, placement, show) {
            Ok(()) => names.push(name),
            Err(e) => notes.push(format!("{name} skipped: {e:#}")),
        }
    }
    (names, notes)
}

#[allow(clippy::too_many_arguments)]
fn compare_one(
    ctx: &mut RunContext,
    bed: &Bed,
    dp: DatapathArg,
    name: &str,
    base: &RttConfig,
    (probe_cpu, refl_cpu): (Option<usize>, Option<usize>),
    placement: &Placement,
    show: bool,
) -> Result<()> {
    let mut refl_args = DatapathArgs::kernel();
    refl_args.datapath = dp;
    let mut probe_args = refl_args.clone();
    // Where each side lives: (namespace, bind address); no namespace on loopback.
    let (refl_ns, probe_ns, bind) = match bed {
        Bed::Veth(v) => {
            if dp == DatapathArg::AfXdp {
                refl_args.iface = Some(v.b.iface.clone());
                probe_args.iface = Some(v.a.iface.clone());
            }
            (
                Some(v.b.netns.as_str()),
                Some(v.a.netns.as_str()),
                SocketAddr::from((v.b.ip, 0)),
            )
        }
        Bed::Loopback(_) => (None, None, SocketAddr::from(([127, 0, 0, 1], 0))),
    };
    let bind_reflector = || Served::bind(Proto::Udp, bind, reflector_udp(), &refl_args);
    let served = match refl_ns {
        Some(n) => netns::within(n, bind_reflector)??,
        None => bind_reflector()?,
    };
    let cfg = base.clone();
    with_served(served, refl_cpu, None, |target| {
        let ends = ProbeEnds {
            proto: Proto::Udp,
            target,
            bind: None,
            size: cfg.size,
            connect_timeout: Duration::from_secs(2),
            udp: UdpOptions::default(),
        };
        let open = || crate::datapath::open_probe(&probe_args, &ends);
        let dp = match probe_ns {
            Some(n) => netns::within(n, open)??,
            None => open()?,
        };
        let spec = ProbeSpec {
            name: name.to_string(),
            target: target.to_string(),
            proto: "udp",
            cfg,
            cpu: probe_cpu,
            placement: placement.clone(),
        };
        let s = measure::run_probe(dp, &ctx.clock, &spec, &ctx.dir, &STOP, show)?;
        ctx.summary.probes.push(s);
        ctx.save_summary()
    })
}

/// One line per compared datapath: its median and p99 and the ratio to the kernel path's.
fn datapath_lines(probes: &[ProbeSummary], names: &[String]) -> String {
    let rows: Vec<&ProbeSummary> = names
        .iter()
        .filter_map(|n| probes.iter().find(|p| &p.name == n))
        .collect();
    let kernel = rows
        .iter()
        .find(|p| p.datapath.kind == latlab_kernels::DatapathKind::KernelUdp)
        .copied()
        .or_else(|| probes.iter().find(|p| p.name == "udp-closed"))
        .map(|p| (p.rtt.p50 as f64, p.rtt.p99 as f64));
    let mut s = String::new();
    for p in rows {
        s += &format!(
            "  {:<22} {:<14} p50 {:>9}  p99 {:>9}",
            p.name,
            p.datapath.kind.to_string(),
            output::human_ns(p.rtt.p50 as f64),
            output::human_ns(p.rtt.p99 as f64)
        );
        if let Some((k50, k99)) =
            kernel.filter(|_| p.datapath.kind != latlab_kernels::DatapathKind::KernelUdp)
        {
            s += &format!(
                "  (×{:.2} / ×{:.2} the kernel path)",
                p.rtt.p50 as f64 / k50,
                p.rtt.p99 as f64 / k99
            );
        }
        if let Some(m) = &p.datapath.mode {
            s += &format!("  [{m}]");
        }
        s += "\n";
    }
    s
}

fn clock_table(c: &ClockInfo, p: &Placement, topo: &Topology) -> String {
    let mut t = output::Table::new(&["machine", ""]).left_aligned();
    let source = match c.source {
        ClockSource::Tsc => format!(
            "TSC (invariant) at {:.3} GHz, calibrated against CLOCK_MONOTONIC_RAW to ±{:.2} ppm",
            c.tsc_hz.unwrap_or(0.0) / 1e9,
            c.calibration_error_ppm.unwrap_or(0.0)
        ),
        ClockSource::MonotonicRaw => format!(
            "CLOCK_MONOTONIC_RAW{}",
            if c.tsc_invariant {
                ""
            } else {
                " (no invariant TSC)"
            }
        ),
    };
    t.row(vec!["clock".into(), source]);
    t.row(vec![
        "clock read".into(),
        format!(
            "{} per read, resolution {}, smallest step seen {}",
            output::human_ns(c.read_cost_ns),
            output::human_ns(c.resolution_ns),
            output::human_ns(c.min_step_ns)
        ),
    ]);
    t.row(vec![
        "kernel clocksource".into(),
        c.kernel_clocksource
            .clone()
            .unwrap_or_else(|| "unknown".into()),
    ]);
    t.row(vec![
        "cpus".into(),
        format!(
            "{} online ({}), {} NUMA node(s)",
            topo.cpus.len(),
            topo.online_list(),
            topo.numa_nodes
        ),
    ]);
    t.row(vec![
        "placement".into(),
        match (p.probe_cpu, p.reflector_cpu) {
            (Some(a), Some(b)) => format!(
                "probe on cpu {a}, reflector on cpu {b} ({}), both busy-polling",
                p.relation
                    .map(|r| serde_json::to_value(r)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default())
                    .unwrap_or_default()
            ),
            _ => "unpinned (--no-pin): results include scheduler placement".into(),
        },
    ]);
    t.render()
}

/// The lab's closing answer: what the loopback measurement implies for timeouts.
fn timeouts_summary(r: &CalibrationResult) -> String {
    let mut s = String::from(
        "\nSo what should my timeouts be? (generic calibration of udp-closed, budget 1e-4 false positives/h, 3 nodes;\n\
         this is loopback: run `latlab reflect` and `latlab probe rtt` between your nodes, then `latlab calibrate RUN --for etcd`)\n",
    );
    let mut t = output::Table::new(&["parameter", "value", "predicted"]).left_aligned();
    if let Some(raft) = &r.raft {
        t.row(vec![
            "raft heartbeat / election timeout".into(),
            format!(
                "{} ms / {} ms",
                raft.heartbeat_interval_ms, raft.election_timeout_ms
            ),
            format!(
                "{:.1e} spurious elections/h, failover {}",
                raft.spurious_elections_per_hour,
                output::human_ns(raft.expected_failover_ns)
            ),
        ]);
    }
    t.row(vec![
        "RPC timeout (RFC 6298 RTO)".into(),
        output::human_ns(r.rpc.rto.rto_ns),
        format!(
            "{:.1e} spurious timeouts per request",
            r.rpc.rto.spurious_probability
        ),
    ]);
    t.row(vec![
        "hedge requests after".into(),
        output::human_ns(r.rpc.hedge.delay_ns),
        format!("{:.1}% extra requests", 100.0 * r.rpc.hedge.extra_load),
    ]);
    if let Some(c) = &r.cassandra {
        t.row(vec![
            "phi threshold (Cassandra form)".into(),
            format!("{:.2}", c.phi_convict_threshold),
            format!("{:.1e} false suspicions/h", c.false_suspicions_per_hour),
        ]);
    }
    s += &t.render();
    s += "Derivations: calibration-generic.json in the run directory.\n";
    s
}
