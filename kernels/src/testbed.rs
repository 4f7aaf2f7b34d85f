//! Two hosts on one machine: a pair of network namespaces joined by a veth pair, set up the way
//! a datapath comparison needs it, and removed when dropped.
//!
//! The set-up follows what AF_XDP over veth requires and what keeps the first probes honest:
//! one queue per end; TX checksum offload off on both ends (a frame from an AF_XDP socket in
//! copy mode carries no checksum for the peer to trust, so an offloaded partial checksum would
//! be dropped as bad); and static neighbour entries both ways, so no probe waits for ARP.
//! Everything is done with iproute2 (`ip`) and `ethtool`, which must be installed; creating
//! namespaces needs root.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::xdp::neigh::{format_mac, parse_mac};
use crate::DatapathError;

/// One end of the pair: a namespace with one veth interface in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The namespace's name (under /run/netns).
    pub netns: String,
    /// The veth interface in it.
    pub iface: String,
    /// Its IPv4 address (a /30 shared with the other end).
    pub ip: Ipv4Addr,
    /// Its MAC address.
    pub mac: [u8; 6],
}

/// Two namespaces joined by a veth pair; both are deleted on drop.
#[derive(Debug)]
pub struct VethPair {
    /// The first host (where latlab puts the probe).
    pub a: Host,
    /// The second host (where latlab puts the reflector).
    pub b: Host,
    /// What could not be set up as wished but does not stop a measurement (e.g. no ethtool).
    pub notes: Vec<String>,
}

impl VethPair {
    /// Creates namespaces `latlab-<tag>-<pid>-a` and `-b` with interfaces `lat0` and `lat1`,
    /// addresses 10.77.0.1 and 10.77.0.2. The addresses exist only inside the two namespaces.
    pub fn create(tag: &str) -> Result<VethPair, DatapathError> {
        if !is_root() {
            return Err(DatapathError::Unavailable {
                reason: "a veth test bed needs network namespaces, which only root can create"
                    .into(),
                hint: "run as root (sudo) or skip the veth comparison".into(),
            });
        }
        let base = format!("latlab-{tag}-{}", std::process::id());
        let (na, nb) = (format!("{base}-a"), format!("{base}-b"));
        let mut pair = VethPair {
            a: Host {
                netns: na.clone(),
                iface: "lat0".into(),
                ip: Ipv4Addr::new(10, 77, 0, 1),
                mac: [0; 6],
            },
            b: Host {
                netns: nb.clone(),
                iface: "lat1".into(),
                ip: Ipv4Addr::new(10, 77, 0, 2),
                mac: [0; 6],
            },
            notes: Vec::new(),
        };
        // Stale namespaces of a killed earlier run with the same pid would block `add`.
        for n in [&na, &nb] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
        ip(&["netns", "add", &na])?;
        // From here on, Drop removes whatever was made.
        ip(&["netns", "add", &nb])?;
        ip(&[
            "link",
            "add",
            "lat0",
            "netns",
            &na,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
            "type",
            "veth",
            "peer",
            "name",
            "lat1",
            "netns",
            &nb,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
        ])?;
        for h in [&pair.a, &pair.b] {
            let n = &h.netns;
            ip(&[
                "-n",
                n,
                "addr",
                "add",
                &format!("{}/30", h.ip),
                "dev",
                &h.iface,
            ])?;
            ip(&["-n", n, "link", "set", "lo", "up"])?;
            ip(&["-n", n, "link", "set", &h.iface, "up"])?;
        }
        pair.a.mac = mac_of(&pair.a)?;
        pair.b.mac = mac_of(&pair.b)?;
        for (h, peer) in [(&pair.a, &pair.b), (&pair.b, &pair.a)] {
            ip(&[
                "-n",
                &h.netns,
                "neigh",
                "replace",
                &peer.ip.to_string(),
                "lladdr",
                &format_mac(&peer.mac),
                "dev",
                &h.iface,
                "nud",
                "permanent",
            ])?;
            let ethtool = Command::new("ip")
                .args([
                    "netns", "exec", &h.netns, "ethtool", "-K", &h.iface, "tx", "off",
                ])
                .output();
            match ethtool {
                Ok(o) if o.status.success() => {}
                Ok(o) => pair.notes.push(format!(
                    "ethtool -K {} tx off failed ({}): AF_XDP copy-mode frames may be dropped",
                    h.iface,
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => pair.notes.push(format!(
                    "ethtool not runnable ({e}): TX checksum offload stays on, AF_XDP copy-mode frames may be dropped"
                )),
            }
        }
        Ok(pair)
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veth end in it, and with it the pair.
        for n in [&self.a.netns, &self.b.netns] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) -> Result<(), DatapathError> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| DatapathError::Unavailable {
            reason: format!("cannot run ip(8): {e}"),
            hint: "install iproute2".into(),
        })?;
    if o.status.success() {
        Ok(())
    } else {
        Err(DatapathError::Unavailable {
            reason: format!(
                "ip {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            hint: "is iproute2 installed, and the veth module available?".into(),
        })
    }
}

fn mac_of(h: &Host) -> Result<[u8; 6], DatapathError> {
    let o = Command::new("ip")
        .args(["-n", &h.netns, "-br", "link", "show", "dev", &h.iface])
        .output()
        .map_err(|e| DatapathError::Unavailable {
            reason: format!("cannot run ip(8): {e}"),
            hint: "install iproute2".into(),
        })?;
    let text = String::from_utf8_lossy(&o.stdout);
    text.split_whitespace()
        .find_map(|w| parse_mac(w).ok())
        .ok_or_else(|| DatapathError::Unavailable {
            reason: format!("no MAC address for {} in {:?}", h.iface, text.trim()),
            hint: "check `ip -br link`".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_two_hosts_that_reach_each_other_and_vanish_on_drop() {
        if !is_root() {
            eprintln!("skipped: not root (namespaces need root)");
            return;
        }
        let pair = VethPair::create("unit").expect("veth pair");
        let (a, b) = (pair.a.clone(), pair.b.clone());
        assert_ne!(a.mac, b.mac);
        let server = crate::netns::within(&b.netns, || {
            std::net::UdpSocket::bind((b.ip, 0)).expect("bind in b")
        })
        .unwrap();
        let port = server.local_addr().unwrap().port();
        let client = crate::netns::within(&a.netns, || {
            std::net::UdpSocket::bind((a.ip, 0)).expect("bind in a")
        })
        .unwrap();
        client.send_to(b"hi", (b.ip, port)).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = server
            .recv_from(&mut buf)
            .expect("the datagram crosses the veth");
        assert_eq!(
            (&buf[..n], from.ip()),
            (&b"hi"[..], std::net::IpAddr::V4(a.ip))
        );
        drop(pair);
        assert!(!std::path::Path::new("/run/netns").join(&a.netns).exists());
        assert!(!std::path::Path::new("/run/netns").join(&b.netns).exists());
    }
}
