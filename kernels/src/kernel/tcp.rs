use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::framer::Framer;
use crate::{sys, Datapath, DatapathError, DatapathInfo, DatapathKind, Received, SEND_STALL_LIMIT};

/// A kernel TCP connection carrying fixed-size messages, for a probe.
///
/// TCP is a byte stream, so the probe and its echo reflector agree on message boundaries by
/// size: every message is exactly `msg_len` bytes, and `try_recv` returns one only when all of
/// its bytes have arrived. `TCP_NODELAY` is set so that a message is not held back by Nagle.
#[derive(Debug)]
pub struct TcpPath {
    stream: TcpStream,
    peer: SocketAddr,
    framer: Framer,
    busy_poll_us: Option<u32>,
}

impl TcpPath {
    /// Connects to `peer` within `timeout` and prepares for messages of `msg_len` bytes.
    pub fn connect(
        peer: SocketAddr,
        msg_len: usize,
        timeout: Duration,
        busy_poll_us: Option<u32>,
    ) -> Result<TcpPath, DatapathError> {
        let (stream, busy_poll_us) = connect_stream(peer, timeout, busy_poll_us)?;
        Ok(TcpPath {
            stream,
            peer,
            framer: Framer::new(msg_len),
            busy_poll_us,
        })
    }
}

/// Connects a probe's stream: within `timeout`, `TCP_NODELAY`, non-blocking, with
/// `SO_BUSY_POLL` if asked (returning what the kernel kept).
pub(crate) fn connect_stream(
    peer: SocketAddr,
    timeout: Duration,
    busy_poll_us: Option<u32>,
) -> Result<(TcpStream, Option<u32>), DatapathError> {
    let stream =
        TcpStream::connect_timeout(&peer, timeout).map_err(|source| DatapathError::Connect {
            proto: "tcp",
            addr: peer,
            source,
        })?;
    let opt = |option: &'static str| move |source| DatapathError::SocketOption { option, source };
    stream.set_nodelay(true).map_err(opt("TCP_NODELAY"))?;
    stream.set_nonblocking(true).map_err(opt("O_NONBLOCK"))?;
    let busy_poll_us = match busy_poll_us {
        Some(us) => Some(super::apply_busy_poll(stream.as_raw_fd(), us)?),
        None => None,
    };
    Ok((stream, busy_poll_us))
}

impl Datapath for TcpPath {
    fn info(&self) -> DatapathInfo {
        DatapathInfo {
            kind: DatapathKind::KernelTcp,
            local: self.stream.local_addr().ok().map(|a| a.to_string()),
            peer: Some(self.peer.to_string()),
            busy_poll_us: self.busy_poll_us,
            spin: true,
            kernel_rx_timestamps: false,
            mode: None,
            notes: vec![format!(
                "messages framed by size: {} bytes each",
                self.framer.msg_len()
            )],
        }
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError> {
        write_all_spinning(&mut self.stream, msg)
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError> {
        if !self.framer.has_message() {
            match self.stream.read(self.framer.spare()) {
                Ok(0) => return Err(DatapathError::PeerClosed),
                Ok(n) => self.framer.advance(n),
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(DatapathError::Recv(e)),
            }
        }
        Ok(self.framer.pop(buf).map(|len| Received {
            len,
            kernel_rx_unix_ns: None,
            ttl: None,
        }))
    }
}

/// A TCP echo reflector: every byte received on a connection is written back on it.
///
/// One thread serves every connection by polling them in turn (non-blocking), so it can be
/// pinned and spin like the UDP reflector. Connections beyond `max_connections` are refused
/// by closing them at once.
#[derive(Debug)]
pub struct TcpEchoReflector {
    listener: TcpListener,
    conns: Vec<TcpStream>,
    buf: Vec<u8>,
    max_connections: usize,
    /// Connections accepted so far.
    pub accepted: u64,
    /// Connections refused because `max_connections` were open.
    pub refused: u64,
    rounds: u64,
}

impl TcpEchoReflector {
    /// Binds and listens on `addr`.
    pub fn bind(
        addr: SocketAddr,
        max_connections: usize,
    ) -> Result<TcpEchoReflector, DatapathError> {
        let listener = TcpListener::bind(addr).map_err(|e| DatapathError::bind("tcp", addr, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|source| DatapathError::SocketOption {
                option: "O_NONBLOCK",
                source,
            })?;
        Ok(TcpEchoReflector {
            listener,
            conns: Vec::new(),
            buf: vec![0; 64 * 1024],
            max_connections: max_connections.max(1),
            accepted: 0,
            refused: 0,
            rounds: 0,
        })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Accepts pending connections and echoes whatever is readable, once round. Returns the
    /// number of bytes echoed. Never blocks (except for a bounded spin on a full send buffer).
    pub fn poll_once(&mut self) -> Result<usize, DatapathError> {
        // accept() is a syscall that almost always says EAGAIN: with connections open, look
        // for new ones only every 256 rounds, so the spin loop spends its time on the reads.
        self.rounds = self.rounds.wrapping_add(1);
        if self.conns.is_empty() || self.rounds % 256 == 0 {
            self.accept_pending()?;
        }
        self.echo_ready()
    }

    fn accept_pending(&mut self) -> Result<(), DatapathError> {
        // An accept() that finds nothing still makes the kernel allocate and free a socket
        // (and sets RCU work in motion); a zero-timeout poll asks first, far more cheaply.
        if !sys::poll_readable(self.listener.as_raw_fd(), Duration::ZERO)
            .map_err(DatapathError::Poll)?
        {
            return Ok(());
        }
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    if self.conns.len() >= self.max_connections {
                        self.refused += 1;
                        drop(s);
                        continue;
                    }
                    let _ = s.set_nodelay(true);
                    if s.set_nonblocking(true).is_ok() {
                        self.accepted += 1;
                        self.conns.push(s);
                    }
                }
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) => return Err(DatapathError::Recv(e)),
            }
        }
    }

    fn echo_ready(&mut self) -> Result<usize, DatapathError> {
        let mut echoed = 0;
        let mut i = 0;
        while i < self.conns.len() {
            let closed = match self.conns[i].read(&mut self.buf) {
                Ok(0) => true,
                Ok(n) => match write_all_spinning(&mut self.conns[i], &self.buf[..n]) {
                    Ok(()) => {
                        echoed += n;
                        false
                    }
                    Err(_) => true,
                },
                Err(e) if would_block(&e) => false,
                Err(_) => true,
            };
            if closed {
                self.conns.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(echoed)
    }

    /// Waits up to `timeout` for a connection or data, without spinning.
    pub fn wait_readable(&mut self, timeout: Duration) -> Result<(), DatapathError> {
        if self.conns.is_empty() {
            return sys::poll_readable(self.listener.as_raw_fd(), timeout)
                .map(|_| ())
                .map_err(DatapathError::Poll);
        }
        // Several descriptors: a short sleep keeps this simple and still idle-cheap.
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn write_all_spinning(stream: &mut TcpStream, mut msg: &[u8]) -> Result<(), DatapathError> {
    let mut started: Option<Instant> = None;
    while !msg.is_empty() {
        match stream.write(msg) {
            Ok(0) => return Err(DatapathError::PeerClosed),
            Ok(n) => msg = &msg[n..],
            Err(e) if would_block(&e) => {
                let t = *started.get_or_insert_with(Instant::now);
                if t.elapsed() > SEND_STALL_LIMIT {
                    return Err(DatapathError::SendStalled(SEND_STALL_LIMIT));
                }
                std::hint::spin_loop();
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return Err(DatapathError::PeerClosed)
            }
            Err(e) => return Err(DatapathError::Send(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_messages_are_framed_by_size_through_the_echo_reflector() {
        let mut echo = TcpEchoReflector::bind("127.0.0.1:0".parse().unwrap(), 4).unwrap();
        let addr = echo.local_addr().unwrap();
        let mut path = TcpPath::connect(addr, 8, Duration::from_secs(2), None).unwrap();
        path.send(b"abcdefgh").unwrap();
        path.send(b"ijklmnop").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 8];
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < 2 && Instant::now() < deadline {
            echo.poll_once().unwrap();
            if let Some(r) = path.try_recv(&mut buf).unwrap() {
                got.push(buf[..r.len].to_vec());
            }
        }
        assert_eq!(got, vec![b"abcdefgh".to_vec(), b"ijklmnop".to_vec()]);
        assert_eq!(echo.accepted, 1);
    }

    #[test]
    fn port_in_use_is_named() {
        let first = TcpEchoReflector::bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let addr = first.local_addr().unwrap();
        let err = TcpEchoReflector::bind(addr, 1).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("already in use"), "{msg}");
        assert!(msg.contains(&addr.port().to_string()), "{msg}");
    }

    #[test]
    fn refused_connection_is_a_clear_error() {
        // Bind then drop to find a port that is very likely closed.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = TcpPath::connect(port, 8, Duration::from_secs(1), None).unwrap_err();
        assert!(
            err.to_string().contains("is a reflector listening there"),
            "{err}"
        );
    }
}
