//! AF_XDP: UDP over an XDP socket, frames built and parsed in user space.
//!
//! The kernel's network stack is bypassed for one UDP port on one receive queue of one
//! interface. A small XDP program (hand-assembled in the `bpf` submodule: no C compiler needed)
//! redirects IPv4/UDP frames whose destination port is the socket's to an XSKMAP slot keyed by
//! the receive queue; every other frame (ssh, ARP, the rest of the host) passes to the kernel
//! untouched. The program is attached as a bpf_link, so the attachment lives exactly as long
//! as the process's file descriptor: a SIGKILLed probe cannot leave an interface black-holed,
//! and nothing needs cleaning up beyond closing fds.
//!
//! Pieces:
//!
//! * `frame` — Ethernet II / IPv4 / UDP build and parse, RFC 1071 checksums (pure).
//! * `bpf` — an eBPF instruction encoder and the filter program (pure).
//! * `neigh` — the kernel's ARP table and MAC address text (pure parsing).
//! * `crate::sys::xdp` — the socket, UMEM, rings, bpf(2) and interface ioctls (all `unsafe`).
//!
//! Frames live in a UMEM of [`XdpConfig::frames`] chunks of 4 KiB. Half go to the fill ring
//! for receiving, the rest serve transmission. The probe ([`XdpPath`]) writes each request into
//! a free chunk; the reflector ([`XdpReflector`]) answers in place: the request's chunk is
//! rewritten with swapped addresses and the reply payload and goes straight onto the TX ring.
//!
//! Requirements: root (or CAP_NET_ADMIN + CAP_BPF + CAP_NET_RAW), an IPv4 address on the
//! interface, the peer's MAC address in the neighbour table (or given with `dst_mac`), and no
//! other XDP program on the interface. The IPv4 header checksum of received frames is
//! verified, the UDP checksum is not: on veth, a kernel-stack sender with TX checksum offload
//! on (the default) leaves it partial. latlab works either way; `ethtool -K IF tx off` on both
//! veth ends makes every frame carry full checksums (what the test bed does).
//!
//! ```no_run
//! use latlab_kernels::{Datapath, XdpConfig, XdpPath};
//!
//! let cfg = XdpConfig { iface: "eth1".into(), ..XdpConfig::default() };
//! let mut path = XdpPath::connect("192.0.2.7:862".parse().unwrap(), 0, &cfg)?;
//! println!("{:?}", path.info().mode); // e.g. Some("native attach, copy")
//! path.send(b"hello")?;
//! # Ok::<(), latlab_kernels::DatapathError>(())
//! ```

mod bpf;
mod frame;
pub(crate) mod neigh;

pub use neigh::parse_mac;

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::sys::xdp::{self as sys, Xsk, XDP_PACKET_HEADROOM};
use crate::{
    Datapath, DatapathError, DatapathInfo, DatapathKind, Received, ReflectorPath, SEND_STALL_LIMIT,
};
use frame::{Endpoint, HEADERS_LEN};

/// How the XDP program is attached (`--xdp-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpAttach {
    /// Native (driver) mode if the driver supports it, else generic (skb) mode.
    #[default]
    Auto,
    /// Generic XDP: runs after the kernel has allocated an skb; works on every interface.
    Skb,
    /// Native XDP: runs in the driver's receive path; refused if the driver lacks it.
    Native,
}

/// Whether frames are copied between the driver and the UMEM (`--copy` / `--zero-copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpCopy {
    /// Let the kernel choose (zero-copy where the driver supports it, in native mode).
    #[default]
    Auto,
    /// Force copy mode.
    Copy,
    /// Insist on zero-copy; refused if the driver cannot do it.
    ZeroCopy,
}

/// Where and how to open an AF_XDP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpConfig {
    /// The interface, e.g. `"eth0"`.
    pub iface: String,
    /// The receive queue to bind (frames arriving on other queues are not seen).
    pub queue: u32,
    /// How to attach the XDP program.
    pub attach: XdpAttach,
    /// Copy or zero-copy.
    pub copy: XdpCopy,
    /// The next hop's MAC address (default: from the kernel's neighbour table). Sender only.
    pub dst_mac: Option<[u8; 6]>,
    /// UMEM frames of 4 KiB, a power of two from 64 to 65536 (default 4096: 16 MiB).
    pub frames: u32,
}

impl Default for XdpConfig {
    fn default() -> Self {
        XdpConfig {
            iface: String::new(),
            queue: 0,
            attach: XdpAttach::Auto,
            copy: XdpCopy::Auto,
            dst_mac: None,
            frames: 4096,
        }
    }
}

/// Size of one UMEM chunk.
const FRAME_SIZE: u32 = 4096;
/// Frames kept back from the fill ring so that transmission always finds one.
const TX_RESERVE: usize = 32;
/// Frames examined per `try_recv` call before reporting "nothing yet".
const RX_BATCH: usize = 64;
/// TTL of frames latlab sends.
const TTL: u8 = 64;

const PRIV_HINT: &str = "run as root or grant CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW";

fn unavailable(reason: impl Into<String>, hint: impl Into<String>) -> DatapathError {
    DatapathError::Unavailable {
        reason: reason.into(),
        hint: hint.into(),
    }
}

/// A failed system call during setup, as a one-line refusal with a hint chosen by errno.
fn refused(what: &str, e: &io::Error, iface: &str) -> DatapathError {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => PRIV_HINT.to_string(),
        Some(libc::ENODEV) | Some(libc::ENXIO) => {
            format!("check the interface name with `ip -br link` (no {iface:?} in this network namespace)")
        }
        Some(libc::EAFNOSUPPORT) => {
            "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS); use the kernel UDP path".into()
        }
        Some(libc::EBUSY) | Some(libc::EEXIST) => format!(
            "another XDP program is attached to {iface}: see `ip link show dev {iface}`, remove it with `ip link set dev {iface} xdp off`"
        ),
        Some(libc::ENOMEM) | Some(libc::ENOBUFS) => {
            "cannot pin the UMEM: raise the locked-memory limit (ulimit -l) or use fewer frames".into()
        }
        Some(libc::EOPNOTSUPP) => format!("{iface}'s driver does not support this mode; try --xdp-mode skb and --copy"),
        _ => format!("see `ip link show dev {iface}` and the kernel log (dmesg)"),
    };
    unavailable(format!("AF_XDP: {what} on {iface}: {e}"), hint)
}

/// The interface's index, or a refusal naming it.
fn ifindex_of(name: &str) -> Result<u32, DatapathError> {
    sys::if_nametoindex(name).map_err(|e| {
        unavailable(
            format!("AF_XDP: no network interface named {name:?} ({e})"),
            "check the name with `ip -br link` (in a namespace: `ip -n NS -br link`)",
        )
    })
}

/// The interface's MAC address, or a refusal if it is not Ethernet (latlab builds Ethernet
/// frames).
fn ethernet_mac(name: &str) -> Result<[u8; 6], DatapathError> {
    let (hw_family, mac) = sys::if_hwaddr(name).map_err(|e| refused("SIOCGIFHWADDR", &e, name))?;
    if hw_family != libc::ARPHRD_ETHER {
        return Err(unavailable(
            format!("AF_XDP: {name} is not an Ethernet interface (hardware type {hw_family})"),
            "latlab builds Ethernet frames: use an Ethernet or veth interface",
        ));
    }
    Ok(mac)
}

/// The capabilities AF_XDP needs that the effective set in `status` (the text of
/// /proc/self/status) lacks: CAP_NET_RAW for the socket, CAP_NET_ADMIN to attach the program,
/// CAP_BPF (or CAP_SYS_ADMIN) to load it. Unknown (unreadable) counts as present: the system
/// call's own refusal then says what is missing.
fn missing_capabilities(status: &str) -> Vec<&'static str> {
    let Some(eff) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    else {
        return Vec::new();
    };
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    let (net_admin, net_raw, sys_admin, bpf) = (12, 13, 21, 39);
    let mut missing = Vec::new();
    if !has(net_admin) {
        missing.push("CAP_NET_ADMIN");
    }
    if !has(net_raw) {
        missing.push("CAP_NET_RAW");
    }
    if !has(bpf) && !has(sys_admin) {
        missing.push("CAP_BPF");
    }
    missing
}

/// Refuses up front, with what is missing, when the process cannot use AF_XDP.
fn check_privileges() -> Result<(), DatapathError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let missing = missing_capabilities(&status);
    if missing.is_empty() {
        return Ok(());
    }
    Err(unavailable(
        format!(
            "AF_XDP needs privileges this process lacks ({})",
            missing.join(", ")
        ),
        PRIV_HINT,
    ))
}

/// Checks a configuration before touching the system.
fn validate(cfg: &XdpConfig) -> Result<(), DatapathError> {
    let name = &cfg.iface;
    if name.is_empty() {
        return Err(unavailable(
            "AF_XDP needs an interface",
            "name one with --iface (see `ip -br link`)",
        ));
    }
    if name.len() >= 16 || name.contains(['/', '\0']) || name.contains(char::is_whitespace) {
        return Err(unavailable(
            format!("AF_XDP: {name:?} is not a valid interface name"),
            "interface names are 1 to 15 characters without '/' or spaces (see `ip -br link`)",
        ));
    }
    if !cfg.frames.is_power_of_two() || !(64..=65_536).contains(&cfg.frames) {
        return Err(unavailable(
            format!(
                "AF_XDP: {} UMEM frames is not a power of two from 64 to 65536",
                cfg.frames
            ),
            "use the default 4096 or another power of two",
        ));
    }
    Ok(())
}

/// The AF_XDP socket, its XDP program and its frame bookkeeping, shared by both ends.
struct Socket {
    // Field order is drop order: detach the program first, then close the socket.
    _link: OwnedFd,
    _prog: OwnedFd,
    _map: OwnedFd,
    xsk: Xsk,
    /// Holds the UDP port in the kernel so that no kernel socket competes for it.
    _reserve: UdpSocket,
    /// Chunk addresses owned by user space and not in use.
    free: Vec<u64>,
    ring_size: u32,
    zerocopy: bool,
    iface: String,
    mac: [u8; 6],
    local: SocketAddrV4,
    mtu: u32,
    mode: String,
    notes: Vec<String>,
    ident: u16,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("iface", &self.iface)
            .field("local", &self.local)
            .field("mode", &self.mode)
            .field("xsk", &self.xsk)
            .field("free", &self.free.len())
            .finish_non_exhaustive()
    }
}

impl Socket {
    /// Opens a socket for UDP `port` (0: pick a free one) on `cfg.iface`, local address
    /// `bind_ip` (none: the interface's first IPv4 address).
    fn open(
        bind_ip: Option<Ipv4Addr>,
        port: u16,
        cfg: &XdpConfig,
    ) -> Result<Socket, DatapathError> {
        validate(cfg)?;
        check_privileges()?;
        let name = cfg.iface.as_str();
        let ifindex = ifindex_of(name)?;
        let if_ip = sys::if_ipv4(name).map_err(|e| {
            if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
                unavailable(
                    format!("AF_XDP: {name} has no IPv4 address"),
                    format!("add one (`ip addr add 10.0.0.1/24 dev {name}`) or choose another interface"),
                )
            } else {
                refused("SIOCGIFADDR", &e, name)
            }
        })?;
        let mac = ethernet_mac(name)?;
        let mtu = sys::if_mtu(name).unwrap_or(1500);
        let driver = sys::ethtool_driver(name).ok();
        let mut queues = None;
        if let Ok((rx, _tx, combined)) = sys::ethtool_channels(name) {
            // veth reports its queues as rx (and combined = min(rx, tx)); NICs as combined,
            // sometimes plus dedicated rx. The sum never refuses a queue that exists.
            let n = if driver.as_deref() == Some("veth") {
                rx
            } else {
                rx + combined
            };
            if n > 0 {
                queues = Some(n);
            }
        }
        if let Some(n) = queues.filter(|&n| cfg.queue >= n) {
            return Err(unavailable(
                format!(
                    "AF_XDP: queue {} out of range: {name} has {n} receive queue(s)",
                    cfg.queue
                ),
                format!(
                    "choose a queue from 0 to {} (see `ethtool -l {name}`)",
                    n - 1
                ),
            ));
        }

        let local_ip = bind_ip.unwrap_or(if_ip);
        let want = SocketAddrV4::new(local_ip, port);
        let reserve =
            UdpSocket::bind(want).map_err(|e| DatapathError::bind("udp", want.into(), e))?;
        let port = match reserve.local_addr() {
            Ok(std::net::SocketAddr::V4(a)) => a.port(),
            _ => port,
        };
        let local = SocketAddrV4::new(local_ip, port);

        let ring_size = cfg.frames / 2;
        let xsk = Xsk::create(cfg.frames, FRAME_SIZE, ring_size)
            .map_err(|e| refused(e.step, &e.error, name))?;
        let map_entries = queues.unwrap_or(0).max(cfg.queue + 1);
        let map = sys::bpf_create_xskmap(map_entries)
            .map_err(|e| refused("cannot create the XSKMAP (bpf BPF_MAP_CREATE)", &e, name))?;
        let prog_insns = bpf::encode(&bpf::filter_program(map.as_raw_fd(), port));
        let prog = sys::bpf_prog_load_xdp(&prog_insns, "latlab_xsk").map_err(|e| {
            // The verifier answers EACCES or EINVAL with a log; a missing privilege has none.
            if e.log.is_empty()
                && matches!(
                    e.error.raw_os_error(),
                    Some(libc::EPERM) | Some(libc::EACCES)
                )
            {
                refused(
                    "cannot load the XDP program (bpf BPF_PROG_LOAD)",
                    &e.error,
                    name,
                )
            } else {
                unavailable(
                    format!(
                        "AF_XDP: the kernel refused latlab's XDP program: {}; verifier log: {}",
                        e.error,
                        e.log.lines().collect::<Vec<_>>().join(" | ")
                    ),
                    "report this with the kernel version (uname -r)",
                )
            }
        })?;

        let mut notes = Vec::new();
        let attach = |flags| sys::bpf_link_create_xdp(prog.as_fd(), ifindex, flags);
        let attach_err = |mode: &str, e: &io::Error| {
            if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EEXIST)) {
                unavailable(
                    format!("AF_XDP: an XDP program is already attached to {name} ({e})"),
                    format!("remove it with `ip link set dev {name} xdp off` (or stop the other latlab)"),
                )
            } else if mode == "native"
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
                )
            {
                unavailable(
                    format!(
                        "AF_XDP: {name}'s driver ({}) refused native XDP: {e}",
                        driver.as_deref().unwrap_or("unknown")
                    ),
                    "use --xdp-mode skb (or auto)",
                )
            } else {
                refused(
                    &format!("cannot attach the XDP program ({mode} mode)"),
                    e,
                    name,
                )
            }
        };
        let (link, native) = match cfg.attach {
            XdpAttach::Native => (
                attach(sys::XDP_FLAGS_DRV_MODE).map_err(|e| attach_err("native", &e))?,
                true,
            ),
            XdpAttach::Skb => (
                attach(sys::XDP_FLAGS_SKB_MODE).map_err(|e| attach_err("skb", &e))?,
                false,
            ),
            XdpAttach::Auto => match attach(sys::XDP_FLAGS_DRV_MODE) {
                Ok(l) => (l, true),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
                    ) =>
                {
                    notes.push(format!(
                        "native XDP attach refused ({e}); using skb (generic) mode"
                    ));
                    (
                        attach(sys::XDP_FLAGS_SKB_MODE).map_err(|e| attach_err("skb", &e))?,
                        false,
                    )
                }
                Err(e) => return Err(attach_err("native", &e)),
            },
        };

        let copy_flag = match (cfg.copy, native) {
            (XdpCopy::Copy, _) | (XdpCopy::Auto, false) => libc::XDP_COPY,
            (XdpCopy::ZeroCopy, _) => libc::XDP_ZEROCOPY,
            (XdpCopy::Auto, true) => 0,
        };
        bind_retrying_busy(
            &xsk,
            ifindex,
            cfg.queue,
            libc::XDP_USE_NEED_WAKEUP | copy_flag,
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) | Some(libc::EPROTONOSUPPORT)
                if cfg.copy == XdpCopy::ZeroCopy =>
            {
                unavailable(
                    format!(
                        "AF_XDP: zero-copy is not supported on {name} (driver {}{}): {e}",
                        driver.as_deref().unwrap_or("unknown"),
                        if native { "" } else { ", skb attach" }
                    ),
                    "use --copy (or leave the copy mode to the kernel)",
                )
            }
            Some(libc::EBUSY) => unavailable(
                format!(
                    "AF_XDP: queue {} of {name} already has an AF_XDP socket ({e})",
                    cfg.queue
                ),
                "stop the other AF_XDP program or choose another queue",
            ),
            Some(libc::EINVAL) => unavailable(
                format!("AF_XDP: cannot bind to queue {} of {name}: {e}", cfg.queue),
                format!("the queue may not exist: see `ethtool -l {name}`"),
            ),
            _ => refused("cannot bind the AF_XDP socket", &e, name),
        })?;
        let zerocopy = xsk.zerocopy().unwrap_or(false);
        sys::bpf_map_update_u32(map.as_fd(), cfg.queue, xsk.fd().as_raw_fd() as u32)
            .map_err(|e| refused("cannot insert the socket into the XSKMAP", &e, name))?;

        let mode = format!(
            "{} attach, {}",
            if native { "native" } else { "skb" },
            if zerocopy { "zero-copy" } else { "copy" }
        );
        if let Some(d) = &driver {
            notes.push(format!("driver: {d}"));
        }
        if native && driver.as_deref() == Some("veth") {
            notes.push("veth native attach still copies frames".into());
        }
        if !native {
            notes.push(
                "skb attach: the kernel allocates an skb for each frame before redirecting it"
                    .into(),
            );
        }
        notes.push(format!(
            "XDP program redirects UDP port {port} on {name} queue {}; other traffic goes to the kernel",
            cfg.queue
        ));
        notes.push(format!(
            "UMEM: {} frames of {FRAME_SIZE} B, rings of {ring_size}",
            cfg.frames
        ));

        let mut free: Vec<u64> = (0..u64::from(cfg.frames))
            .rev()
            .map(|i| i * u64::from(FRAME_SIZE))
            .collect();
        free.shrink_to_fit();
        let mut sock = Socket {
            _link: link,
            _prog: prog,
            _map: map,
            xsk,
            _reserve: reserve,
            free,
            ring_size,
            zerocopy,
            iface: name.to_string(),
            mac,
            local,
            mtu,
            mode,
            notes,
            ident: 0,
        };
        sock.service();
        Ok(sock)
    }

    /// Takes back completed TX frames and keeps the fill ring stocked, waking the kernel if
    /// it asked to be.
    fn service(&mut self) {
        self.xsk.reap_completions(&mut self.free);
        let spare = self.free.len().saturating_sub(TX_RESERVE);
        let missing = (self.ring_size - self.xsk.fill_pending()) as usize;
        if spare > 0 && missing > 0 {
            self.xsk.fill(&mut self.free, spare.min(missing));
        }
        if self.xsk.fill_needs_wakeup() {
            let _ = self.xsk.kick_rx();
        }
    }

    /// The next received descriptor, if any.
    fn rx_next(&mut self) -> Option<(u64, u32)> {
        self.service();
        self.xsk.rx_pop()
    }

    /// Returns a frame (by any address inside its chunk) to the free list.
    fn recycle(&mut self, addr: u64) {
        self.free.push(addr & !u64::from(FRAME_SIZE - 1));
    }

    /// A free chunk for transmission, waiting (bounded) for completions if none is free.
    fn alloc_tx(&mut self) -> Result<u64, DatapathError> {
        let mut started: Option<Instant> = None;
        loop {
            if let Some(a) = self.free.pop() {
                return Ok(a);
            }
            self.xsk.reap_completions(&mut self.free);
            if !self.free.is_empty() {
                continue;
            }
            let _ = self.xsk.kick_tx();
            stall(&mut started)?;
        }
    }

    /// Puts `addr`/`len` on the TX ring and makes the kernel send it.
    fn transmit(&mut self, addr: u64, len: usize) -> Result<(), DatapathError> {
        let mut started: Option<Instant> = None;
        while !self.xsk.tx_push(addr, len as u32) {
            self.xsk.reap_completions(&mut self.free);
            let _ = self.xsk.kick_tx();
            if let Err(e) = stall(&mut started) {
                self.recycle(addr);
                return Err(e);
            }
        }
        if self.zerocopy {
            // The driver consumes the ring on its own; it wants a kick only when it says so.
            if self.xsk.tx_needs_wakeup() {
                match self.xsk.kick_tx() {
                    Err(e) if !transient(&e) => return Err(DatapathError::Send(e)),
                    _ => {}
                }
            }
            return Ok(());
        }
        // Copy mode: each sendto() transmits synchronously; repeat until our descriptor is
        // consumed (EAGAIN: device busy or completion ring full, so reap and retry).
        let mut started: Option<Instant> = None;
        loop {
            match self.xsk.kick_tx() {
                Err(e) if !transient(&e) => return Err(DatapathError::Send(e)),
                _ => {}
            }
            self.xsk.reap_completions(&mut self.free);
            if self.xsk.tx_pending() == 0 {
                return Ok(());
            }
            stall(&mut started)?;
        }
    }

    /// Largest UDP payload a frame can carry here.
    fn max_payload(&self) -> usize {
        let by_mtu = (self.mtu as usize).saturating_sub(frame::IPV4_LEN + frame::UDP_LEN);
        let by_frame = FRAME_SIZE as usize - HEADERS_LEN;
        by_mtu.min(by_frame)
    }

    fn too_long(&self, len: usize) -> DatapathError {
        DatapathError::Send(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a {len}-byte message does not fit one frame on {} (at most {} bytes of UDP payload)",
                self.iface,
                self.max_payload()
            ),
        ))
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }

    fn info(&self, peer: Option<String>) -> DatapathInfo {
        DatapathInfo {
            kind: DatapathKind::AfXdp,
            local: Some(self.local.to_string()),
            peer,
            busy_poll_us: None,
            spin: true,
            kernel_rx_timestamps: false,
            mode: Some(self.mode.clone()),
            notes: self.notes.clone(),
        }
    }

    fn wait_readable(&mut self, timeout: Duration) -> Result<(), DatapathError> {
        self.service();
        if self.xsk.rx_ready() {
            return Ok(());
        }
        crate::sys::poll_readable(self.xsk.fd().as_raw_fd(), timeout)
            .map(|_| ())
            .map_err(DatapathError::Poll)
    }
}

/// Binds the socket, retrying EBUSY for up to a second: the kernel releases a closed
/// socket's hold on the queue from a work queue, so a socket closed just before (a previous
/// run, a reflector restarted) can keep the queue busy for a few milliseconds.
fn bind_retrying_busy(xsk: &Xsk, ifindex: u32, queue: u32, flags: u16) -> io::Result<()> {
    let started = Instant::now();
    loop {
        match xsk.bind(ifindex, queue, flags) {
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && started.elapsed() < Duration::from_secs(1) =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            r => return r,
        }
    }
}

/// EAGAIN, EBUSY, ENOBUFS, EINTR: retry the kick.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS) | Some(libc::EINTR)
    )
}

/// One spin of a bounded retry: `SendStalled` once `SEND_STALL_LIMIT` has passed.
fn stall(started: &mut Option<Instant>) -> Result<(), DatapathError> {
    let t = *started.get_or_insert_with(Instant::now);
    if t.elapsed() > SEND_STALL_LIMIT {
        return Err(DatapathError::SendStalled(SEND_STALL_LIMIT));
    }
    std::hint::spin_loop();
    Ok(())
}

/// The probe's side: Ethernet/IPv4/UDP frames to one target over an AF_XDP socket.
#[derive(Debug)]
pub struct XdpPath {
    sock: Socket,
    target: SocketAddrV4,
    dst_mac: [u8; 6],
    foreign: u64,
}

impl XdpPath {
    /// Opens an AF_XDP socket on `cfg.iface` for probing `target`. `src_port` 0 picks a free
    /// port (reserved by binding a kernel UDP socket to it for the path's lifetime). The
    /// destination MAC comes from `cfg.dst_mac` or the kernel's neighbour table.
    pub fn connect(
        target: SocketAddrV4,
        src_port: u16,
        cfg: &XdpConfig,
    ) -> Result<XdpPath, DatapathError> {
        let ip = *target.ip();
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || target.port() == 0 {
            return Err(unavailable(
                format!("AF_XDP: cannot probe {target}"),
                "give a unicast IPv4 address and a non-zero port",
            ));
        }
        validate(cfg)?;
        check_privileges()?;
        ifindex_of(&cfg.iface)?;
        ethernet_mac(&cfg.iface)?;
        // Resolve the MAC before attaching anything, so that a missing neighbour costs nothing.
        let dst_mac = match cfg.dst_mac {
            Some(m) => m,
            None => neigh::lookup(ip, &cfg.iface).ok_or_else(|| {
                unavailable(
                    format!("AF_XDP: no neighbour entry for {ip} on {}", cfg.iface),
                    format!(
                        "resolve it first (`ping -c1 {ip}`), add one (`ip neigh replace {ip} lladdr MAC dev {}`), or pass --dst-mac (the gateway's MAC for a routed target)",
                        cfg.iface
                    ),
                )
            })?,
        };
        let sock = Socket::open(None, src_port, cfg)?;
        if *sock.local.ip() == ip {
            return Err(unavailable(
                format!("AF_XDP: {ip} is {}'s own address", cfg.iface),
                "AF_XDP cannot reach the local host; probe another machine or namespace",
            ));
        }
        Ok(XdpPath {
            sock,
            target,
            dst_mac,
            foreign: 0,
        })
    }

    /// The address requests come from.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.sock.local
    }

    /// Frames that reached the socket but were not replies from the target (dropped).
    pub fn foreign_frames(&self) -> u64 {
        self.foreign
    }
}

impl Datapath for XdpPath {
    fn info(&self) -> DatapathInfo {
        let mut info = self.sock.info(Some(self.target.to_string()));
        info.notes.push(format!(
            "next hop MAC: {}",
            neigh::format_mac(&self.dst_mac)
        ));
        info
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), DatapathError> {
        if msg.len() > self.sock.max_payload() {
            return Err(self.sock.too_long(msg.len()));
        }
        let addr = self.sock.alloc_tx()?;
        let src = Endpoint {
            mac: self.sock.mac,
            addr: self.sock.local,
        };
        let dst = Endpoint {
            mac: self.dst_mac,
            addr: self.target,
        };
        let ident = self.sock.next_ident();
        let written = self
            .sock
            .xsk
            .frame_mut(addr, FRAME_SIZE as usize)
            .map(|buf| frame::write_udp_frame(buf, &src, &dst, TTL, ident, msg));
        match written {
            Some(Ok(n)) => self.sock.transmit(addr, n),
            _ => {
                self.sock.recycle(addr);
                Err(self.sock.too_long(msg.len()))
            }
        }
    }

    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>, DatapathError> {
        for _ in 0..RX_BATCH {
            let Some((addr, len)) = self.sock.rx_next() else {
                return Ok(None);
            };
            let mut got = None;
            if let Some(f) = self.sock.xsk.frame(addr, len as usize) {
                if let Ok(p) = frame::parse_udp_frame(f) {
                    if p.src.addr == self.target && p.dst.addr == self.sock.local {
                        let payload = &f[p.payload()];
                        let n = payload.len().min(buf.len());
                        buf[..n].copy_from_slice(&payload[..n]);
                        got = Some(Received {
                            len: n,
                            kernel_rx_unix_ns: None,
                            ttl: Some(p.ttl),
                        });
                    }
                }
            }
            self.sock.recycle(addr);
            match got {
                Some(r) => return Ok(Some(r)),
                None => self.foreign += 1,
            }
        }
        Ok(None)
    }
}

/// Who sent a request to an [`XdpReflector`], and the frame that carried it (the reply is
/// written into that same frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XdpPeer {
    frame: u64,
    remote: Endpoint,
    local: Endpoint,
}

impl XdpPeer {
    /// The sender's address.
    pub fn addr(&self) -> SocketAddrV4 {
        self.remote.addr
    }

    /// The sender's (or its router's) MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.remote.mac
    }
}

/// The reflector's side: answers UDP requests on one port of one interface queue, each reply
/// written in place into the request's frame.
#[derive(Debug)]
pub struct XdpReflector {
    sock: Socket,
    any_ip: bool,
    held: Option<u64>,
    malformed: u64,
}

impl XdpReflector {
    /// Opens an AF_XDP socket on `cfg.iface` answering UDP `addr.port()` (0: pick a free
    /// port). An unspecified IP (0.0.0.0) means the interface's address: requests to any of
    /// the interface's addresses are answered, each from the address it was sent to.
    pub fn bind(addr: SocketAddrV4, cfg: &XdpConfig) -> Result<XdpReflector, DatapathError> {
        let any_ip = addr.ip().is_unspecified();
        let sock = Socket::open((!any_ip).then_some(*addr.ip()), addr.port(), cfg)?;
        Ok(XdpReflector {
            sock,
            any_ip,
            held: None,
            malformed: 0,
        })
    }

    /// The address requests are answered on.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.sock.local
    }

    /// Frames that reached the socket but were not well-formed IPv4/UDP requests for it
    /// (too short, bad lengths or checksum, wrong address): counted and dropped.
    pub fn malformed_frames(&self) -> u64 {
        self.malformed
    }
}

impl ReflectorPath for XdpReflector {
    type Peer = XdpPeer;

    fn info(&self) -> DatapathInfo {
        self.sock.info(None)
    }

    fn try_recv_from(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(Received, XdpPeer)>, DatapathError> {
        if let Some(a) = self.held.take() {
            // The previous request was not answered (the layer above found it malformed).
            self.sock.recycle(a);
        }
        for _ in 0..RX_BATCH {
            let Some((addr, len)) = self.sock.rx_next() else {
                return Ok(None);
            };
            let mut got = None;
            if let Some(f) = self.sock.xsk.frame(addr, len as usize) {
                if let Ok(p) = frame::parse_udp_frame(f) {
                    let local = self.sock.local;
                    let for_us = p.dst.mac == self.sock.mac
                        && p.dst.addr.port() == local.port()
                        && (self.any_ip || p.dst.addr.ip() == local.ip());
                    if for_us {
                        let payload = &f[p.payload()];
                        let n = payload.len().min(buf.len());
                        buf[..n].copy_from_slice(&payload[..n]);
                        got = Some((
                            Received {
                                len: n,
                                kernel_rx_unix_ns: None,
                                ttl: Some(p.ttl),
                            },
                            XdpPeer {
                                frame: addr,
                                remote: p.src,
                                local: p.dst,
                            },
                        ));
                    }
                }
            }
            match got {
                Some(r) => {
                    self.held = Some(addr);
                    return Ok(Some(r));
                }
                None => {
                    self.malformed += 1;
                    self.sock.recycle(addr);
                }
            }
        }
        Ok(None)
    }

    fn send_to(&mut self, msg: &[u8], peer: XdpPeer) -> Result<(), DatapathError> {
        if msg.len() > self.sock.max_payload() {
            return Err(self.sock.too_long(msg.len()));
        }
        // In place when `peer` names the frame we hold; otherwise (an old peer) a fresh frame.
        let addr = if self.held == Some(peer.frame) {
            self.held = None;
            let in_chunk = peer.frame % u64::from(FRAME_SIZE);
            if in_chunk as usize + HEADERS_LEN + msg.len() <= FRAME_SIZE as usize {
                peer.frame
            } else {
                peer.frame - in_chunk
            }
        } else {
            self.sock.alloc_tx()?
        };
        let room = (FRAME_SIZE as u64 - addr % u64::from(FRAME_SIZE)) as usize;
        let ident = self.sock.next_ident();
        let written = self
            .sock
            .xsk
            .frame_mut(addr, room)
            .map(|buf| frame::write_udp_frame(buf, &peer.local, &peer.remote, TTL, ident, msg));
        match written {
            Some(Ok(n)) => self.sock.transmit(addr, n),
            _ => {
                self.sock.recycle(addr);
                Err(self.sock.too_long(msg.len()))
            }
        }
    }

    fn wait_readable(&mut self, timeout: Duration) -> Result<(), DatapathError> {
        self.sock.wait_readable(timeout)
    }
}

// The headroom the kernel leaves in front of received frames in copy mode: a reply written in
// place starts there, well inside the chunk.
const _: () = assert!(XDP_PACKET_HEADROOM as usize + HEADERS_LEN + 1500 <= FRAME_SIZE as usize);

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(iface: &str) -> XdpConfig {
        XdpConfig {
            iface: iface.into(),
            ..XdpConfig::default()
        }
    }

    fn reason(e: DatapathError) -> String {
        match e {
            DatapathError::Unavailable { reason, hint } => format!("{reason}; {hint}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[test]
    fn paths_can_move_to_a_measuring_thread() {
        fn send<T: Send>() {}
        send::<XdpPath>();
        send::<XdpReflector>();
        send::<XdpPeer>();
    }

    #[test]
    fn defaults() {
        let c = XdpConfig::default();
        assert_eq!(c.iface, "");
        assert_eq!(c.queue, 0);
        assert_eq!(c.attach, XdpAttach::Auto);
        assert_eq!(c.copy, XdpCopy::Auto);
        assert_eq!(c.dst_mac, None);
        assert_eq!(c.frames, 4096);
    }

    #[test]
    fn validation() {
        assert!(validate(&cfg("eth0")).is_ok());
        assert!(reason(validate(&cfg("")).unwrap_err()).contains("needs an interface"));
        assert!(
            reason(validate(&cfg("a-very-long-interface")).unwrap_err()).contains("not a valid")
        );
        assert!(reason(validate(&cfg("eth 0")).unwrap_err()).contains("not a valid"));
        assert!(reason(validate(&cfg("../x")).unwrap_err()).contains("not a valid"));
        for frames in [0, 1, 32, 100, 4095, 131_072] {
            let c = XdpConfig {
                frames,
                ..cfg("eth0")
            };
            assert!(
                reason(validate(&c).unwrap_err()).contains("power of two"),
                "{frames}"
            );
        }
        for frames in [64, 2048, 65_536] {
            let c = XdpConfig {
                frames,
                ..cfg("eth0")
            };
            assert!(validate(&c).is_ok(), "{frames}");
        }
    }

    #[test]
    fn bad_targets_are_refused_before_touching_the_system() {
        let c = cfg("eth0");
        for t in [
            "0.0.0.0:862",
            "255.255.255.255:862",
            "224.0.0.1:862",
            "10.0.0.1:0",
        ] {
            let e = XdpPath::connect(t.parse().unwrap(), 0, &c).unwrap_err();
            assert!(reason(e).contains("cannot probe"), "{t}");
        }
    }

    #[test]
    fn refusal_hints_by_errno() {
        let r = |errno| reason(refused("x", &io::Error::from_raw_os_error(errno), "veth0"));
        assert!(r(libc::EPERM).contains("CAP_BPF"));
        assert!(r(libc::EBUSY).contains("ip link set dev veth0 xdp off"));
        assert!(r(libc::EAFNOSUPPORT).contains("AF_XDP"));
        assert!(r(libc::ENOMEM).contains("ulimit -l"));
        assert!(r(libc::EPERM).starts_with("AF_XDP: x on veth0: "));
    }

    #[test]
    fn missing_capabilities_are_named_from_the_effective_set() {
        let root = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        assert!(missing_capabilities(root).is_empty());
        let nobody = "CapEff:\t0000000000000000\n";
        assert_eq!(
            missing_capabilities(nobody),
            ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF"]
        );
        // CAP_NET_ADMIN | CAP_NET_RAW | CAP_SYS_ADMIN: CAP_SYS_ADMIN stands in for CAP_BPF.
        let sys_admin = format!("CapEff:\t{:016x}\n", (1u64 << 12) | (1 << 13) | (1 << 21));
        assert!(missing_capabilities(&sys_admin).is_empty());
        let no_raw = format!("CapEff:\t{:016x}\n", (1u64 << 12) | (1 << 39));
        assert_eq!(missing_capabilities(&no_raw), ["CAP_NET_RAW"]);
        assert!(
            missing_capabilities("garbage").is_empty(),
            "unknown is not a refusal"
        );
    }
}
