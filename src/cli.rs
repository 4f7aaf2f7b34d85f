//! The command line: one subcommand per job.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// latlab — a latency and queueing lab for real hardware.
///
/// Measures how long bytes take (core to core, through the kernel stack or around it, across a
/// fabric), fits queueing models to what it measured, and turns them into the timeouts your
/// distributed systems need. Start with `latlab lab`.
#[derive(Debug, Parser)]
#[command(name = "latlab", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LATLAB_GIT_COMMIT"), ")"))]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure this machine: clock, loopback RTT over kernel UDP and TCP, closed and open loop.
    ///
    /// Starts an in-process reflector pinned to one core and probes it from another, then
    /// compares the datapaths (kernel, io_uring and, as root over a veth pair it builds,
    /// AF_XDP), prints a table and what it means for timeouts, and writes a run directory
    /// (manifest.json, summary.json, one .hlog per probe). Takes about 25 s (`--quick`: about
    /// 9 s).
    Lab(LabArgs),
    /// Run a STAMP reflector (RFC 8762) for probes from this or any other STAMP sender.
    ///
    /// UDP: answers each STAMP test packet with a Session-Reflector packet of the same length
    /// (t2 and t3 filled in). TCP: echoes every byte back (for `probe rtt --proto tcp`).
    /// `--datapath io-uring` or `--datapath af-xdp --iface IF` serve UDP without the kernel's
    /// usual socket calls; any probe datapath can talk to any reflector datapath.
    /// Runs until Ctrl-C or `--duration`, then prints its counters.
    Reflect(ReflectArgs),
    /// Probe a target.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Turn measured latency into timeouts: heartbeats, elections, failure detectors, RPC
    /// timeouts, hedging, leases, commit-wait — exported for a real system.
    ///
    /// Reads the RTT histograms of the run directories (every bucket of their .hlog files),
    /// their loss and clock offsets, and derives each parameter so that its predicted false
    /// positives (spurious elections, false suspicions) stay within the budget. Prints every
    /// value with its prediction, writes calibration-<target>.json and the target's config
    /// into the first run directory, and prints the config.
    Calibrate(CalibrateArgs),
    /// Write one self-contained HTML page about a run: its context, every probe's counts,
    /// percentiles and latency plots, and its calibrations.
    ///
    /// The page (RUN_DIR/report.html by default) has inline CSS and SVG plots, no scripts, and
    /// fetches nothing: it can be mailed, archived, or opened offline.
    Report(crate::report::ReportArgs),
    /// Fit latency to distributions, predict latency under load, simulate a bottleneck.
    #[command(subcommand)]
    Model(crate::model::ModelCommand),
}

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Round-trip time to a STAMP reflector (or an echo service), closed or open loop.
    ///
    /// Closed loop (no --rate) keeps one probe outstanding and measures the floor. With
    /// --rate, probes leave on a fixed schedule (constant or Poisson) whatever the replies do,
    /// and latency is measured from each probe's *intended* send time, so stalls cannot hide
    /// (coordinated omission); the uncorrected latency is reported beside it.
    ///
    /// `--datapath kernel|io-uring|af-xdp` picks how the probe's bytes move; the summary
    /// records the mode the kernel granted (docs/DATAPATHS.md).
    Rtt(RttArgs),
}

/// Where results go and how they are printed.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Directory under which the run directory is created.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,
    /// Print machine-readable JSON on stdout instead of tables (progress bars are hidden).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LabArgs {
    /// A longer experiment instead of the default lab (`latlab lab` alone: the default lab).
    #[command(subcommand)]
    pub command: Option<LabCommand>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Shorter probes (about 1 s each): a smoke test rather than a measurement.
    #[arg(long)]
    pub quick: bool,
    /// Measuring time of each probe (overrides --quick).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub probe_duration: Option<Duration>,
    /// CPU for the probe thread (default: chosen from the topology).
    #[arg(long, value_name = "N", requires = "reflector_cpu")]
    pub probe_cpu: Option<usize>,
    /// CPU for the reflector thread (default: chosen from the topology).
    #[arg(long, value_name = "N", requires = "probe_cpu")]
    pub reflector_cpu: Option<usize>,
    /// Do not pin threads (the results then depend on the scheduler; the manifest says so).
    #[arg(long, conflicts_with_all = ["probe_cpu", "reflector_cpu"])]
    pub no_pin: bool,
}

/// Experiments of `latlab lab`.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// A real queue on this machine, measured against M/G/1, M/M/1 and the simulator.
    ///
    /// The server is an in-process reflector that busy-waits a random service time per
    /// request (--service); open-loop Poisson probes load it at each --loads. Prints measured
    /// sojourn percentiles beside the predictions with the relative error, and writes
    /// queue.json and queue-vs-load.svg into the run directory. About 20 s (--quick: 8 s).
    Queue(crate::labqueue::LabQueueArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    /// UDP: STAMP test packets.
    Udp,
    /// TCP: fixed-size messages echoed back.
    Tcp,
}

/// How bytes move between latlab and the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatapathArg {
    /// The kernel's sockets, non-blocking and spin-polled.
    Kernel,
    /// The same sockets through io_uring: registered file and buffers, multishot receive into
    /// a provided-buffer ring, completions found by spinning on the completion queue.
    IoUring,
    /// An AF_XDP socket on --iface (UDP only): frames built in user space, an XDP program
    /// that redirects only latlab's UDP port; needs root (CAP_NET_ADMIN and CAP_BPF).
    AfXdp,
}

impl DatapathArg {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DatapathArg::Kernel => "kernel",
            DatapathArg::IoUring => "io-uring",
            DatapathArg::AfXdp => "af-xdp",
        }
    }
}

/// AF_XDP attach mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XdpModeArg {
    /// Native (driver) mode if the driver has it, else generic (skb) mode.
    Auto,
    /// Generic mode: works on every interface, frames pass through an skb first.
    Skb,
    /// Driver mode: the XDP program runs in the driver's receive path.
    Native,
}

/// Which datapath moves the bytes, and its options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Datapath")]
pub struct DatapathArgs {
    /// How bytes cross between latlab and the wire. The same probe loop, STAMP packets and
    /// run-directory output on every path, so paths compare with one flag.
    #[arg(long, value_enum, default_value_t = DatapathArg::Kernel)]
    pub datapath: DatapathArg,
    /// io_uring: a kernel thread polls the submission queue (IORING_SETUP_SQPOLL). It needs a
    /// core of its own; with fewer than three CPUs it competes with the spinners and hurts.
    #[arg(long)]
    pub sqpoll: bool,
    /// io_uring: pin the SQPOLL thread to this CPU.
    #[arg(long, value_name = "N", requires = "sqpoll")]
    pub sqpoll_cpu: Option<u32>,
    /// AF_XDP: the network interface to attach to (e.g. eth0, veth0).
    #[arg(long, value_name = "IFACE")]
    pub iface: Option<String>,
    /// AF_XDP: the interface's receive queue to bind (traffic must be steered to it).
    #[arg(long, value_name = "Q", default_value_t = 0)]
    pub queue: u32,
    /// AF_XDP: require zero-copy mode (fails where the driver lacks it).
    #[arg(long, conflicts_with = "copy")]
    pub zero_copy: bool,
    /// AF_XDP: force copy mode (default: whatever the kernel grants; the manifest says which).
    #[arg(long)]
    pub copy: bool,
    /// AF_XDP: where the XDP program runs.
    #[arg(long, value_enum, default_value_t = XdpModeArg::Auto)]
    pub xdp_mode: XdpModeArg,
    /// AF_XDP probe: the next hop's MAC address (default: from the kernel's neighbour table).
    #[arg(long, value_name = "MAC")]
    pub dst_mac: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReflectArgs {
    /// Address to listen on. Port 862 is STAMP's; binding below 1024 needs root.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:862")]
    pub bind: SocketAddr,
    /// UDP (STAMP) or TCP (echo).
    #[arg(long, value_enum, default_value_t = Proto::Udp)]
    pub proto: Proto,
    /// Pin the reflector thread to this CPU (recommended: spinning on a shared CPU hurts).
    #[arg(long, value_name = "N")]
    pub cpu: Option<usize>,
    /// Stop after this long (default: until Ctrl-C). Examples: 30s, 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Keep busy-polling this long after the last packet, then sleep in poll(2) until traffic
    /// returns (the first packet after a sleep pays one wake-up).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "200ms")]
    pub idle_spin: Duration,
    /// Number replies with the reflector's own counter (RFC 8762 stateful mode) instead of
    /// copying the sender's sequence number.
    #[arg(long)]
    pub stateful: bool,
    /// Take t2 from the kernel's software receive timestamp (SO_TIMESTAMPING) when available.
    #[arg(long)]
    pub kernel_timestamps: bool,
    /// SO_BUSY_POLL in microseconds for the socket.
    #[arg(long, value_name = "US")]
    pub busy_poll: Option<u32>,
    /// Print the final counters as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub path: DatapathArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// Exponential gaps (Poisson arrivals): what load from many independent clients looks like.
    Poisson,
    /// Equal gaps.
    Constant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplyArg {
    /// A STAMP Session-Reflector packet (t2, t3: network RTT and clock offset available).
    Stamp,
    /// The probe's bytes unchanged (an echo service; RTT only).
    Echo,
}

#[derive(Debug, Args)]
pub struct RttArgs {
    /// Reflector to probe: HOST or HOST:PORT (default port 862).
    #[arg(long, short, value_name = "HOST[:PORT]")]
    pub target: String,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Proto::Udp)]
    pub proto: Proto,
    /// What the far end sends back (default: stamp for UDP, echo for TCP).
    #[arg(long, value_enum)]
    pub reply: Option<ReplyArg>,
    /// Open loop: send this many probes per second on --schedule (default: closed loop).
    #[arg(long, value_name = "PER_SECOND", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Send schedule for open loop.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Poisson, requires = "rate")]
    pub schedule: ScheduleArg,
    /// Seed of the Poisson schedule (the same seed gives the same send times).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Measuring time, after warm-up (default: 5s when no --count). Examples: 10s, 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,
    /// Number of measured probes, after warm-up.
    #[arg(long, short = 'n', value_name = "N")]
    pub count: Option<u64>,
    /// Probes sent first and discarded (caches, page faults, the reflector's first wake-up).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub warmup: u64,
    /// Message size in bytes: the UDP payload or TCP message (44, the STAMP packet, to 65507).
    #[arg(long, value_name = "BYTES", default_value_t = 44,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(44..=65507))]
    pub size: usize,
    /// A probe unanswered this long is counted lost.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub timeout: Duration,
    /// Give up with an error when nothing at all has come back after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "3s")]
    pub give_up: Duration,
    /// SO_BUSY_POLL in microseconds (NAPI busy polling on NICs that support it).
    #[arg(long, value_name = "US")]
    pub busy_poll: Option<u32>,
    /// Ask the kernel for software RX timestamps and report kernel-to-user receive time (UDP).
    #[arg(long)]
    pub kernel_timestamps: bool,
    /// Pin the probe thread to this CPU.
    #[arg(long, value_name = "N")]
    pub cpu: Option<usize>,
    /// Local address to send from (default: chosen by the kernel).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// STAMP Session-Sender Identifier (RFC 8972).
    #[arg(long, default_value_t = 1)]
    pub ssid: u16,
    /// Length of each interval in the .hlog.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,
    /// Probe name in the summary and the .hlog file name.
    #[arg(long, default_value = "rtt")]
    pub name: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub path: DatapathArgs,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Run directories to calibrate from (several: their histograms are merged).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// The system to tune: etcd, hashicorp-raft, tikv, cockroachdb, cassandra, akka, generic.
    #[arg(
        long = "for",
        visible_alias = "target",
        value_name = "TARGET",
        default_value = "generic"
    )]
    pub target: String,
    /// Use this probe of each run (default: every closed-loop probe, the unloaded path).
    #[arg(long, value_name = "NAME")]
    pub probe: Option<String>,
    /// False positives allowed for the whole cluster (spurious elections, false suspicions).
    #[arg(long, value_name = "RATE", default_value = "1e-4/h",
          value_parser = crate::calibrate::parse_rate_per_hour)]
    pub false_suspicion: f64,
    /// Cluster size (Raft followers = N − 1).
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(2..))]
    pub nodes: u32,
    /// Clock drift bound for leases and commit-wait.
    #[arg(long, value_name = "PPM", default_value = "200ppm",
          value_parser = crate::calibrate::parse_ppm)]
    pub clock_drift: f64,
    /// Fix the heartbeat interval in ms (default: from the RTT tail).
    #[arg(long = "heartbeat", value_name = "MS")]
    pub heartbeat_ms: Option<u64>,
    /// Refuse when the measurement is too short to support the budget, instead of
    /// extrapolating the fitted tail and saying so.
    #[arg(long)]
    pub require_evidence: bool,
    /// Config format (default: the target's own): etcd-flags, etcd-yaml, hashicorp-raft, tikv,
    /// cockroachdb, cassandra, akka, json, toml.
    #[arg(long, value_name = "FORMAT")]
    pub export: Option<String>,
    /// Also write the config here (`-`: print only the config, on stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the full result, with every derivation, as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses durations like `5s`, `250ms`, `2m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 5s, 2m)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").unwrap_err().contains("examples"));
    }
}
