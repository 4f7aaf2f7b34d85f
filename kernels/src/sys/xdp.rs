//! Raw AF_XDP, bpf(2) and interface-query system calls for `crate::xdp`.
//!
//! Everything here is a thin, checked wrapper: the UMEM and the four rings are mmapped regions
//! shared with the kernel; the wrappers hand out frame slices only after bounds-checking the
//! address against the UMEM and touch ring indices only through atomics with the
//! acquire/release pairing the kernel's `xsk_queue.h` documents. Nothing in this file decides
//! policy (modes, fallbacks, error wording); `crate::xdp` does.

use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};

/// `XDP_PACKET_HEADROOM`: where the kernel puts a received frame inside its chunk (copy mode).
pub(crate) const XDP_PACKET_HEADROOM: u64 = 256;

/// `BPF_MAP_TYPE_XSKMAP`.
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
/// `BPF_PROG_TYPE_XDP`.
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type` value `BPF_XDP`.
const BPF_XDP: u32 = 37;
/// bpf(2) commands.
const BPF_MAP_CREATE: libc::c_int = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_int = 2;
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_LINK_CREATE: libc::c_int = 28;
/// `BPF_ANY` for map updates.
const BPF_ANY: u64 = 0;

/// `XDP_FLAGS_SKB_MODE`: generic XDP, run after the skb is allocated.
pub(crate) const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP, run by the driver.
pub(crate) const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// ethtool ioctl commands.
const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;
const ETHTOOL_GCHANNELS: u32 = 0x0000_003c;

/// The fd of a freshly created kernel object, or the OS error.
fn fd_result(rc: libc::c_long) -> io::Result<OwnedFd> {
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(rc).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: the kernel just returned `fd` as a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Calls bpf(2) with `attr` (a `#[repr(C)]` prefix of `union bpf_attr`).
///
/// # Safety
///
/// `T` must be a `#[repr(C)]` struct laid out as the prefix of `union bpf_attr` that `cmd`
/// reads, with every padding byte zeroed, and any pointers it carries (as `u64`) must point to
/// memory valid for the access the command makes for the duration of the call.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> libc::c_long {
    // SAFETY: the caller guarantees the layout and the embedded pointers; the size passed is
    // the size of `attr`, so the kernel copies no more than we own.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *mut T).cast::<libc::c_void>(),
            mem::size_of::<T>() as libc::c_uint,
        )
    }
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// Creates an XSKMAP (`u32` key → AF_XDP socket) with `max_entries` slots.
pub(crate) fn bpf_create_xskmap(max_entries: u32) -> io::Result<OwnedFd> {
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries,
        ..MapCreateAttr::default()
    };
    attr.map_name[..11].copy_from_slice(b"latlab_xsks");
    // SAFETY: MapCreateAttr is the repr(C) prefix of bpf_attr for BPF_MAP_CREATE (7 u32 and a
    // 16-byte name: 44 bytes, no padding); it carries no pointers.
    fd_result(unsafe { bpf(BPF_MAP_CREATE, &mut attr) })
}

#[repr(C)]
#[derive(Default)]
struct MapUpdateAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// Sets `map[key] = value` in a map with `u32` keys and values.
pub(crate) fn bpf_map_update_u32(map: BorrowedFd<'_>, key: u32, value: u32) -> io::Result<()> {
    let mut attr = MapUpdateAttr {
        map_fd: map.as_raw_fd() as u32,
        key: &key as *const u32 as u64,
        value: &value as *const u32 as u64,
        flags: BPF_ANY,
        ..MapUpdateAttr::default()
    };
    // SAFETY: MapUpdateAttr is the repr(C) prefix of bpf_attr for BPF_MAP_UPDATE_ELEM with the
    // explicit padding zeroed; `key` and `value` are live locals of the map's 4-byte sizes.
    let rc = unsafe { bpf(BPF_MAP_UPDATE_ELEM, &mut attr) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// A refused `BPF_PROG_LOAD`: the OS error and the verifier's log (empty if it gave none).
#[derive(Debug)]
pub(crate) struct ProgLoadError {
    pub error: io::Error,
    pub log: String,
}

/// Loads an XDP program from encoded instructions (8 bytes each). On failure the load is
/// repeated with the verifier log on, and the log comes back with the error.
pub(crate) fn bpf_prog_load_xdp(insns: &[[u8; 8]], name: &str) -> Result<OwnedFd, ProgLoadError> {
    let license = b"GPL\0";
    let load = |log: Option<&mut [u8]>| {
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_XDP,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            expected_attach_type: BPF_XDP,
            ..ProgLoadAttr::default()
        };
        let n = name.len().min(15);
        attr.prog_name[..n].copy_from_slice(&name.as_bytes()[..n]);
        if let Some(buf) = log {
            attr.log_level = 1;
            attr.log_size = buf.len() as u32;
            attr.log_buf = buf.as_mut_ptr() as u64;
        }
        // SAFETY: ProgLoadAttr is the repr(C) prefix of bpf_attr for BPF_PROG_LOAD (no implicit
        // padding: every u64 sits at a multiple of 8); `insns`, `license` (NUL-terminated) and
        // the log buffer outlive the call and their lengths are the ones passed.
        fd_result(unsafe { bpf(BPF_PROG_LOAD, &mut attr) })
    };
    match load(None) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            let mut log = vec![0u8; 1 << 16];
            match load(Some(&mut log)) {
                Ok(fd) => Ok(fd),
                Err(error) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
                    // Keep the first error when the retry failed differently (e.g. ENOSPC).
                    let error = if error.raw_os_error() == first.raw_os_error() {
                        error
                    } else {
                        first
                    };
                    Err(ProgLoadError { error, log: text })
                }
            }
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

/// Attaches an XDP program to `ifindex` as a bpf_link (`flags`: `XDP_FLAGS_SKB_MODE` or
/// `XDP_FLAGS_DRV_MODE`). The attachment lives exactly as long as the returned fd.
pub(crate) fn bpf_link_create_xdp(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags,
    };
    // SAFETY: LinkCreateAttr is the repr(C) prefix of bpf_attr for BPF_LINK_CREATE (four u32,
    // no padding, no pointers).
    fd_result(unsafe { bpf(BPF_LINK_CREATE, &mut attr) })
}

/// `if_nametoindex(3)`.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}

/// An `ifreq` with the interface name filled in.
fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: ifreq is plain old data (a name array and a union of PODs); all-zero is valid.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// Runs one interface ioctl on a throwaway AF_INET datagram socket (created in the calling
/// thread's network namespace, which is what makes this work after `setns`).
fn ifreq_ioctl(request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: plain socket(2) call; the result is checked.
    let fd =
        fd_result(
            unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }
                as libc::c_long,
        )?;
    // SAFETY: `req` is a valid, writable ifreq; every request used here reads the name and
    // writes only inside the ifreq (or, for SIOCETHTOOL, into the buffer `ifru_data` points
    // to, which the caller keeps alive).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, req as *mut libc::ifreq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The interface's primary IPv4 address (`SIOCGIFADDR`; `EADDRNOTAVAIL` when it has none).
pub(crate) fn if_ipv4(name: &str) -> io::Result<std::net::Ipv4Addr> {
    let mut req = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFADDR, &mut req)?;
    // SAFETY: SIOCGIFADDR filled `ifru_addr` with a sockaddr_in (AF_INET), which fits in the
    // 16-byte sockaddr; read_unaligned copes with the union's alignment.
    let sin: libc::sockaddr_in =
        unsafe { ptr::read_unaligned(ptr::addr_of!(req.ifr_ifru.ifru_addr).cast()) };
    Ok(u32::from_be(sin.sin_addr.s_addr).into())
}

/// The interface's hardware address (`SIOCGIFHWADDR`), which must be a 6-byte Ethernet one.
pub(crate) fn if_hwaddr(name: &str) -> io::Result<(u16, [u8; 6])> {
    let mut req = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFHWADDR, &mut req)?;
    // SAFETY: SIOCGIFHWADDR filled `ifru_hwaddr`, a plain sockaddr.
    let sa: libc::sockaddr = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, &b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = b as u8;
    }
    Ok((sa.sa_family, mac))
}

/// The interface's MTU (`SIOCGIFMTU`).
pub(crate) fn if_mtu(name: &str) -> io::Result<u32> {
    let mut req = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFMTU, &mut req)?;
    // SAFETY: SIOCGIFMTU filled `ifru_mtu`, an int.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    Ok(u32::try_from(mtu).unwrap_or(0))
}

#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

/// The interface's channel counts (`ETHTOOL_GCHANNELS`): (rx, tx, combined).
pub(crate) fn ethtool_channels(name: &str) -> io::Result<(u32, u32, u32)> {
    let mut req = ifreq_for(name)?;
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..EthtoolChannels::default()
    };
    req.ifr_ifru.ifru_data = (&mut ch as *mut EthtoolChannels).cast();
    ifreq_ioctl(libc::SIOCETHTOOL, &mut req)?;
    Ok((ch.rx_count, ch.tx_count, ch.combined_count))
}

#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// The interface's driver name (`ETHTOOL_GDRVINFO`), e.g. `"veth"`, `"mlx5_core"`.
pub(crate) fn ethtool_driver(name: &str) -> io::Result<String> {
    let mut req = ifreq_for(name)?;
    // SAFETY: EthtoolDrvinfo is plain old data; all-zero is valid.
    let mut info: EthtoolDrvinfo = unsafe { mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    req.ifr_ifru.ifru_data = (&mut info as *mut EthtoolDrvinfo).cast();
    ifreq_ioctl(libc::SIOCETHTOOL, &mut req)?;
    let end = info.driver.iter().position(|&b| b == 0).unwrap_or(32);
    Ok(String::from_utf8_lossy(&info.driver[..end]).into_owned())
}

/// An anonymous, page-aligned mapping used as the UMEM.
struct Umem {
    ptr: NonNull<u8>,
    len: usize,
}

impl Umem {
    fn new(len: usize) -> io::Result<Umem> {
        // SAFETY: an anonymous private mapping at an address the kernel picks; checked below.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Umem { ptr, len })
    }

    fn check(&self, addr: u64, len: usize) -> Option<usize> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.len).then_some(start)
    }
}

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping created in `new`, unmapped only here.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// One mmapped AF_XDP ring (fill, completion, RX or TX).
struct Ring {
    map: NonNull<u8>,
    map_len: usize,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut u8,
    mask: u32,
    size: u32,
}

impl Ring {
    /// Maps the ring at page offset `pgoff` of the socket.
    ///
    /// # Safety
    ///
    /// `off` must be the offsets the kernel reported for this ring of `fd` (XDP_MMAP_OFFSETS),
    /// `size` the ring size set on `fd`, and `desc_size` the size of one descriptor (8 for
    /// fill/completion, 16 for RX/TX).
    unsafe fn map(
        fd: RawFd,
        off: &libc::xdp_ring_offset,
        size: u32,
        desc_size: usize,
        pgoff: libc::off_t,
    ) -> io::Result<Ring> {
        let map_len = off.desc as usize + size as usize * desc_size;
        // SAFETY: mapping the ring region of an AF_XDP socket, shared with the kernel; the
        // result is checked.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                pgoff,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = p.cast::<u8>();
        let map = NonNull::new(base).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        // SAFETY: the kernel's offsets lie within the mapping it just gave us (the caller
        // passes the offsets the kernel reported); the producer, consumer and flags words are
        // 4-byte aligned u32s, which AtomicU32 matches in size and alignment.
        unsafe {
            Ok(Ring {
                map,
                map_len,
                producer: base.add(off.producer as usize).cast(),
                consumer: base.add(off.consumer as usize).cast(),
                flags: base.add(off.flags as usize).cast(),
                desc: base.add(off.desc as usize),
                mask: size - 1,
                size,
            })
        }
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: points into our live mapping (see `map`); the kernel updates it atomically.
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as for `producer`.
        let flags = unsafe { &*self.flags };
        flags.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// Writes a u64 (fill ring) entry at `idx`.
    fn write_addr(&mut self, idx: u32, addr: u64) {
        let slot = (idx & self.mask) as usize;
        // SAFETY: slot < size, so the 8-byte entry lies inside the descriptor array of the
        // mapping; the kernel does not read it until the producer index is released past it.
        unsafe { ptr::write_volatile(self.desc.cast::<u64>().add(slot), addr) }
    }

    /// Reads a u64 (completion ring) entry at `idx`.
    fn read_addr(&self, idx: u32) -> u64 {
        let slot = (idx & self.mask) as usize;
        // SAFETY: slot < size; the kernel published this entry before its producer store,
        // which our Acquire load of the producer synchronised with.
        unsafe { ptr::read_volatile(self.desc.cast::<u64>().add(slot)) }
    }

    /// Writes an `xdp_desc` (TX ring) at `idx`.
    fn write_desc(&mut self, idx: u32, d: libc::xdp_desc) {
        let slot = (idx & self.mask) as usize;
        // SAFETY: slot < size, inside the 16-byte descriptor array of the mapping.
        unsafe { ptr::write_volatile(self.desc.cast::<libc::xdp_desc>().add(slot), d) }
    }

    /// Reads an `xdp_desc` (RX ring) at `idx`.
    fn read_desc(&self, idx: u32) -> libc::xdp_desc {
        let slot = (idx & self.mask) as usize;
        // SAFETY: slot < size; published by the kernel before its Release of the producer.
        unsafe { ptr::read_volatile(self.desc.cast::<libc::xdp_desc>().add(slot)) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping created in `map`, unmapped only here.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.map_len);
        }
    }
}

/// Which step of socket setup failed.
#[derive(Debug)]
pub(crate) struct XskSetupError {
    pub step: &'static str,
    pub error: io::Error,
}

fn step<T>(step: &'static str, r: io::Result<T>) -> Result<T, XskSetupError> {
    r.map_err(|error| XskSetupError { step, error })
}

/// An AF_XDP socket with its UMEM and four rings (not yet bound until [`Xsk::bind`]).
pub(crate) struct Xsk {
    // Drop order: rings, then the socket, then the UMEM (the kernel pins UMEM pages itself).
    fill: Ring,
    comp: Ring,
    rx: Ring,
    tx: Ring,
    fd: OwnedFd,
    umem: Umem,
    fill_prod: u32,
    tx_prod: u32,
    comp_cons: u32,
    rx_cons: u32,
}

// SAFETY: the raw pointers refer to mappings owned by this value alone; nothing is shared with
// other threads of this process, so moving the whole socket to another thread is sound.
unsafe impl Send for Xsk {}

impl std::fmt::Debug for Xsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xsk")
            .field("fd", &self.fd.as_raw_fd())
            .field("umem_len", &self.umem.len)
            .field("ring_size", &self.rx.size)
            .finish_non_exhaustive()
    }
}

fn setsockopt<T>(fd: RawFd, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live value whose exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Xsk {
    /// Creates the socket, registers a UMEM of `frames` × `frame_size` bytes and sets up and
    /// maps the four rings, each with `ring_size` entries (a power of two).
    pub(crate) fn create(
        frames: u32,
        frame_size: u32,
        ring_size: u32,
    ) -> Result<Xsk, XskSetupError> {
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        let fd = step("socket(AF_XDP)", fd_result(raw as libc::c_long))?;
        let len = frames as usize * frame_size as usize;
        let umem = step("mmap UMEM", Umem::new(len))?;
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr.as_ptr() as u64,
            len: len as u64,
            chunk_size: frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        let raw_fd = fd.as_raw_fd();
        step("XDP_UMEM_REG", setsockopt(raw_fd, libc::XDP_UMEM_REG, &reg))?;
        for (name, what) in [
            (libc::XDP_UMEM_FILL_RING, "XDP_UMEM_FILL_RING"),
            (libc::XDP_UMEM_COMPLETION_RING, "XDP_UMEM_COMPLETION_RING"),
            (libc::XDP_RX_RING, "XDP_RX_RING"),
            (libc::XDP_TX_RING, "XDP_TX_RING"),
        ] {
            step(what, setsockopt(raw_fd, name, &(ring_size as libc::c_int)))?;
        }
        // SAFETY: xdp_mmap_offsets is plain old data; all-zero is valid.
        let mut off: libc::xdp_mmap_offsets = unsafe { mem::zeroed() };
        let mut optlen = mem::size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: `off` and `optlen` are writable and `optlen` holds the buffer size.
        let rc = unsafe {
            libc::getsockopt(
                raw_fd,
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                (&mut off as *mut libc::xdp_mmap_offsets).cast(),
                &mut optlen,
            )
        };
        if rc != 0 {
            return Err(XskSetupError {
                step: "XDP_MMAP_OFFSETS",
                error: io::Error::last_os_error(),
            });
        }
        if optlen as usize != mem::size_of::<libc::xdp_mmap_offsets>() {
            return Err(XskSetupError {
                step: "XDP_MMAP_OFFSETS (kernel without ring flags, older than 5.4)",
                error: io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            });
        }
        let desc = mem::size_of::<libc::xdp_desc>();
        // The four maps below: the offsets are the kernel's for this socket, `ring_size` is the
        // size just set, and the descriptor sizes and page offsets are the uapi ones.
        // SAFETY: see just above.
        let fill = step("mmap fill ring", unsafe {
            Ring::map(
                raw_fd,
                &off.fr,
                ring_size,
                8,
                libc::XDP_UMEM_PGOFF_FILL_RING as libc::off_t,
            )
        })?;
        // SAFETY: as above.
        let comp = step("mmap completion ring", unsafe {
            Ring::map(
                raw_fd,
                &off.cr,
                ring_size,
                8,
                libc::XDP_UMEM_PGOFF_COMPLETION_RING as libc::off_t,
            )
        })?;
        // SAFETY: as above.
        let rx = step("mmap RX ring", unsafe {
            Ring::map(raw_fd, &off.rx, ring_size, desc, libc::XDP_PGOFF_RX_RING)
        })?;
        // SAFETY: as above.
        let tx = step("mmap TX ring", unsafe {
            Ring::map(raw_fd, &off.tx, ring_size, desc, libc::XDP_PGOFF_TX_RING)
        })?;
        let fill_prod = fill.producer().load(Ordering::Relaxed);
        let tx_prod = tx.producer().load(Ordering::Relaxed);
        let comp_cons = comp.consumer().load(Ordering::Relaxed);
        let rx_cons = rx.consumer().load(Ordering::Relaxed);
        Ok(Xsk {
            fill,
            comp,
            rx,
            tx,
            fd,
            umem,
            fill_prod,
            tx_prod,
            comp_cons,
            rx_cons,
        })
    }

    /// Binds to `queue` of `ifindex` with `XDP_*` bind flags.
    pub(crate) fn bind(&self, ifindex: u32, queue: u32, flags: u16) -> io::Result<()> {
        let sa = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `sa` is a live sockaddr_xdp whose size is passed.
        let rc = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_xdp).cast(),
                mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether the bound socket runs in zero-copy mode (`XDP_OPTIONS`).
    pub(crate) fn zerocopy(&self) -> io::Result<bool> {
        let mut opts = libc::xdp_options { flags: 0 };
        let mut len = mem::size_of::<libc::xdp_options>() as libc::socklen_t;
        // SAFETY: `opts` and `len` are writable and `len` holds the buffer size.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_OPTIONS,
                (&mut opts as *mut libc::xdp_options).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            Ok(opts.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The socket's fd (for the XSKMAP and for poll).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Gives frames to the kernel for receiving: pops addresses from `free` while the fill
    /// ring has room, at most `limit` of them. Returns how many were given.
    pub(crate) fn fill(&mut self, free: &mut Vec<u64>, limit: usize) -> usize {
        let cons = self.fill.consumer().load(Ordering::Acquire);
        let room = self.fill.size - self.fill_prod.wrapping_sub(cons);
        let n = (room as usize).min(free.len()).min(limit);
        if n == 0 {
            return 0;
        }
        for _ in 0..n {
            let addr = free.pop().unwrap_or_default();
            let idx = self.fill_prod;
            self.fill.write_addr(idx, addr);
            self.fill_prod = idx.wrapping_add(1);
        }
        self.fill
            .producer()
            .store(self.fill_prod, Ordering::Release);
        n
    }

    /// Frames in the fill ring not yet taken by the kernel.
    pub(crate) fn fill_pending(&self) -> u32 {
        self.fill_prod
            .wrapping_sub(self.fill.consumer().load(Ordering::Acquire))
    }

    /// Whether the kernel asks for a wakeup to process the fill ring.
    pub(crate) fn fill_needs_wakeup(&self) -> bool {
        self.fill.needs_wakeup()
    }

    /// Takes completed TX frames back, appending their addresses to `out`.
    pub(crate) fn reap_completions(&mut self, out: &mut Vec<u64>) -> usize {
        let prod = self.comp.producer().load(Ordering::Acquire);
        let n = prod.wrapping_sub(self.comp_cons);
        if n == 0 {
            return 0;
        }
        for i in 0..n {
            out.push(self.comp.read_addr(self.comp_cons.wrapping_add(i)));
        }
        self.comp_cons = prod;
        self.comp
            .consumer()
            .store(self.comp_cons, Ordering::Release);
        n as usize
    }

    /// Takes one received descriptor (address, length), if any. The frame is then owned by the
    /// caller until it goes back through [`Xsk::fill`] or the TX ring.
    pub(crate) fn rx_pop(&mut self) -> Option<(u64, u32)> {
        let prod = self.rx.producer().load(Ordering::Acquire);
        if prod == self.rx_cons {
            return None;
        }
        let d = self.rx.read_desc(self.rx_cons);
        self.rx_cons = self.rx_cons.wrapping_add(1);
        self.rx.consumer().store(self.rx_cons, Ordering::Release);
        Some((d.addr, d.len))
    }

    /// Whether the RX ring holds a descriptor.
    pub(crate) fn rx_ready(&self) -> bool {
        self.rx.producer().load(Ordering::Acquire) != self.rx_cons
    }

    /// Puts one frame on the TX ring; false when the ring is full.
    pub(crate) fn tx_push(&mut self, addr: u64, len: u32) -> bool {
        let cons = self.tx.consumer().load(Ordering::Acquire);
        if self.tx_prod.wrapping_sub(cons) >= self.tx.size {
            return false;
        }
        let idx = self.tx_prod;
        self.tx.write_desc(
            idx,
            libc::xdp_desc {
                addr,
                len,
                options: 0,
            },
        );
        self.tx_prod = idx.wrapping_add(1);
        self.tx.producer().store(self.tx_prod, Ordering::Release);
        true
    }

    /// TX descriptors the kernel has not consumed yet.
    pub(crate) fn tx_pending(&self) -> u32 {
        self.tx_prod
            .wrapping_sub(self.tx.consumer().load(Ordering::Acquire))
    }

    /// Whether the kernel asks for a wakeup to process the TX ring.
    pub(crate) fn tx_needs_wakeup(&self) -> bool {
        self.tx.needs_wakeup()
    }

    /// Kicks TX processing: `sendto(fd, NULL, 0, MSG_DONTWAIT)`.
    pub(crate) fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length send with no buffer and no address is valid for AF_XDP.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                ptr::null(),
                0,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Kicks RX processing: `recvfrom(fd, NULL, 0, MSG_DONTWAIT)`.
    pub(crate) fn kick_rx(&self) -> io::Result<()> {
        // SAFETY: a zero-length receive with no buffer and no address is valid for AF_XDP.
        let rc = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The bytes of a frame the caller owns, if `addr..addr+len` lies inside the UMEM.
    pub(crate) fn frame(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let start = self.umem.check(addr, len)?;
        // SAFETY: bounds checked against the UMEM mapping just above. The caller only asks for
        // frames it owns (taken from the RX ring or never given to the kernel), which the
        // kernel does not write while user space owns them.
        Some(unsafe { std::slice::from_raw_parts(self.umem.ptr.as_ptr().add(start), len) })
    }

    /// Mutable bytes of a frame the caller owns, if it lies inside the UMEM.
    pub(crate) fn frame_mut(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let start = self.umem.check(addr, len)?;
        // SAFETY: bounds checked; `&mut self` makes this the only slice into the UMEM from
        // this process, and the frame is owned by user space (see `frame`).
        Some(unsafe { std::slice::from_raw_parts_mut(self.umem.ptr.as_ptr().add(start), len) })
    }
}
