//! The io_uring plumbing behind `crate::uring`: a ring set up for one spinning thread, a
//! provided-buffer ring that a multishot receive fills, and a registered slab of send slots.
//! Every `unsafe` of the io_uring backend is in this file.
//!
//! How a receive completes without blocking: the ring is created with `SINGLE_ISSUER` and
//! `DEFER_TASKRUN` (falling back to `COOP_TASKRUN` on older kernels) plus `TASKRUN_FLAG`, so
//! when a packet arrives the kernel only queues the work and raises `IORING_SQ_TASKRUN` in
//! the shared ring. The spinning thread reads that flag (an atomic load, no system call) and
//! enters the kernel with `GETEVENTS` only when it is set; the completion then sits in the
//! CQ on return. With `SQPOLL`, a kernel thread does that work instead, on a core of its own.

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use io_uring::types::{BufRingEntry, Fixed, RecvMsgOut};
use io_uring::{cqueue, opcode, IoUring};

use super::{parse_control, sockaddr_from_std, sockaddr_to_std, RecvMsg};

/// How the ring receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvKind {
    /// Multishot `recvmsg`: each completion is one datagram with its source address and
    /// control messages (timestamps, TTL).
    Datagram,
    /// Multishot `recv`: each completion is a chunk of a byte stream.
    Stream,
}

/// How to set the ring up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingConfig {
    pub kind: RecvKind,
    /// Bytes per provided receive buffer (payload plus, for datagrams, the recvmsg header).
    pub buf_size: usize,
    /// Number of provided receive buffers (a power of two).
    pub buf_count: u16,
    /// Largest message `send` accepts.
    pub max_send: usize,
    /// Use a kernel submission-polling thread, optionally pinned to a CPU.
    pub sqpoll: Option<Option<u32>>,
}

const RECV_TAG: u64 = u64::MAX;
const CANCEL_TAG: u64 = u64::MAX - 1;
const SEND_SLOTS: usize = 8;
const BUF_GROUP: u16 = 0;
const NAME_LEN: usize = mem::size_of::<libc::sockaddr_storage>();
const CONTROL_LEN: usize = 128;

/// A send in flight: its bytes live in slot `index` of the registered slab until its
/// completion arrives.
#[derive(Clone, Copy)]
struct Slot {
    busy: bool,
    len: usize,
    done: usize,
    dest: Option<(libc::sockaddr_storage, libc::socklen_t)>,
}

/// A page-aligned anonymous mapping, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned; nothing refers to it any more.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// The provided-buffer ring: `count` entries in a shared mapping, each naming one buffer of
/// `size` bytes in `bufs`. The kernel consumes entries from the head; we publish returned
/// buffers at the tail.
struct BufRing {
    ring: Mapping,
    bufs: Vec<u8>,
    size: usize,
    count: u16,
    tail: u16,
}

impl BufRing {
    fn new(count: u16, size: usize) -> io::Result<BufRing> {
        debug_assert!(count.is_power_of_two());
        let bytes = usize::from(count) * mem::size_of::<BufRingEntry>();
        let ring = Mapping::new(bytes.max(4096))?;
        let mut r = BufRing {
            ring,
            bufs: vec![0u8; usize::from(count) * size],
            size,
            count,
            tail: 0,
        };
        for bid in 0..count {
            r.put(bid);
        }
        r.publish();
        Ok(r)
    }

    fn base(&self) -> *mut BufRingEntry {
        self.ring.ptr.cast()
    }

    /// Writes the entry for buffer `bid` at the tail (not yet visible to the kernel).
    fn put(&mut self, bid: u16) {
        let index = usize::from(self.tail & (self.count - 1));
        let addr = self.bufs.as_ptr() as u64 + u64::from(bid) * self.size as u64;
        // SAFETY: `index < count`, so the entry lies inside the mapping; the kernel only reads
        // entries between its head and the published tail, and this one is past the tail.
        let entry = unsafe { &mut *self.base().add(index) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes every entry written by `put` visible to the kernel.
    fn publish(&self) {
        // SAFETY: the tail is a u16 inside the first entry of the mapping, which lives as long
        // as `self`; the kernel reads it concurrently, hence the atomic release store.
        let tail = unsafe { &*(BufRingEntry::tail(self.base()) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }

    fn buffer(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.size;
        &self.bufs[start..start + len.min(self.size)]
    }

    fn recycle(&mut self, bid: u16) {
        self.put(bid);
        self.publish();
    }
}

/// One receive completion not yet handed to the caller.
#[derive(Clone, Copy)]
struct RecvCqe {
    res: i32,
    flags: u32,
}

/// An io_uring set up for one socket and one spinning thread.
pub(crate) struct Ring {
    // Declared first so that it is dropped (closed) before the memory it points into.
    ring: IoUring,
    bufs: BufRing,
    slab: Vec<u8>,
    slots: [Slot; SEND_SLOTS],
    slot_size: usize,
    msghdr: Box<libc::msghdr>,
    kind: RecvKind,
    armed: bool,
    ready: VecDeque<RecvCqe>,
    send_error: Option<io::Error>,
    sqpoll: bool,
    started: bool,
    /// What the kernel granted, e.g. `["single-issuer", "defer-taskrun", ...]`.
    pub(crate) setup: Vec<&'static str>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("setup", &self.setup)
            .field("kind", &self.kind)
            .field("armed", &self.armed)
            .field("buffers", &(self.bufs.count, self.bufs.size))
            .finish_non_exhaustive()
    }
}

// SAFETY: every raw pointer in `Ring` points into memory the `Ring` owns (the msghdr box, the
// slab, the buffer ring); moving it to another thread moves that ownership along. The ring is
// single-issuer: whichever thread first submits owns it, and latlab never shares a `Ring`.
unsafe impl Send for Ring {}

impl Ring {
    /// Creates a ring for `fd`, registers the file, the send slab and the buffer ring, and arms
    /// the multishot receive.
    pub(crate) fn new(fd: RawFd, cfg: RingConfig) -> io::Result<Ring> {
        let (ring, setup) = build_ring(cfg.sqpoll)?;
        ring.submitter().register_files(&[fd])?;
        let slot_size = cfg.max_send.max(64).next_power_of_two();
        let slab = vec![0u8; slot_size * SEND_SLOTS];
        let iov = libc::iovec {
            iov_base: slab.as_ptr() as *mut libc::c_void,
            iov_len: slab.len(),
        };
        // SAFETY: the slab is owned by the Ring and outlives the registration, which ends when
        // the ring is closed (the ring field is dropped first).
        unsafe { ring.submitter().register_buffers(&[iov])? };
        let bufs = BufRing::new(cfg.buf_count, cfg.buf_size)?;
        // SAFETY: the buffer ring mapping is owned by the Ring and stays valid until the group
        // is unregistered in Drop.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.base() as u64,
                cfg.buf_count,
                BUF_GROUP,
                0,
            )?
        };
        // SAFETY: msghdr is plain old data; all-zero is valid. Only the two lengths matter to
        // a multishot recvmsg: they reserve room for the name and control data in each buffer.
        let mut msghdr: Box<libc::msghdr> = Box::new(unsafe { mem::zeroed() });
        msghdr.msg_namelen = NAME_LEN as libc::socklen_t;
        msghdr.msg_controllen = CONTROL_LEN as _;
        let r = Ring {
            ring,
            bufs,
            slab,
            slots: [Slot {
                busy: false,
                len: 0,
                done: 0,
                dest: None,
            }; SEND_SLOTS],
            slot_size,
            msghdr,
            kind: cfg.kind,
            armed: false,
            ready: VecDeque::new(),
            send_error: None,
            sqpoll: cfg.sqpoll.is_some(),
            started: false,
            setup,
        };
        Ok(r)
    }

    /// Enables the ring for the calling thread and arms the receive. The ring is created
    /// disabled because a single-issuer ring belongs to the thread that enables it, and
    /// latlab sets a datapath up in one thread and drives it from another (pinned) one.
    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.ring.submitter().register_enable_rings()?;
            self.started = true;
            self.arm()?;
            self.ring.submit()?;
        }
        Ok(())
    }

    /// Bytes one receive buffer holds besides the payload (the recvmsg header, name, control).
    pub(crate) fn datagram_overhead() -> usize {
        // struct io_uring_recvmsg_out { u32 namelen, controllen, payloadlen, flags; }
        16 + NAME_LEN + CONTROL_LEN
    }

    fn push(&mut self, entry: &io_uring::squeue::Entry) -> io::Result<()> {
        // SAFETY: every pointer an entry carries (slab, slot addresses, msghdr, buffer ring)
        // points into memory owned by `self`, which outlives the operation (Drop waits for
        // them or leaks the memory).
        unsafe {
            if self.ring.submission().push(entry).is_err() {
                self.ring.submit()?;
                self.ring
                    .submission()
                    .push(entry)
                    .map_err(|_| io::Error::other("io_uring submission queue full"))?;
            }
        }
        Ok(())
    }

    fn arm(&mut self) -> io::Result<()> {
        let entry = match self.kind {
            RecvKind::Datagram => {
                opcode::RecvMsgMulti::new(Fixed(0), &*self.msghdr as *const _, BUF_GROUP).build()
            }
            RecvKind::Stream => opcode::RecvMulti::new(Fixed(0), BUF_GROUP).build(),
        };
        self.push(&entry.user_data(RECV_TAG))?;
        self.armed = true;
        Ok(())
    }

    /// Enters the kernel when there is something to submit or deferred work to run; otherwise
    /// costs one atomic load.
    fn kick(&mut self) -> io::Result<()> {
        let pending = {
            let sq = self.ring.submission();
            !sq.is_empty() || sq.taskrun() || sq.cq_overflow()
        };
        if pending || (self.sqpoll && self.ring.submission().need_wakeup()) {
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves every completion out of the CQ: sends are settled, receives queued in `ready`.
    fn reap(&mut self) -> io::Result<()> {
        loop {
            let Some(cqe) = self.ring.completion().next() else {
                return Ok(());
            };
            match cqe.user_data() {
                RECV_TAG => {
                    if !cqueue::more(cqe.flags()) {
                        self.armed = false;
                    }
                    self.ready.push_back(RecvCqe {
                        res: cqe.result(),
                        flags: cqe.flags(),
                    });
                }
                CANCEL_TAG => {}
                i => self.settle_send(i as usize, cqe.result())?,
            }
        }
    }

    fn settle_send(&mut self, index: usize, res: i32) -> io::Result<()> {
        let datagram = self.kind == RecvKind::Datagram;
        let Some(slot) = self.slots.get_mut(index) else {
            return Ok(());
        };
        if res < 0 {
            slot.busy = false;
            self.send_error = Some(io::Error::from_raw_os_error(-res));
            return Ok(());
        }
        slot.done += res as usize;
        if slot.done >= slot.len || datagram {
            slot.busy = false;
            return Ok(());
        }
        // A short write on a stream: send the rest from the same slot.
        let entry = write_entry(self, index);
        self.push(&entry)
    }

    /// Returns one received message, copying its payload into `out`, or `Ok(None)`.
    pub(crate) fn recv(&mut self, out: &mut [u8]) -> io::Result<Option<RecvMsg>> {
        self.start()?;
        if self.ready.is_empty() {
            self.reap()?;
            if self.ready.is_empty() {
                if !self.armed {
                    self.arm()?;
                }
                self.kick()?;
                self.reap()?;
            }
        }
        while let Some(c) = self.ready.pop_front() {
            if c.res < 0 {
                match -c.res {
                    // Out of provided buffers or interrupted: the multishot ended; re-arm.
                    libc::ENOBUFS | libc::EINTR | libc::EAGAIN | libc::ECANCELED => continue,
                    e => return Err(io::Error::from_raw_os_error(e)),
                }
            }
            let Some(bid) = cqueue::buffer_select(c.flags) else {
                if c.res == 0 && self.kind == RecvKind::Stream {
                    // End of stream: the peer closed the connection.
                    return Ok(Some(RecvMsg {
                        len: 0,
                        from: None,
                        rx_unix_ns: None,
                        ttl: None,
                    }));
                }
                continue;
            };
            let msg = self.take(bid, c.res as usize, out);
            self.bufs.recycle(bid);
            match msg {
                Some(m) => return Ok(Some(m)),
                None => continue,
            }
        }
        Ok(None)
    }

    fn take(&self, bid: u16, len: usize, out: &mut [u8]) -> Option<RecvMsg> {
        let data = self.bufs.buffer(bid, len);
        match self.kind {
            RecvKind::Stream => {
                let n = data.len().min(out.len());
                out[..n].copy_from_slice(&data[..n]);
                Some(RecvMsg {
                    len: n,
                    from: None,
                    rx_unix_ns: None,
                    ttl: None,
                })
            }
            RecvKind::Datagram => {
                let parsed = RecvMsgOut::parse(data, &self.msghdr).ok()?;
                let payload = parsed.payload_data();
                let n = payload.len().min(out.len());
                out[..n].copy_from_slice(&payload[..n]);
                let name = parsed.name_data();
                let (rx_unix_ns, ttl) = parse_control(parsed.control_data());
                Some(RecvMsg {
                    len: n,
                    from: sockaddr_from_bytes(name),
                    rx_unix_ns,
                    ttl,
                })
            }
        }
    }

    /// Queues `msg` (to `dest` for an unconnected socket) and submits it. Waits, spinning, for
    /// a free send slot for at most `stall`; on a stream, for the previous write to finish, so
    /// that writes cannot be reordered.
    pub(crate) fn send(
        &mut self,
        msg: &[u8],
        dest: Option<SocketAddr>,
        stall: Duration,
    ) -> Result<(), SendError> {
        self.start().map_err(SendError::Io)?;
        if let Some(e) = self.send_error.take() {
            return Err(SendError::Io(e));
        }
        if msg.len() > self.slot_size {
            return Err(SendError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message of {} B exceeds the {} B send slot",
                    msg.len(),
                    self.slot_size
                ),
            )));
        }
        let index = self.free_slot(stall)?;
        let start = index * self.slot_size;
        self.slab[start..start + msg.len()].copy_from_slice(msg);
        self.slots[index] = Slot {
            busy: true,
            len: msg.len(),
            done: 0,
            dest: dest.map(sockaddr_from_std),
        };
        let entry = write_entry(self, index);
        self.push(&entry).map_err(SendError::Io)?;
        self.kick().map_err(SendError::Io)
    }

    fn free_slot(&mut self, stall: Duration) -> Result<usize, SendError> {
        let mut started: Option<Instant> = None;
        loop {
            let busy = self.slots.iter().filter(|s| s.busy).count();
            let ok = match self.kind {
                RecvKind::Stream => busy == 0,
                RecvKind::Datagram => busy < SEND_SLOTS,
            };
            if ok {
                return Ok(self.slots.iter().position(|s| !s.busy).unwrap_or(0));
            }
            let t = *started.get_or_insert_with(Instant::now);
            if t.elapsed() > stall {
                return Err(SendError::Stalled);
            }
            self.kick().map_err(SendError::Io)?;
            self.reap().map_err(SendError::Io)?;
            if let Some(e) = self.send_error.take() {
                return Err(SendError::Io(e));
            }
            std::hint::spin_loop();
        }
    }

    /// Blocks in the kernel until a completion is ready or `timeout` passes (for idle waits).
    pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        self.start()?;
        if !self.ready.is_empty() {
            return Ok(());
        }
        if !self.armed {
            self.arm()?;
        }
        let ts = io_uring::types::Timespec::from(timeout);
        let args = io_uring::types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The write for slot `index`: `WRITE_FIXED` from the registered slab on a connected socket,
/// `SEND` with a destination address otherwise.
fn write_entry(r: &Ring, index: usize) -> io_uring::squeue::Entry {
    let slot = &r.slots[index];
    let start = index * r.slot_size + slot.done;
    // SAFETY: `start` is inside the slab (done < len <= slot_size), which the Ring owns.
    let ptr = unsafe { r.slab.as_ptr().add(start) };
    let len = (slot.len - slot.done) as u32;
    let entry = match &slot.dest {
        None => opcode::WriteFixed::new(Fixed(0), ptr, len, 0).build(),
        Some((addr, addr_len)) => opcode::Send::new(Fixed(0), ptr, len)
            .dest_addr((addr as *const libc::sockaddr_storage).cast())
            .dest_addr_len(*addr_len)
            .build(),
    };
    entry.user_data(index as u64)
}

/// Why a send did not go out.
pub(crate) enum SendError {
    Io(io::Error),
    Stalled,
}

impl Drop for Ring {
    fn drop(&mut self) {
        if !self.started {
            // Never enabled: the kernel has no operation that could touch the buffers.
            let _ = self.ring.submitter().unregister_buf_ring(BUF_GROUP);
            return;
        }
        // Cancel the multishot receive and let in-flight sends finish, so that the kernel no
        // longer touches the buffers when they are freed. Bounded: if the kernel does not
        // answer in time, the memory is leaked rather than freed under it.
        let _ = self.push(
            &opcode::AsyncCancel::new(RECV_TAG)
                .build()
                .user_data(CANCEL_TAG),
        );
        let deadline = Instant::now() + Duration::from_millis(200);
        while (self.armed || self.slots.iter().any(|s| s.busy)) && Instant::now() < deadline {
            let _ = self.kick();
            let _ = self.ring.submitter().submit_and_wait(0);
            if self.reap().is_err() {
                break;
            }
            self.ready.clear();
            std::thread::yield_now();
        }
        let quiet = !self.armed && !self.slots.iter().any(|s| s.busy);
        let _ = self.ring.submitter().unregister_buf_ring(BUF_GROUP);
        if !quiet {
            mem::forget(mem::take(&mut self.slab));
            mem::forget(mem::take(&mut self.bufs.bufs));
        }
    }
}

/// Adds setup flags to a ring builder.
type Configure = fn(&mut io_uring::Builder);

/// Builds the ring with the best completion mode the kernel offers for a spinning thread.
fn build_ring(sqpoll: Option<Option<u32>>) -> io::Result<(IoUring, Vec<&'static str>)> {
    const ENTRIES: u32 = 64;
    if let Some(cpu) = sqpoll {
        let mut b = IoUring::builder();
        b.setup_r_disabled()
            .setup_single_issuer()
            .setup_sqpoll(1000);
        if let Some(c) = cpu {
            b.setup_sqpoll_cpu(c);
        }
        let mut setup = vec!["single-issuer", "sqpoll"];
        if cpu.is_some() {
            setup.push("sqpoll pinned");
        }
        return b
            .setup_cqsize(ENTRIES * 8)
            .build(ENTRIES)
            .map(|r| (r, setup));
    }
    let attempts: [(&[&'static str], Configure); 3] = [
        (&["single-issuer", "defer-taskrun", "taskrun-flag"], |b| {
            b.setup_single_issuer()
                .setup_defer_taskrun()
                .setup_taskrun_flag();
        }),
        (&["coop-taskrun", "taskrun-flag"], |b| {
            b.setup_coop_taskrun().setup_taskrun_flag();
        }),
        (&[], |_| {}),
    ];
    let mut last = None;
    for (names, apply) in attempts {
        let mut b = IoUring::builder();
        b.setup_r_disabled();
        apply(&mut b);
        match b.setup_cqsize(ENTRIES * 8).build(ENTRIES) {
            Ok(r) => return Ok((r, names.to_vec())),
            // An older kernel refuses flags it does not know with EINVAL: try fewer.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)))
}

/// Parses a `sockaddr` the kernel wrote into a receive buffer.
fn sockaddr_from_bytes(name: &[u8]) -> Option<SocketAddr> {
    if name.len() < 2 {
        return None;
    }
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid, then at most its size is
    // copied in.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let n = name.len().min(NAME_LEN);
    // SAFETY: both regions are valid for `n` bytes and do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            name.as_ptr(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            n,
        )
    };
    sockaddr_to_std(&storage, n as libc::socklen_t)
}
