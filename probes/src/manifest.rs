//! The manifest and summary files of a run: what was measured, where, with what, and what came
//! out. Their JSON Schemas are in `results/schema/` of the repository.

use std::fs;

use latlab_kernels::DatapathInfo;
use latlab_topology::{Placement, Topology};
use serde::{Deserialize, Serialize};

use crate::clock::ClockInfo;
use crate::record::Stats;
use crate::rundir::RunStatus;

/// Schema identifier written into every manifest.
pub const MANIFEST_SCHEMA: &str = "https://latlab.dev/schema/manifest-v1.json";
/// Schema identifier written into every summary.
pub const SUMMARY_SCHEMA: &str = "https://latlab.dev/schema/summary-v1.json";

/// The percentile rule of [`crate::record`], stated in every summary.
pub const PERCENTILE_RULE: &str = "smallest recorded value whose bucket brings the cumulative count to at least ceil(p/100*N), reported as that bucket's highest equivalent value (HdrHistogram, 3 significant digits)";

/// The machine a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// Kernel release (`uname -r`).
    pub kernel_release: String,
    /// Kernel build string (`uname -v`).
    pub kernel_version: String,
    /// Distribution (`PRETTY_NAME` of /etc/os-release).
    pub os: Option<String>,
    /// CPU architecture.
    pub arch: String,
    /// CPU model name.
    pub cpu_model: Option<String>,
    /// Online logical CPUs.
    pub logical_cpus: usize,
    /// Online CPU list in the kernel's format.
    pub online_cpus: String,
    /// NUMA nodes.
    pub numa_nodes: usize,
    /// Where the topology came from.
    pub topology_source: String,
}

impl HostInfo {
    /// Reads this machine's description.
    pub fn detect(topo: &Topology) -> HostInfo {
        let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
        let os = read("/etc/os-release").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
        let cpu_model = read("/proc/cpuinfo").and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        HostInfo {
            hostname: crate::rundir::hostname(),
            kernel_release: read("/proc/sys/kernel/osrelease").unwrap_or_default(),
            kernel_version: read("/proc/sys/kernel/version").unwrap_or_default(),
            os,
            arch: std::env::consts::ARCH.to_string(),
            cpu_model,
            logical_cpus: topo.cpus.len(),
            online_cpus: topo.online_list(),
            numa_nodes: topo.numa_nodes,
            topology_source: topo.source.clone(),
        }
    }
}

/// The tool that made the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// `latlab`.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Git commit the binary was built from (`unknown` outside a checkout; `-dirty` suffix when
    /// the tree had changes).
    pub git_commit: String,
}

/// `manifest.json`: the context without which a result is not a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Schema identifier.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// The run directory's name.
    pub run_id: String,
    /// The latlab command (`lab`, `probe rtt`, …).
    pub command: String,
    /// The full command line.
    pub argv: Vec<String>,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time, once finished.
    pub finished_at: Option<String>,
    /// Whether the run finished.
    pub status: RunStatus,
    /// The tool.
    pub tool: ToolInfo,
    /// The machine.
    pub host: HostInfo,
    /// The clock that timed the probes, with its measured cost.
    pub clock: ClockInfo,
    /// Where the measuring threads ran.
    pub placement: Placement,
    /// The exact configuration (command-specific).
    pub config: serde_json::Value,
}

/// Summary statistics of a signed quantity (e.g. clock offset), in ns.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SignedStats {
    /// Number of samples.
    pub count: u64,
    /// Smallest.
    pub min: i64,
    /// Largest.
    pub max: i64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
}

/// Closed loop or open loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoopMode {
    /// One probe outstanding: the floor.
    Closed,
    /// Probes sent on a schedule regardless of replies: behaviour under load.
    Open,
}

/// One probe's results in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// Probe name, unique in the run (also the `.hlog` file's stem).
    pub name: String,
    /// Target address.
    pub target: String,
    /// `udp` or `tcp`.
    pub proto: String,
    /// The reply format: `stamp` (a STAMP reflector) or `echo` (the bytes come back unchanged).
    pub reply: String,
    /// What the datapath obtained.
    pub datapath: DatapathInfo,
    /// Closed or open loop.
    pub mode: LoopMode,
    /// `closed`, `constant` or `poisson`.
    pub schedule: String,
    /// Intended send rate (open loop), probes per second.
    pub rate_hz: Option<f64>,
    /// Achieved send rate, probes per second.
    pub achieved_rate_hz: f64,
    /// Message size in bytes (UDP payload or TCP message).
    pub size_bytes: usize,
    /// Probes sent and discarded as warm-up (not in any count below).
    pub warmup: u64,
    /// Measuring time in seconds (warm-up excluded).
    pub duration_s: f64,
    /// Probes sent.
    pub sent: u64,
    /// Probes answered in time.
    pub received: u64,
    /// Probes not answered within the timeout.
    pub lost: u64,
    /// Replies that arrived after their probe was declared lost.
    pub late: u64,
    /// Replies that arrived after a reply to a later probe.
    pub reordered: u64,
    /// Replies received more than once.
    pub duplicates: u64,
    /// Replies that could not be parsed or did not belong to this session.
    pub malformed: u64,
    /// Loss timeout in seconds.
    pub timeout_s: f64,
    /// How the probe ended: `complete`, `interrupted`, or `failed: <reason>`.
    pub status: String,
    /// Round-trip time t4 − t1 (open loop: from the intended send time), ns.
    pub rtt: Stats,
    /// Open loop: round-trip time from the actual send time (hides coordinated omission), ns.
    pub rtt_uncorrected: Option<Stats>,
    /// RTT minus the reflector's residence time t3 − t2, ns (STAMP replies only).
    pub network_rtt: Option<Stats>,
    /// Reflector residence t3 − t2, ns (STAMP replies only).
    pub reflector_residence: Option<Stats>,
    /// NTP-style clock offset ((t2 − t1) + (t3 − t4)) / 2 of the reflector's clock relative to
    /// the sender's, ns (STAMP replies only).
    pub clock_offset: Option<SignedStats>,
    /// Time from the kernel's software RX timestamp to the probe seeing the reply, ns (with
    /// `--kernel-timestamps`).
    pub rx_kernel_to_user: Option<Stats>,
    /// Interval log of `rtt`, relative to the run directory.
    pub hlog: String,
    /// Where the probe (and an in-process reflector) ran.
    pub placement: Placement,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Schema identifier.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// The run directory's name.
    pub run_id: String,
    /// Whether the run finished.
    pub status: RunStatus,
    /// Unit of every latency value: nanoseconds.
    pub units: String,
    /// How percentiles are computed.
    pub percentile_rule: String,
    /// One entry per probe, in the order they ran.
    pub probes: Vec<ProbeSummary>,
}

impl Summary {
    /// An empty summary for `run_id`.
    pub fn new(run_id: &str) -> Summary {
        Summary {
            schema: SUMMARY_SCHEMA.to_string(),
            run_id: run_id.to_string(),
            status: RunStatus::Running,
            units: "ns".to_string(),
            percentile_rule: PERCENTILE_RULE.to_string(),
            probes: Vec::new(),
        }
    }
}
