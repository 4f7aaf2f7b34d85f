//! The kernel's sockets driven through io_uring.
//!
//! The socket is the same one the kernel path uses (same options, same buffers); what changes
//! is how bytes cross the user/kernel boundary:
//!
//! * the socket is a *registered file*, so no per-operation file lookup;
//! * receives are one *multishot* `recvmsg` (UDP) or `recv` (TCP) that stays armed and picks
//!   its buffers from a *provided-buffer ring*, so no submission per receive;
//! * a connected socket's sends are `WRITE_FIXED` from a *registered buffer*; a reflector's
//!   are `SEND` with a destination address;
//! * completions are found by *spinning* on the completion queue in the pinned thread. The
//!   ring is `SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG`: the kernel raises a flag in
//!   shared memory when it has work queued for us, and only then does the thread enter the
//!   kernel (with `GETEVENTS`). Older kernels fall back to `COOP_TASKRUN`, and the manifest's
//!   `mode` says which setup was obtained.
//!
//! `SQPOLL` (a kernel thread that polls the submission queue) is available on request. It
//! takes a core of its own: on a machine with fewer than three CPUs it competes with the
//! probe's and reflector's spinning threads and makes latency worse, and the notes say so.

use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::framer::Framer;
use crate::sys::uring::{RecvKind, Ring, RingConfig, SendError};
use crate::{
    Datapath, DatapathError, DatapathInfo, DatapathKind, Received, ReflectorPath, UdpOptions,
    UdpPath, SEND_STALL_LIMIT,
};

/// Options of an io_uring datapath.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UringOptions {
    /// The UDP socket's own options (busy-poll, timestamps, TTL, receive buffer).
    pub udp: UdpOptions,
    /// Use a kernel submission-polling thread (`IORING_SETUP_SQPOLL`).
    pub sqpoll: bool,
    /// Pin the SQPOLL thread to this CPU.
    pub sqpoll_cpu: Option<u32>,
}

impl UringOptions {
    fn ring(&self, kind: RecvKind, max_msg: usize) -> RingConfig {
        let payload = max_msg.max(64);
        let buf_size = match kind {
            RecvKind::Datagram => payload + Ring::datagram_overhead(),
            RecvKind::Stream => payload.max(4096),
        }
        .next_power_of_two();
        // About 4 MiB of receive buffers, like the kernel path's socket buffer, 16..1024 of them.
        let buf_count = ((4usize << 20) / buf_size)
            .clamp(16, 1024)
            .next_power_of_two() as u16;
        RingConfig {
            kind,
            buf_size,
            buf_count,
            max_send: payload,
            sqpoll: self.sqpoll.then_some(self.sqpoll_cpu),
        }
    }
}

/// Largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

/// A connected UDP socket driven through io_uring, for a probe.
#[derive(Debug)]
pub struct UringUdpPath {
    // Declared before the socket: the ring (which holds it as a registered file) goes first.
    ring: Ring,
    _socket: UdpSocket,
    info: DatapathInfo,
}

impl UringUdpPath {
    /// Opens a socket connected to `peer` (from `local`, default any address and an ephemeral
    /// port) and sets its ring up for messages of up to `max_msg` bytes.
    pub fn connect(
        peer: SocketAddr,
        local: Option<SocketAddr>,
        max_msg: usize,
        opts: UringOptions,
    ) -> Result<UringUdpPath, DatapathError> {
        let (socket, info) = UdpPath::connect(peer, local, opts.udp)?.into_parts();
        let (ring, info) = attach(&socket, info, opts, RecvKind::Datagram, max_msg)?;
        Ok(UringUdpPath {
            ring,
            _socket: socket,
            info: DatapathInfo {
                kind: DatapathKind::IoUringUdp,
                ..info
            },
        })
    }
}

impl Datapath for UringUdpPath {
    fn info(&self) -> DatapathInfo {
        self.info.clone()
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError> {
        send(&mut self.ring, msg, None)
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError> {
        Ok(recv(&mut self.ring, buf)?.map(|(r, _)| r))
    }
}

/// An unconnected UDP socket driven through io_uring, for a reflector.
#[derive(Debug)]
pub struct UringUdpReflector {
    ring: Ring,
    _socket: UdpSocket,
    info: DatapathInfo,
    local: SocketAddr,
}

impl UringUdpReflector {
    /// Binds `addr` and sets the ring up for datagrams of any size.
    pub fn bind(addr: SocketAddr, opts: UringOptions) -> Result<UringUdpReflector, DatapathError> {
        let (socket, info) = UdpPath::bind(addr, opts.udp)?.into_parts();
        let local = socket
            .local_addr()
            .map_err(|e| DatapathError::bind("udp", addr, e))?;
        let (ring, info) = attach(&socket, info, opts, RecvKind::Datagram, MAX_DATAGRAM)?;
        Ok(UringUdpReflector {
            ring,
            _socket: socket,
            info: DatapathInfo {
                kind: DatapathKind::IoUringUdp,
                ..info
            },
            local,
        })
    }

    /// The bound address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl ReflectorPath for UringUdpReflector {
    type Peer = SocketAddr;

    fn info(&self) -> DatapathInfo {
        self.info.clone()
    }

    fn try_recv_from(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(Received, SocketAddr)>, DatapathError> {
        crate::kernel::skip_icmp_errors(|| recv(&mut self.ring, buf))
    }

    fn send_to(&mut self, msg: &[u8], peer: SocketAddr) -> Result<(), DatapathError> {
        send(&mut self.ring, msg, Some(peer))
    }

    fn wait_readable(&mut self, timeout: Duration) -> Result<(), DatapathError> {
        self.ring.wait(timeout).map_err(DatapathError::Poll)
    }
}

/// A TCP connection driven through io_uring, carrying fixed-size messages, for a probe
/// (framed like [`crate::TcpPath`]: every message is exactly `msg_len` bytes).
#[derive(Debug)]
pub struct UringTcpPath {
    ring: Ring,
    _stream: TcpStream,
    info: DatapathInfo,
    framer: Framer,
    chunk: Vec<u8>,
}

impl UringTcpPath {
    /// Connects to `peer` within `timeout` and prepares for messages of `msg_len` bytes.
    pub fn connect(
        peer: SocketAddr,
        msg_len: usize,
        timeout: Duration,
        opts: UringOptions,
    ) -> Result<UringTcpPath, DatapathError> {
        let (stream, busy_poll_us) =
            crate::kernel::connect_stream(peer, timeout, opts.udp.busy_poll_us)?;
        let info = DatapathInfo {
            kind: DatapathKind::IoUringTcp,
            local: stream.local_addr().ok().map(|a| a.to_string()),
            peer: Some(peer.to_string()),
            busy_poll_us,
            spin: true,
            kernel_rx_timestamps: false,
            mode: None,
            notes: vec![format!(
                "messages framed by size: {} bytes each",
                msg_len.max(1)
            )],
        };
        let (ring, info) = attach(&stream, info, opts, RecvKind::Stream, msg_len)?;
        let chunk = vec![0; opts.ring(RecvKind::Stream, msg_len).buf_size];
        Ok(UringTcpPath {
            ring,
            _stream: stream,
            info,
            framer: Framer::new(msg_len),
            chunk,
        })
    }
}

impl Datapath for UringTcpPath {
    fn info(&self) -> DatapathInfo {
        self.info.clone()
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError> {
        send(&mut self.ring, msg, None)
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError> {
        if !self.framer.has_message() {
            if let Some((r, _)) = recv(&mut self.ring, &mut self.chunk)? {
                if r.len == 0 {
                    return Err(DatapathError::PeerClosed);
                }
                self.framer.push(&self.chunk[..r.len]);
            }
        }
        Ok(self.framer.pop(buf).map(|len| Received {
            len,
            kernel_rx_unix_ns: None,
            ttl: None,
        }))
    }
}

/// Sets a ring up on `socket` and records what was obtained in `info`.
fn attach(
    socket: &impl AsRawFd,
    mut info: DatapathInfo,
    opts: UringOptions,
    kind: RecvKind,
    max_msg: usize,
) -> Result<(Ring, DatapathInfo), DatapathError> {
    let cfg = opts.ring(kind, max_msg);
    let ring = Ring::new(socket.as_raw_fd(), cfg).map_err(setup_error)?;
    let mut mode = ring.setup.join(", ");
    mode += match kind {
        RecvKind::Datagram => ", multishot recvmsg",
        RecvKind::Stream => ", multishot recv",
    };
    mode += ", provided-buffer ring, registered file";
    if kind == RecvKind::Stream || info.peer.is_some() {
        mode += ", registered send buffer";
    }
    info.mode = Some(mode);
    info.notes.push(format!(
        "io_uring: {} receive buffers of {} B",
        cfg.buf_count, cfg.buf_size
    ));
    if opts.sqpoll {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 3 {
            info.notes.push(format!(
                "SQPOLL on a machine with {cpus} CPUs: its kernel thread competes with the spinning probe and reflector, which makes latency worse; use it only with a spare core"
            ));
        }
    }
    Ok((ring, info))
}

fn send(ring: &mut Ring, msg: &[u8], dest: Option<SocketAddr>) -> Result<(), DatapathError> {
    ring.send(msg, dest, SEND_STALL_LIMIT).map_err(|e| match e {
        SendError::Io(e) => DatapathError::Send(e),
        SendError::Stalled => DatapathError::SendStalled(SEND_STALL_LIMIT),
    })
}

fn recv(
    ring: &mut Ring,
    buf: &mut [u8],
) -> Result<Option<(Received, Option<SocketAddr>)>, DatapathError> {
    Ok(ring.recv(buf).map_err(DatapathError::Recv)?.map(|m| {
        (
            Received {
                len: m.len,
                kernel_rx_unix_ns: m.rx_unix_ns,
                ttl: m.ttl,
            },
            m.from,
        )
    }))
}

/// Turns a failed ring setup into a one-line reason and a hint.
fn setup_error(e: io::Error) -> DatapathError {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let (reason, hint) = match e.raw_os_error() {
        Some(libc::ENOSYS) => (
            "this kernel has no io_uring (io_uring_setup returned ENOSYS)".to_string(),
            "use --datapath kernel, or a kernel built with CONFIG_IO_URING".to_string(),
        ),
        Some(libc::EPERM) if disabled > 0 => (
            format!("io_uring is disabled by sysctl kernel.io_uring_disabled={disabled}"),
            "as root: sysctl kernel.io_uring_disabled=0, or use --datapath kernel".to_string(),
        ),
        Some(libc::EPERM) => (
            "io_uring_setup was refused (EPERM)".to_string(),
            "a seccomp policy (e.g. a container runtime's) may forbid io_uring; use --datapath kernel".to_string(),
        ),
        Some(libc::ENOMEM) => (
            "io_uring could not lock its rings and buffers in memory (ENOMEM)".to_string(),
            "raise the locked-memory limit (ulimit -l) or use --datapath kernel".to_string(),
        ),
        Some(libc::EINVAL) => (
            format!("this kernel refused the io_uring setup latlab needs ({e})"),
            "provided-buffer rings need Linux 5.19 and multishot recvmsg 6.0; use --datapath kernel".to_string(),
        ),
        _ => (
            format!("io_uring setup failed: {e}"),
            "use --datapath kernel".to_string(),
        ),
    };
    DatapathError::Unavailable { reason, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: DatapathError) -> String {
        e.to_string()
    }

    #[test]
    fn setup_refusals_say_why_and_what_to_do() {
        let none = text(setup_error(io::Error::from_raw_os_error(libc::ENOSYS)));
        assert!(
            none.contains("no io_uring") && none.contains("--datapath kernel"),
            "{none}"
        );
        let old = text(setup_error(io::Error::from_raw_os_error(libc::EINVAL)));
        assert!(
            old.contains("5.19") && old.contains("--datapath kernel"),
            "{old}"
        );
        let mem = text(setup_error(io::Error::from_raw_os_error(libc::ENOMEM)));
        assert!(mem.contains("ulimit -l"), "{mem}");
        // EPERM names the sysctl when it is set here, a seccomp policy otherwise.
        let perm = text(setup_error(io::Error::from_raw_os_error(libc::EPERM)));
        assert!(
            perm.contains("kernel.io_uring_disabled") || perm.contains("seccomp"),
            "{perm}"
        );
        assert!(perm.contains("--datapath kernel"), "{perm}");
    }

    #[test]
    fn ring_sizes_follow_the_message_size() {
        let o = UringOptions::default();
        let small = o.ring(RecvKind::Datagram, 44);
        assert!(small.buf_size >= 64 + Ring::datagram_overhead());
        assert!(small.buf_size.is_power_of_two() && small.buf_count.is_power_of_two());
        let big = o.ring(RecvKind::Datagram, MAX_DATAGRAM);
        assert!(big.buf_size >= MAX_DATAGRAM + Ring::datagram_overhead());
        assert!(big.buf_count >= 16, "at least 16 buffers however large");
        assert!(usize::from(small.buf_count) * small.buf_size <= 8 << 20);
        assert_eq!(o.ring(RecvKind::Stream, 10).buf_size, 4096);
        let sq = UringOptions {
            sqpoll: true,
            sqpoll_cpu: Some(1),
            ..o
        };
        assert_eq!(sq.ring(RecvKind::Stream, 10).sqpoll, Some(Some(1)));
    }
}
