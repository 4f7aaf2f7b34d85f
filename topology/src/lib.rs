//! # latlab-topology
//!
//! Where things are: the machine's logical CPUs, which of them share a physical core (SMT
//! siblings), which NUMA node and package each belongs to, and how to pin a measuring thread to
//! one of them. Probes ask this crate for a [`Placement`] — a pair of CPUs chosen by their
//! relation — and write it into the run's manifest, because a latency measured without knowing
//! where its threads ran is not a result.
//!
//! This first version reads Linux sysfs (`/sys/devices/system/cpu`) directly, which needs no
//! system library. The hwloc backend (feature `hwloc`, hwlocality) and NIC/PCIe locality come with
//! the topology issue and will fill the same types.
#![forbid(unsafe_code)]

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Errors from reading the topology or pinning a thread.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// The requested CPU is not online (or does not exist) on this machine.
    #[error("cpu {cpu} is not online here (online cpus: {online}); pick one of those")]
    CpuNotOnline {
        /// The CPU that was asked for.
        cpu: usize,
        /// The online set, in the kernel's list format.
        online: String,
    },
    /// `sched_setaffinity` refused (for example, a cgroup cpuset excludes the CPU).
    #[error("cannot pin thread to cpu {cpu}: sched_setaffinity failed (is it outside this process's cpuset?)")]
    PinFailed {
        /// The CPU that was asked for.
        cpu: usize,
    },
}

/// One logical CPU and where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// The kernel's CPU number.
    pub id: usize,
    /// Physical core id within the package (`topology/core_id`).
    pub core: usize,
    /// Package (socket) id (`topology/physical_package_id`).
    pub package: usize,
    /// NUMA node, when the kernel exposes one.
    pub node: Option<usize>,
    /// Logical CPUs that share this physical core, this one included.
    pub siblings: Vec<usize>,
}

/// The machine's online logical CPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Online CPUs in ascending order.
    pub cpus: Vec<Cpu>,
    /// Number of NUMA nodes seen (at least 1).
    pub numa_nodes: usize,
    /// Where the information came from (`"sysfs"`, later `"hwloc"`).
    pub source: String,
}

/// How two CPUs relate; used to pick probe/reflector pairs and recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// The same logical CPU (both threads share one CPU: they take turns).
    SameCpu,
    /// Two hardware threads of one physical core.
    SmtSiblings,
    /// Different physical cores in one package and NUMA node.
    SameNode,
    /// Different NUMA nodes in one package.
    CrossNode,
    /// Different packages (sockets).
    CrossPackage,
}

/// Where the measuring threads of a probe run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// CPU the probe (sender) thread is pinned to, if pinned.
    pub probe_cpu: Option<usize>,
    /// CPU the reflector thread is pinned to, if pinned and in this process.
    pub reflector_cpu: Option<usize>,
    /// How the two CPUs relate, when both are known.
    pub relation: Option<Relation>,
    /// Whether pinning was actually applied (false if the OS refused or it was turned off).
    pub pinned: bool,
}

impl Topology {
    /// Reads the topology of this machine from sysfs.
    ///
    /// Missing files (containers sometimes hide parts of sysfs) degrade to "one core per CPU,
    /// one package, one node" rather than failing.
    pub fn detect() -> Topology {
        Self::from_sysfs(Path::new("/sys/devices/system/cpu"))
    }

    /// Reads a topology from a sysfs-shaped directory (tests point this at a fixture).
    pub fn from_sysfs(root: &Path) -> Topology {
        let online = fs::read_to_string(root.join("online"))
            .ok()
            .and_then(|s| parse_cpu_list(s.trim()))
            .unwrap_or_else(|| {
                let n = std::thread::available_parallelism().map_or(1, |n| n.get());
                (0..n).collect()
            });
        let mut numa = std::collections::BTreeSet::new();
        let cpus = online
            .iter()
            .map(|&id| {
                let dir = root.join(format!("cpu{id}"));
                let read_num = |name: &str| -> Option<usize> {
                    fs::read_to_string(dir.join("topology").join(name))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()
                };
                let siblings = fs::read_to_string(dir.join("topology/thread_siblings_list"))
                    .ok()
                    .and_then(|s| parse_cpu_list(s.trim()))
                    .unwrap_or_else(|| vec![id]);
                let node = fs::read_dir(&dir).ok().and_then(|entries| {
                    entries.filter_map(Result::ok).find_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix("node")?
                            .parse::<usize>()
                            .ok()
                    })
                });
                if let Some(n) = node {
                    numa.insert(n);
                }
                Cpu {
                    id,
                    core: read_num("core_id").unwrap_or(id),
                    package: read_num("physical_package_id").unwrap_or(0),
                    node,
                    siblings,
                }
            })
            .collect();
        Topology {
            cpus,
            numa_nodes: numa.len().max(1),
            source: "sysfs".to_string(),
        }
    }

    /// Looks up one online CPU.
    pub fn cpu(&self, id: usize) -> Option<&Cpu> {
        self.cpus.iter().find(|c| c.id == id)
    }

    /// The online set in the kernel's list format, e.g. `0-3,6`.
    pub fn online_list(&self) -> String {
        format_cpu_list(&self.cpus.iter().map(|c| c.id).collect::<Vec<_>>())
    }

    /// How CPUs `a` and `b` relate, if both are online.
    pub fn relation(&self, a: usize, b: usize) -> Option<Relation> {
        let (ca, cb) = (self.cpu(a)?, self.cpu(b)?);
        Some(if a == b {
            Relation::SameCpu
        } else if ca.siblings.contains(&b) {
            Relation::SmtSiblings
        } else if ca.package != cb.package {
            Relation::CrossPackage
        } else if ca.node.is_some() && ca.node != cb.node {
            Relation::CrossNode
        } else {
            Relation::SameNode
        })
    }

    /// Picks a (probe, reflector) CPU pair for a local measurement: two different physical
    /// cores in one node when the machine has them, else SMT siblings, else the one CPU twice.
    ///
    /// CPU 0 is avoided for the probe when there is a choice, because it usually takes more
    /// interrupts and housekeeping work.
    pub fn local_pair(&self) -> (usize, usize) {
        let ids: Vec<usize> = self.cpus.iter().map(|c| c.id).collect();
        let mut best: Option<(usize, usize)> = None;
        for want in [Relation::SameNode, Relation::SmtSiblings] {
            for &a in ids.iter().rev() {
                for &b in ids.iter().rev() {
                    if a != b && self.relation(a, b) == Some(want) {
                        best.get_or_insert((a, b));
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.unwrap_or_else(|| {
            let only = ids.first().copied().unwrap_or(0);
            (only, only)
        })
    }

    /// Builds the [`Placement`] record for a probe/reflector pair.
    pub fn placement(
        &self,
        probe: Option<usize>,
        reflector: Option<usize>,
        pinned: bool,
    ) -> Placement {
        Placement {
            probe_cpu: probe,
            reflector_cpu: reflector,
            relation: match (probe, reflector) {
                (Some(a), Some(b)) => self.relation(a, b),
                _ => None,
            },
            pinned,
        }
    }
}

/// Pins the calling thread to logical CPU `cpu`.
///
/// Fails with a reason when the CPU is not online or the kernel refuses; callers decide
/// whether to continue unpinned (and record `pinned: false`).
pub fn pin_current_thread(cpu: usize) -> Result<(), TopologyError> {
    let topo = Topology::detect();
    if topo.cpu(cpu).is_none() {
        return Err(TopologyError::CpuNotOnline {
            cpu,
            online: topo.online_list(),
        });
    }
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        Ok(())
    } else {
        Err(TopologyError::PinFailed { cpu })
    }
}

/// Parses the kernel's CPU list format (`0-3,6,8-9`).
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Formats CPU ids in the kernel's list format.
pub fn format_cpu_list(ids: &[usize]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_list_round_trip() {
        assert_eq!(parse_cpu_list("0-3,6,8-9"), Some(vec![0, 1, 2, 3, 6, 8, 9]));
        assert_eq!(format_cpu_list(&[9, 8, 0, 1, 2, 3, 6]), "0-3,6,8-9");
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    fn fixture(dir: &Path, cpus: &[(usize, usize, usize, &str, usize)]) {
        let ids: Vec<usize> = cpus.iter().map(|c| c.0).collect();
        fs::write(dir.join("online"), format_cpu_list(&ids) + "\n").unwrap();
        for &(id, core, pkg, sib, node) in cpus {
            let t = dir.join(format!("cpu{id}/topology"));
            fs::create_dir_all(&t).unwrap();
            fs::create_dir_all(dir.join(format!("cpu{id}/node{node}"))).unwrap();
            fs::write(t.join("core_id"), format!("{core}\n")).unwrap();
            fs::write(t.join("physical_package_id"), format!("{pkg}\n")).unwrap();
            fs::write(t.join("thread_siblings_list"), format!("{sib}\n")).unwrap();
        }
    }

    #[test]
    fn relations_and_pair_choice_on_a_two_socket_smt_fixture() {
        let dir = std::env::temp_dir().join(format!("latlab-topo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // cpu0/cpu2 siblings on core 0, cpu1/cpu3 siblings on core 1 (package 0, node 0);
        // cpu4 on package 1, node 1.
        fixture(
            &dir,
            &[
                (0, 0, 0, "0,2", 0),
                (1, 1, 0, "1,3", 0),
                (2, 0, 0, "0,2", 0),
                (3, 1, 0, "1,3", 0),
                (4, 0, 1, "4", 1),
            ],
        );
        let t = Topology::from_sysfs(&dir);
        assert_eq!(t.cpus.len(), 5);
        assert_eq!(t.numa_nodes, 2);
        assert_eq!(t.relation(0, 2), Some(Relation::SmtSiblings));
        assert_eq!(t.relation(0, 1), Some(Relation::SameNode));
        assert_eq!(t.relation(0, 4), Some(Relation::CrossPackage));
        assert_eq!(t.relation(1, 1), Some(Relation::SameCpu));
        assert_eq!(t.relation(1, 9), None);
        let (a, b) = t.local_pair();
        assert_eq!(t.relation(a, b), Some(Relation::SameNode));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn detect_sees_at_least_one_cpu_and_pinning_checks_bounds() {
        let t = Topology::detect();
        assert!(!t.cpus.is_empty());
        let bad = t.cpus.iter().map(|c| c.id).max().unwrap() + 1000;
        assert!(matches!(
            pin_current_thread(bad),
            Err(TopologyError::CpuNotOnline { .. })
        ));
    }
}
