//! Raw system calls that std and socket2 do not wrap: `recvmsg` with control messages
//! (software RX timestamps, TTL), `poll`, integer socket options, `setns`; in [`uring`] the
//! io_uring rings and buffers; in [`xdp`] AF_XDP sockets, their UMEM and rings, bpf(2) and
//! interface ioctls. This is the only module of the crate allowed to use `unsafe`.
#![allow(unsafe_code)]

pub(crate) mod uring;
pub(crate) mod xdp;

use std::io;
use std::mem;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::time::Duration;

/// Sets an `int` socket option.
pub(crate) fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` lives for the call and its size is passed; the kernel validates `fd`.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads an `int` socket option.
pub(crate) fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes and `len` holds the buffer size.
    let rc =
        unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut i32).cast(), &mut len) };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What one non-blocking `recvmsg` returned.
pub(crate) struct RecvMsg {
    pub len: usize,
    pub from: Option<SocketAddr>,
    pub rx_unix_ns: Option<u64>,
    pub ttl: Option<u8>,
}

/// One non-blocking `recvmsg(MSG_DONTWAIT)`, parsing `SCM_TIMESTAMPING` and `IP_TTL` /
/// `IPV6_HOPLIMIT` control messages. Returns `Ok(None)` when nothing is ready.
pub(crate) fn recvmsg_nonblocking(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<RecvMsg>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for scm_timestamping (3 timespecs) plus a TTL int, with cmsg headers and alignment.
    let mut control = Control([0u8; 128]);
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { mem::zeroed() };
    // SAFETY: msghdr is plain old data; all-zero is a valid value, fields are set below.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;

    // SAFETY: every pointer in `msg` refers to a live local buffer whose length is given.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            io::ErrorKind::Interrupted => Ok(None),
            _ => Err(err),
        };
    }
    let used = (msg.msg_controllen as usize).min(control.0.len());
    let (rx_unix_ns, ttl) = parse_control(&control.0[..used]);
    let out = RecvMsg {
        len: n as usize,
        from: sockaddr_to_std(&addr, msg.msg_namelen),
        rx_unix_ns,
        ttl,
    };
    Ok(Some(out))
}

/// Control-message space, aligned as `struct cmsghdr` needs.
#[repr(C, align(8))]
struct Control([u8; 128]);

/// Reads the software RX timestamp (`SCM_TIMESTAMPING`, CLOCK_REALTIME ns) and the TTL or hop
/// limit out of the control messages the kernel wrote: the bytes of a `msg_control` buffer,
/// a sequence of `cmsghdr { size_t len; int level; int type; }` each followed by its data and
/// padded to 8 bytes. Malformed lengths end the walk.
pub(crate) fn parse_control(control: &[u8]) -> (Option<u64>, Option<u8>) {
    const HDR: usize = mem::size_of::<libc::cmsghdr>();
    let word = |b: &[u8], at: usize| -> Option<i64> {
        Some(i64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
    };
    let int = |b: &[u8], at: usize| -> Option<i32> {
        Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let (mut rx, mut ttl) = (None, None);
    let mut at = 0;
    while at + HDR <= control.len() {
        let Some(len) = word(control, at).and_then(|l| usize::try_from(l).ok()) else {
            break;
        };
        if len < HDR || at + len > control.len() {
            break;
        }
        let level = int(control, at + 8).unwrap_or(-1);
        let kind = int(control, at + 12).unwrap_or(-1);
        let data = at + HDR;
        match (level, kind) {
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPING) => {
                // struct scm_timestamping { struct timespec ts[3]; }: ts[0] is software.
                if let (Some(sec), Some(nsec)) = (word(control, data), word(control, data + 8)) {
                    if sec > 0 || nsec > 0 {
                        rx = Some(sec as u64 * 1_000_000_000 + nsec as u64);
                    }
                }
            }
            (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                ttl = int(control, data).and_then(|v| u8::try_from(v).ok());
            }
            _ => {}
        }
        at += (len + 7) & !7;
    }
    (rx, ttl)
}

/// A `SocketAddr` as the kernel's `sockaddr_storage` and its length.
pub(crate) fn sockaddr_from_std(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let s = socket2::SockAddr::from(addr);
    // SAFETY: socket2 guarantees `as_ptr` points at `len` valid bytes of a sockaddr, which
    // fits in a sockaddr_storage (all-zero is a valid starting value).
    unsafe {
        let mut storage: libc::sockaddr_storage = mem::zeroed();
        std::ptr::copy_nonoverlapping(
            s.as_ptr().cast::<u8>(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            s.len() as usize,
        );
        (storage, s.len())
    }
}

/// Waits until `fd` is readable or `timeout` passes.
pub(crate) fn poll_readable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    match rc {
        r if r < 0 => {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(err)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

fn sockaddr_to_std(addr: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match i32::from(addr.ss_family) {
        libc::AF_INET if len as usize >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says this storage holds a sockaddr_in, and it is large enough.
            let a: &libc::sockaddr_in = unsafe { &*(addr as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                u32::from_be(a.sin_addr.s_addr).into(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says this storage holds a sockaddr_in6, and it is large enough.
            let a: &libc::sockaddr_in6 =
                unsafe { &*(addr as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Moves the calling thread into the network namespace that `fd` refers to (`setns(2)`).
pub(crate) fn setns_net(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns only reads its integer arguments; the kernel validates the descriptor.
    let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
