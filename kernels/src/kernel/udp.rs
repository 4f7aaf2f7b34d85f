use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::{
    sys, Datapath, DatapathError, DatapathInfo, DatapathKind, Received, ReflectorPath,
    SEND_STALL_LIMIT,
};

/// Options for a kernel UDP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpOptions {
    /// `SO_BUSY_POLL` in microseconds (none: leave the system default).
    pub busy_poll_us: Option<u32>,
    /// Ask for `SO_TIMESTAMPING` software receive timestamps.
    pub kernel_timestamps: bool,
    /// Ask for the received packets' TTL (`IP_RECVTTL`), as a STAMP reflector must.
    pub recv_ttl: bool,
    /// `SO_RCVBUF` to ask for, in bytes (the kernel caps it at `net.core.rmem_max`). A large
    /// buffer lets a spinning thread that gets preempted for a few milliseconds find its
    /// packets queued rather than dropped.
    pub recv_buffer_bytes: Option<usize>,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            busy_poll_us: None,
            kernel_timestamps: false,
            recv_ttl: false,
            recv_buffer_bytes: Some(DEFAULT_RECV_BUFFER),
        }
    }
}

/// The receive buffer latlab asks for by default: 4 MiB.
pub const DEFAULT_RECV_BUFFER: usize = 4 << 20;

/// A non-blocking kernel UDP socket, as a probe's connected path or as a reflector's.
#[derive(Debug)]
pub struct UdpPath {
    socket: UdpSocket,
    peer: Option<SocketAddr>,
    busy_poll_us: Option<u32>,
    timestamps: bool,
    ttl: bool,
    notes: Vec<String>,
}

impl UdpPath {
    /// Binds a socket for a reflector (or any unconnected use).
    pub fn bind(addr: SocketAddr, opts: UdpOptions) -> Result<UdpPath, DatapathError> {
        let socket = UdpSocket::bind(addr).map_err(|e| DatapathError::bind("udp", addr, e))?;
        Self::configure(socket, None, opts)
    }

    /// Opens a socket connected to `peer`, for a probe. `local` picks the source address and
    /// port (default: any address, an ephemeral port).
    pub fn connect(
        peer: SocketAddr,
        local: Option<SocketAddr>,
        opts: UdpOptions,
    ) -> Result<UdpPath, DatapathError> {
        let local = local.unwrap_or_else(|| match peer {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        });
        let socket = UdpSocket::bind(local).map_err(|e| DatapathError::bind("udp", local, e))?;
        socket
            .connect(peer)
            .map_err(|source| DatapathError::Connect {
                proto: "udp",
                addr: peer,
                source,
            })?;
        Self::configure(socket, Some(peer), opts)
    }

    fn configure(
        socket: UdpSocket,
        peer: Option<SocketAddr>,
        opts: UdpOptions,
    ) -> Result<UdpPath, DatapathError> {
        socket
            .set_nonblocking(true)
            .map_err(|source| DatapathError::SocketOption {
                option: "O_NONBLOCK",
                source,
            })?;
        let fd = socket.as_raw_fd();
        let mut notes = Vec::new();
        let busy_poll_us = match opts.busy_poll_us {
            Some(us) => Some(super::apply_busy_poll(fd, us)?),
            None => None,
        };
        if let Some(bytes) = opts.recv_buffer_bytes {
            let want = i32::try_from(bytes).unwrap_or(i32::MAX);
            // SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max; SO_RCVBUF is capped by it.
            let forced =
                sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, want).is_ok();
            if !forced {
                let _ = sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, want);
            }
            // The kernel reports twice the usable size (it counts its bookkeeping overhead).
            if let Ok(got) = sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF) {
                notes.push(format!(
                    "SO_RCVBUF: asked {bytes} B, kernel reports {got} B{}",
                    if forced {
                        ""
                    } else {
                        " (capped by net.core.rmem_max)"
                    }
                ));
            }
        }
        let mut timestamps = false;
        if opts.kernel_timestamps {
            let flags = libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE;
            match sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags as i32) {
                Ok(()) => timestamps = true,
                Err(e) => notes.push(format!(
                    "SO_TIMESTAMPING refused ({e}); no kernel RX timestamps"
                )),
            }
        }
        let mut ttl = false;
        if opts.recv_ttl {
            let v6 = socket.local_addr().map(|a| a.is_ipv6()).unwrap_or(false);
            let (level, name) = if v6 {
                (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT)
            } else {
                (libc::IPPROTO_IP, libc::IP_RECVTTL)
            };
            match sys::setsockopt_int(fd, level, name, 1) {
                Ok(()) => ttl = true,
                Err(e) => notes.push(format!("IP_RECVTTL refused ({e}); replies carry TTL 0")),
            }
        }
        Ok(UdpPath {
            socket,
            peer,
            busy_poll_us,
            timestamps,
            ttl,
            notes,
        })
    }

    /// The bound local address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn recv_inner(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(Received, Option<SocketAddr>)>, DatapathError> {
        if self.timestamps || self.ttl {
            return Ok(sys::recvmsg_nonblocking(self.socket.as_raw_fd(), buf)
                .map_err(DatapathError::Recv)?
                .map(|m| {
                    (
                        Received {
                            len: m.len,
                            kernel_rx_unix_ns: m.rx_unix_ns,
                            ttl: m.ttl,
                        },
                        m.from,
                    )
                }));
        }
        let plain = |len| Received {
            len,
            kernel_rx_unix_ns: None,
            ttl: None,
        };
        let result = if self.peer.is_some() {
            self.socket.recv(buf).map(|n| (plain(n), None))
        } else {
            self.socket.recv_from(buf).map(|(n, a)| (plain(n), Some(a)))
        };
        match result {
            Ok(r) => Ok(Some(r)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            // A previous datagram was answered by ICMP port-unreachable: report it as a
            // receive error the probe can name ("connection refused").
            Err(e) => Err(DatapathError::Recv(e)),
        }
    }

    fn send_inner(&self, msg: &[u8], to: Option<SocketAddr>) -> Result<(), DatapathError> {
        let mut started: Option<Instant> = None;
        loop {
            let r = match to {
                Some(a) => self.socket.send_to(msg, a),
                None => self.socket.send(msg),
            };
            match r {
                Ok(_) => return Ok(()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    let t = *started.get_or_insert_with(Instant::now);
                    if t.elapsed() > SEND_STALL_LIMIT {
                        return Err(DatapathError::SendStalled(SEND_STALL_LIMIT));
                    }
                    std::hint::spin_loop();
                }
                Err(e) => return Err(DatapathError::Send(e)),
            }
        }
    }

    /// The configured socket and what it obtained, for a backend that drives the same socket
    /// another way (io_uring).
    pub(crate) fn into_parts(self) -> (UdpSocket, DatapathInfo) {
        let info = self.describe();
        (self.socket, info)
    }

    fn describe(&self) -> DatapathInfo {
        DatapathInfo {
            kind: DatapathKind::KernelUdp,
            local: self.socket.local_addr().ok().map(|a| a.to_string()),
            peer: self.peer.map(|a| a.to_string()),
            busy_poll_us: self.busy_poll_us,
            spin: true,
            kernel_rx_timestamps: self.timestamps,
            mode: None,
            notes: self.notes.clone(),
        }
    }
}

impl Datapath for UdpPath {
    fn info(&self) -> DatapathInfo {
        self.describe()
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError> {
        self.send_inner(msg, None)
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError> {
        Ok(self.recv_inner(buf)?.map(|(r, _)| r))
    }
}

/// A reflector's receive: calls `recv` until it yields a message with its sender or nothing.
/// An unconnected socket can still see ICMP errors queued for an earlier reply, and a
/// message without a source address cannot happen for UDP/IP; a reflector must not stop for
/// either, so both are skipped.
pub(crate) fn skip_icmp_errors(
    mut recv: impl FnMut() -> Result<Option<(Received, Option<SocketAddr>)>, DatapathError>,
) -> Result<Option<(Received, SocketAddr)>, DatapathError> {
    loop {
        match recv() {
            Ok(Some((r, Some(from)))) => return Ok(Some((r, from))),
            Ok(Some((_, None))) => continue,
            Ok(None) => return Ok(None),
            Err(DatapathError::Recv(e)) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e),
        }
    }
}

impl ReflectorPath for UdpPath {
    type Peer = SocketAddr;

    fn info(&self) -> DatapathInfo {
        self.describe()
    }

    fn try_recv_from(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(Received, SocketAddr)>, DatapathError> {
        skip_icmp_errors(|| self.recv_inner(buf))
    }

    fn send_to(&mut self, msg: &[u8], peer: SocketAddr) -> Result<(), DatapathError> {
        self.send_inner(msg, Some(peer))
    }

    fn wait_readable(&mut self, timeout: Duration) -> Result<(), DatapathError> {
        sys::poll_readable(self.socket.as_raw_fd(), timeout)
            .map(|_| ())
            .map_err(DatapathError::Poll)
    }
}
