//! `latlab reflect`.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use latlab_kernels::{TcpEchoReflector, UdpOptions, UdpPath, UringUdpReflector, XdpReflector};
use latlab_probes::reflector::{self, ReflectorConfig, ReflectorCounters};
use latlab_probes::stamp::ErrorEstimate;
use serde_json::json;

use crate::cli::{DatapathArg, DatapathArgs, Proto, ReflectArgs};
use crate::{output, STOP};

pub fn run(a: &ReflectArgs) -> Result<()> {
    let clock_err = latlab_probes::Clock::best().info();
    let cfg = ReflectorConfig {
        idle_spin: a.idle_spin,
        // Timestamps come from CLOCK_REALTIME: its error is at least its read cost.
        error_estimate: ErrorEstimate::from_seconds(
            (clock_err.read_cost_ns * 1e-9).max(1e-7),
            false,
        ),
        stateful: a.stateful,
        max_duration: a.duration,
    };
    let counters = ReflectorCounters::default();
    let stop: &AtomicBool = &STOP;
    let udp = UdpOptions {
        busy_poll_us: a.busy_poll,
        kernel_timestamps: a.kernel_timestamps,
        recv_ttl: true,
        ..UdpOptions::default()
    };
    let served = Served::bind(a.proto, a.bind, udp, &a.path)?;
    let (local, what) = (served.local, served.describe());
    {
        // Always on stderr, also with --json: with `--bind ADDR:0` this is how the port is learnt.
        eprintln!(
            "latlab reflect: {what} on {local}{}; Ctrl-C to stop",
            a.cpu
                .map(|c| format!(", pinned to cpu {c}"))
                .unwrap_or_default()
        );
    }
    let started = Instant::now();
    let (cfg, counters_ref) = (&cfg, &counters);
    let result: Result<Option<u64>> = std::thread::scope(|s| {
        let h = s.spawn(move || served.run(a.cpu, cfg, stop, counters_ref, None));
        let visible = output::interactive(a.json);
        let spinner = ProgressBar::with_draw_target(
            None,
            if visible {
                ProgressDrawTarget::stderr_with_hz(4)
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        spinner
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        while visible && !h.is_finished() {
            std::thread::sleep(Duration::from_millis(100));
            let [rx, tx, bad, err] = counters_ref.snapshot();
            spinner.set_message(format!(
                "received {rx}  reflected {tx}  malformed {bad}  send errors {err}"
            ));
            spinner.tick();
        }
        spinner.finish_and_clear();
        h.join().expect("reflector thread does not panic")
    });
    let dropped_frames = result.context("reflector stopped")?;
    let [received, reflected, malformed, send_errors] = counters.snapshot();
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bind": local.to_string(), "proto": what, "seconds": secs, "received": received,
                "reflected": reflected, "malformed": malformed, "send_errors": send_errors,
                "unit": if a.proto == Proto::Tcp { "bytes" } else { "packets" },
                "datapath": a.path.datapath.name(), "xdp_frames_dropped": dropped_frames,
            }))?
        );
    } else {
        let unit = if a.proto == Proto::Tcp {
            "bytes"
        } else {
            "packets"
        };
        println!(
            "reflected {reflected} of {received} {unit} in {secs:.1} s; {malformed} malformed dropped, {send_errors} send errors"
        );
        if let Some(n) = dropped_frames {
            println!("AF_XDP: {n} frames dropped before STAMP parsing (malformed, or not addressed to this reflector)");
        }
    }
    Ok(())
}

/// A bound reflector socket of either kind, ready to serve in a (pinned) thread.
pub struct Served {
    kind: ServedKind,
    /// The bound address.
    pub local: SocketAddr,
}

enum ServedKind {
    Udp(UdpPath),
    UringUdp(Box<UringUdpReflector>),
    Xdp(Box<XdpReflector>),
    Tcp(TcpEchoReflector),
}

impl Served {
    /// Binds a STAMP (UDP) or echo (TCP) reflector on `addr`, over the chosen datapath.
    pub fn bind(
        proto: Proto,
        addr: SocketAddr,
        udp: UdpOptions,
        path: &DatapathArgs,
    ) -> Result<Served> {
        path.check(proto)?;
        Ok(match (path.datapath, proto) {
            (DatapathArg::IoUring, Proto::Tcp) => bail!(
                "io_uring drives the TCP probe; the TCP echo reflector runs on the kernel path (drop --datapath io-uring here)"
            ),
            (DatapathArg::IoUring, Proto::Udp) => {
                let p = UringUdpReflector::bind(addr, crate::datapath::reflector_uring(path, udp))?;
                let local = p.local_addr();
                Served {
                    kind: ServedKind::UringUdp(Box::new(p)),
                    local,
                }
            }
            (DatapathArg::AfXdp, _) => {
                let p = XdpReflector::bind(crate::datapath::v4(addr, "--bind address")?, &path.xdp()?)?;
                let local = SocketAddr::V4(p.local_addr());
                Served {
                    kind: ServedKind::Xdp(Box::new(p)),
                    local,
                }
            }
            (DatapathArg::Kernel, Proto::Udp) => {
                let p = UdpPath::bind(addr, udp)?;
                let local = p.local_addr()?;
                Served {
                    kind: ServedKind::Udp(p),
                    local,
                }
            }
            (DatapathArg::Kernel, Proto::Tcp) => {
                let e = TcpEchoReflector::bind(addr, 64)?;
                let local = e.local_addr()?;
                Served {
                    kind: ServedKind::Tcp(e),
                    local,
                }
            }
        })
    }

    /// What is served, for messages.
    pub fn describe(&self) -> &'static str {
        match self.kind {
            ServedKind::Udp(_) => "STAMP (udp)",
            ServedKind::UringUdp(_) => "STAMP (udp over io_uring)",
            ServedKind::Xdp(_) => "STAMP (udp over AF_XDP)",
            ServedKind::Tcp(_) => "echo (tcp)",
        }
    }

    /// Pins the calling thread to `cpu` (a refusal is a warning) and serves until `stop`.
    /// `service` adds a per-request service stage (UDP only; see `run_stamp_with_service`).
    /// Returns how many frames an AF_XDP reflector dropped before STAMP parsing (malformed,
    /// or not for it); `None` on the socket paths, where the kernel drops those.
    pub fn run(
        self,
        cpu: Option<usize>,
        cfg: &ReflectorConfig,
        stop: &AtomicBool,
        counters: &ReflectorCounters,
        service: Option<&mut dyn FnMut() -> u64>,
    ) -> Result<Option<u64>> {
        if let Some(c) = cpu {
            if let Err(e) = latlab_topology::pin_current_thread(c) {
                eprintln!("warning: {e}; reflector runs unpinned");
            }
        }
        match (self.kind, service) {
            (ServedKind::Udp(mut p), None) => reflector::run_stamp(&mut p, cfg, stop, counters)?,
            (ServedKind::Udp(mut p), Some(f)) => {
                reflector::run_stamp_with_service(&mut p, cfg, stop, counters, f)?
            }
            (ServedKind::UringUdp(mut p), None) => {
                reflector::run_stamp(p.as_mut(), cfg, stop, counters)?
            }
            (ServedKind::Xdp(mut p), service) => {
                let r = match service {
                    None => reflector::run_stamp(p.as_mut(), cfg, stop, counters),
                    Some(f) => {
                        reflector::run_stamp_with_service(p.as_mut(), cfg, stop, counters, f)
                    }
                };
                let bad = p.malformed_frames();
                if bad > 0 {
                    eprintln!(
                        "AF_XDP: {bad} malformed or foreign frames dropped before STAMP parsing"
                    );
                }
                r?
            }
            (ServedKind::UringUdp(mut p), Some(f)) => {
                reflector::run_stamp_with_service(p.as_mut(), cfg, stop, counters, f)?
            }
            (ServedKind::Tcp(mut e), _) => reflector::run_tcp_echo(&mut e, cfg, stop, counters)?,
        }
        Ok(None)
    }
}
