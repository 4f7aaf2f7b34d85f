//! # latlab-kernels
//!
//! How bytes move. A *datapath* is one way to get a message from this process onto the wire and
//! back: the kernel's UDP and TCP sockets ([`kernel`]), the same sockets through io_uring
//! ([`uring`]), and AF_XDP sockets with frames built in user space ([`xdp`]). All three are
//! written against the kernel's own interfaces, so the default build needs only the Rust
//! toolchain; DPDK and RDMA verbs, which bind C libraries, will come behind cargo features.
//! [`netns`] and [`testbed`] build the namespaces and veth pairs that datapaths are compared on.
//!
//! Two traits carve the work:
//!
//! * [`Datapath`] is the sender's side: one connected peer, `send` a message, `try_recv` one
//!   without blocking. The probe loop in `latlab-probes` is written once against it, so every
//!   backend gets the same timing, loss accounting and histograms.
//! * [`ReflectorPath`] is the reflector's side: messages from many peers, each answered to the
//!   peer it came from. The peer is an associated type because a kernel socket names peers by
//!   address while a bypass path names them by the frame it will rewrite in place.
//!
//! Both are non-blocking by contract: a measuring thread is pinned and busy-polls, because on a
//! typical VM a blocking wake-up costs several times the round trip being measured. Backends
//! report what they actually obtained (busy-poll, kernel timestamps, copy or zero-copy) in
//! [`DatapathInfo`], which the probe writes into the run's manifest.
//!
//! Unsafe code lives only in the `sys` modules: raw `recvmsg`/`poll`/`setns`, the io_uring
//! rings and buffers, and the AF_XDP sockets, rings, bpf(2) calls and interface ioctls.
#![deny(unsafe_code)]

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod framer;
pub mod kernel;
pub mod netns;
mod sys;
pub mod testbed;
pub mod uring;
pub mod xdp;

pub use kernel::{TcpEchoReflector, TcpPath, UdpOptions, UdpPath};
pub use uring::{UringOptions, UringTcpPath, UringUdpPath, UringUdpReflector};
pub use xdp::{parse_mac, XdpAttach, XdpConfig, XdpCopy, XdpPath, XdpPeer, XdpReflector};

/// Which datapath moved the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DatapathKind {
    /// The kernel's UDP socket, non-blocking, spin-polled.
    KernelUdp,
    /// The kernel's TCP socket (TCP_NODELAY), non-blocking, spin-polled.
    KernelTcp,
    /// UDP through io_uring: registered file, multishot receive into a provided-buffer ring,
    /// completions found by spinning on the completion queue.
    IoUringUdp,
    /// TCP through io_uring (sender side), framed like [`DatapathKind::KernelTcp`].
    IoUringTcp,
    /// An AF_XDP socket: Ethernet/IPv4/UDP frames built and parsed in user space, an XDP
    /// program redirecting only the probe's UDP port to it.
    AfXdp,
    /// An in-memory datapath used by tests (scripted loss, reordering, duplicates).
    Scripted,
}

impl fmt::Display for DatapathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatapathKind::KernelUdp => "kernel-udp",
            DatapathKind::KernelTcp => "kernel-tcp",
            DatapathKind::IoUringUdp => "io-uring-udp",
            DatapathKind::IoUringTcp => "io-uring-tcp",
            DatapathKind::AfXdp => "af-xdp",
            DatapathKind::Scripted => "scripted",
        })
    }
}

/// What a datapath actually obtained from the system, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatapathInfo {
    /// The backend.
    pub kind: DatapathKind,
    /// Local address, when the datapath has one.
    pub local: Option<String>,
    /// Peer address for connected (sender-side) paths.
    pub peer: Option<String>,
    /// `SO_BUSY_POLL` in microseconds, when set and accepted by the kernel.
    pub busy_poll_us: Option<u32>,
    /// Whether receive completion is found by spinning (true for every latlab path today).
    pub spin: bool,
    /// Whether software RX timestamps (`SO_TIMESTAMPING`) are delivered with each message.
    pub kernel_rx_timestamps: bool,
    /// The mode a bypass path actually obtained, which may differ from the one asked for:
    /// AF_XDP's attach mode and copy or zero-copy (e.g. `"native attach, copy"` on veth);
    /// io_uring's setup (e.g. `"single-issuer, defer-taskrun, multishot recv, buffer ring"`).
    /// `None` for the kernel socket paths.
    #[serde(default)]
    pub mode: Option<String>,
    /// Anything else worth knowing, one fact per line (e.g. a refused socket option).
    pub notes: Vec<String>,
}

/// One received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// Kernel software receive timestamp (CLOCK_REALTIME, ns since the Unix epoch), when
    /// `SO_TIMESTAMPING` is on and the kernel supplied one.
    pub kernel_rx_unix_ns: Option<u64>,
    /// IP TTL (or hop limit) of the received packet, when the datapath can see it. STAMP
    /// reflectors copy it into the reply's Ses-Sender TTL field.
    pub ttl: Option<u8>,
}

/// The sender's side of a datapath: one connected peer, non-blocking.
pub trait Datapath {
    /// What this datapath is and what it obtained from the system.
    fn info(&self) -> DatapathInfo;

    /// Sends one message to the connected peer. Never blocks for long: a full send buffer is
    /// retried by spinning for a bounded time and then reported as [`DatapathError::SendStalled`].
    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError>;

    /// Returns one received message if one is ready, `Ok(None)` if not. Never blocks.
    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError>;
}

/// The reflector's side of a datapath: messages from many peers, non-blocking.
pub trait ReflectorPath {
    /// How this path names the peer a message came from.
    type Peer: Copy + fmt::Debug;

    /// What this datapath is and what it obtained from the system.
    fn info(&self) -> DatapathInfo;

    /// Returns one received message and its sender if one is ready, `Ok(None)` if not.
    fn try_recv_from(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(Received, Self::Peer)>, DatapathError>;

    /// Sends `msg` to `peer`.
    fn send_to(&mut self, msg: &[u8], peer: Self::Peer) -> Result<(), DatapathError>;

    /// Waits up to `timeout` for something to receive, without spinning. Reflectors call this
    /// only after a long idle period, so that an idle `latlab reflect` does not burn a core.
    fn wait_readable(&mut self, timeout: Duration) -> Result<(), DatapathError> {
        std::thread::sleep(timeout.min(Duration::from_micros(100)));
        Ok(())
    }
}

/// Errors from setting up or using a datapath.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatapathError {
    /// The address is taken by another socket.
    #[error("{proto} port {port} on {ip} is already in use: stop whatever listens there (ss -lnp 'sport = :{port}') or choose another port")]
    AddrInUse {
        /// `"udp"` or `"tcp"`.
        proto: &'static str,
        /// The IP part of the address.
        ip: std::net::IpAddr,
        /// The port.
        port: u16,
    },
    /// Binding failed for another reason (permission for a port below 1024, address not local).
    #[error("cannot bind {proto} socket to {addr} (ports below 1024 need root or CAP_NET_BIND_SERVICE; the address must be local)")]
    Bind {
        /// `"udp"` or `"tcp"`.
        proto: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `connect` failed (for TCP: refused or unreachable).
    #[error("cannot connect {proto} socket to {addr} (is a reflector listening there? start one with `latlab reflect`)")]
    Connect {
        /// `"udp"` or `"tcp"`.
        proto: &'static str,
        /// The peer.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A socket option was refused.
    #[error("setsockopt {option} failed")]
    SocketOption {
        /// The option, e.g. `"SO_BUSY_POLL"`.
        option: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `send` failed.
    #[error("send failed")]
    Send(#[source] io::Error),
    /// The send buffer stayed full for longer than the bounded retry.
    #[error(
        "send buffer stayed full for {0:?}: the peer or the path is not draining; lower the rate"
    )]
    SendStalled(Duration),
    /// `recv` failed.
    #[error("receive failed")]
    Recv(#[source] io::Error),
    /// The peer closed a stream connection.
    #[error("the peer closed the connection")]
    PeerClosed,
    /// Waiting for readiness failed.
    #[error("poll failed")]
    Poll(#[source] io::Error),
    /// A datapath cannot be set up on this system (no privilege, no such interface, a kernel
    /// without the feature, something else already attached): what failed, and what to do.
    #[error("{reason}; {hint}")]
    Unavailable {
        /// What failed, in one line.
        reason: String,
        /// What the user can do about it.
        hint: String,
    },
}

impl DatapathError {
    pub(crate) fn bind(proto: &'static str, addr: SocketAddr, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::AddrInUse {
            DatapathError::AddrInUse {
                proto,
                ip: addr.ip(),
                port: addr.port(),
            }
        } else {
            DatapathError::Bind {
                proto,
                addr,
                source,
            }
        }
    }
}

/// How long `send` spins on a full buffer before giving up.
pub const SEND_STALL_LIMIT: Duration = Duration::from_millis(100);
