//! `latlab reflect`.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use latlab_kernels::{TcpEchoReflector, UdpOptions, UdpPath};
use latlab_probes::reflector::{self, ReflectorConfig, ReflectorCounters};
use latlab_probes::stamp::ErrorEstimate;
use serde_json::json;

use crate::cli::{Proto, ReflectArgs};
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
    let (served, local, what) = match a.proto {
        Proto::Udp => {
            let path = UdpPath::bind(
                a.bind,
                UdpOptions {
                    busy_poll_us: a.busy_poll,
                    kernel_timestamps: a.kernel_timestamps,
                    recv_ttl: true,
                },
            )?;
            let local = path.local_addr()?;
            (Served::Udp(path), local, "STAMP (udp)")
        }
        Proto::Tcp => {
            let echo = TcpEchoReflector::bind(a.bind, 64)?;
            let local = echo.local_addr()?;
            (Served::Tcp(echo), local, "echo (tcp)")
        }
    };
    if !a.json {
        eprintln!(
            "latlab reflect: {what} on {local}{}; Ctrl-C to stop",
            a.cpu
                .map(|c| format!(", pinned to cpu {c}"))
                .unwrap_or_default()
        );
    }
    let started = Instant::now();
    let (cfg, counters_ref) = (&cfg, &counters);
    let result: Result<()> = std::thread::scope(|s| {
        let h = s.spawn(move || -> Result<()> {
            if let Some(cpu) = a.cpu {
                latlab_topology::pin_current_thread(cpu)?;
            }
            match served {
                Served::Udp(mut p) => reflector::run_stamp(&mut p, cfg, stop, counters_ref)?,
                Served::Tcp(mut e) => reflector::run_tcp_echo(&mut e, cfg, stop, counters_ref)?,
            }
            Ok(())
        });
        let spinner = ProgressBar::with_draw_target(
            None,
            if output::interactive(a.json) {
                ProgressDrawTarget::stderr_with_hz(4)
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        spinner
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        while !h.is_finished() {
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
    result.context("reflector stopped")?;
    let [received, reflected, malformed, send_errors] = counters.snapshot();
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bind": local.to_string(), "proto": what, "seconds": secs, "received": received,
                "reflected": reflected, "malformed": malformed, "send_errors": send_errors,
                "unit": if a.proto == Proto::Tcp { "bytes" } else { "packets" },
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
    }
    Ok(())
}

enum Served {
    Udp(UdpPath),
    Tcp(TcpEchoReflector),
}
