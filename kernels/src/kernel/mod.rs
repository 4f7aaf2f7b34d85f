//! The kernel's own sockets: UDP and TCP, non-blocking, polled by a spinning thread.
//!
//! Options a user can ask for, and that the manifest records as obtained:
//! `SO_BUSY_POLL` (the driver is polled from the receive call on NICs with NAPI busy-poll),
//! and `SO_TIMESTAMPING` software receive timestamps, which let a probe split its round trip
//! into time in the kernel's receive path and time in user space.

mod tcp;
mod udp;

pub(crate) use tcp::connect_stream;
pub use tcp::{TcpEchoReflector, TcpPath};
pub(crate) use udp::skip_icmp_errors;
pub use udp::{UdpOptions, UdpPath};

use std::os::fd::RawFd;

use crate::{sys, DatapathError};

/// Applies `SO_BUSY_POLL` and reads back what the kernel kept.
pub(crate) fn apply_busy_poll(fd: RawFd, us: u32) -> Result<u32, DatapathError> {
    let value = i32::try_from(us).unwrap_or(i32::MAX);
    sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_BUSY_POLL, value).map_err(|source| {
        DatapathError::SocketOption {
            option: "SO_BUSY_POLL (raising it above net.core.busy_read needs CAP_NET_ADMIN)",
            source,
        }
    })?;
    let got = sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_BUSY_POLL).unwrap_or(value);
    Ok(u32::try_from(got).unwrap_or(0))
}
