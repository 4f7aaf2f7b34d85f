//! AF_XDP over a veth pair between two network namespaces made for each test.
//!
//! Needs root and iproute2 (`ip`) and ethtool; without them every test prints why and passes.
//! All traffic stays inside the namespaces; each test bed is removed at the end, also when the
//! test fails (a Drop guard).
#![allow(unsafe_code)]

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use latlab_kernels::testbed::VethPair;
use latlab_kernels::{
    Datapath, DatapathError, ReflectorPath, XdpAttach, XdpConfig, XdpCopy, XdpPath, XdpReflector,
};

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const MAC_A: [u8; 6] = [0x02, 0x4c, 0x4c, 0x00, 0x00, 0x01];
const MAC_B: [u8; 6] = [0x02, 0x4c, 0x4c, 0x00, 0x00, 0x02];
const IF_A: &str = "lat0";
const IF_B: &str = "lat1";
const CHILD_ENV: &str = "LATLAB_XDP_SIGKILL_CHILD";

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Prints why a test is skipped, past libtest's output capture (which takes only the print
/// macros), so that the reason shows in a plain `cargo test` run.
fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping {why}");
}

/// Two namespaces joined by a veth pair (`latlab_kernels::testbed::VethPair`): `a` holds
/// `lat0` (10.77.0.1), `b` holds `lat1` (10.77.0.2), one queue each, TX checksum offload off,
/// static neighbour entries both ways; here with fixed MAC addresses, which the raw-frame
/// tests write into their frames.
struct Bed {
    _pair: VethPair,
    a: String,
    b: String,
}

impl Bed {
    /// Builds the bed, or prints why it cannot and returns None.
    fn new(tag: &str) -> Option<Bed> {
        if !latlab_kernels::testbed::is_root() {
            skip(&format!(
                "AF_XDP test {tag}: needs root (namespaces, veth, BPF)"
            ));
            return None;
        }
        for tool in ["ip", "ethtool"] {
            if Command::new(tool).arg("-V").output().is_err() {
                skip(&format!("AF_XDP test {tag}: `{tool}` is not installed"));
                return None;
            }
        }
        let pair = VethPair::create(&format!("xdp-{tag}"))
            .unwrap_or_else(|e| panic!("test bed setup failed: {e}"));
        assert_eq!((pair.a.iface.as_str(), pair.b.iface.as_str()), (IF_A, IF_B));
        assert_eq!((pair.a.ip, pair.b.ip), (IP_A, IP_B));
        let bed = Bed {
            a: pair.a.netns.clone(),
            b: pair.b.netns.clone(),
            _pair: pair,
        };
        let (a, b) = (bed.a.as_str(), bed.b.as_str());
        let (mac_a, mac_b) = (mac_text(MAC_A), mac_text(MAC_B));
        let (ip_a, ip_b) = (IP_A.to_string(), IP_B.to_string());
        let steps: [&[&str]; 4] = [
            &["ip", "-n", a, "link", "set", IF_A, "address", &mac_a],
            &["ip", "-n", b, "link", "set", IF_B, "address", &mac_b],
            &[
                "ip",
                "-n",
                a,
                "neigh",
                "replace",
                &ip_b,
                "lladdr",
                &mac_b,
                "dev",
                IF_A,
                "nud",
                "permanent",
            ],
            &[
                "ip",
                "-n",
                b,
                "neigh",
                "replace",
                &ip_a,
                "lladdr",
                &mac_a,
                "dev",
                IF_B,
                "nud",
                "permanent",
            ],
        ];
        for step in steps {
            if let Err(e) = run(step) {
                panic!("test bed setup failed: {e}");
            }
        }
        Some(bed)
    }

    fn cfg_a(&self, attach: XdpAttach) -> XdpConfig {
        XdpConfig {
            iface: IF_A.into(),
            attach,
            ..XdpConfig::default()
        }
    }

    fn cfg_b(&self, attach: XdpAttach) -> XdpConfig {
        XdpConfig {
            iface: IF_B.into(),
            attach,
            ..XdpConfig::default()
        }
    }

    /// Whether `ip` shows an XDP program on the interface in namespace `ns`.
    fn xdp_attached(ns: &str, iface: &str) -> bool {
        run(&["ip", "-n", ns, "link", "show", "dev", iface])
            .map(|s| s.contains("prog/xdp"))
            .unwrap_or(false)
    }
}

/// Moves the calling thread into network namespace `ns`.
fn enter_ns(ns: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("open netns");
    // SAFETY: a valid namespace fd; CLONE_NEWNET moves only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// Runs `f` in a new thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_ns(&ns);
        f()
    })
}

/// Pins the calling thread to `cpu` (best effort).
fn pin(cpu: usize) {
    // SAFETY: cpu_set_t is plain old data; CPU_SET stays within it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// What an echo loop saw.
#[derive(Debug, Default, Clone, Copy)]
struct EchoStats {
    answered: u64,
    malformed: u64,
}

/// Binds an AF_XDP reflector in namespace `ns` and echoes every payload until `stop` (or 20 s).
/// The bound port is sent on `ready` (or the bind error's text).
fn xdp_echo(
    ns: &str,
    cfg: XdpConfig,
    port: u16,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<Result<(u16, String), String>>,
) -> JoinHandle<EchoStats> {
    in_ns(ns, move || {
        let mut r = match XdpReflector::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), &cfg) {
            Ok(r) => r,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return EchoStats::default();
            }
        };
        let mode = r.info().mode.unwrap_or_default();
        let _ = ready.send(Ok((r.local_addr().port(), mode)));
        let mut buf = [0u8; 2048];
        let mut stats = EchoStats::default();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            match r.try_recv_from(&mut buf).expect("try_recv_from") {
                Some((got, peer)) => {
                    r.send_to(&buf[..got.len], peer).expect("send_to");
                    stats.answered += 1;
                }
                // Sleep in poll(2) on the socket, as an idle reflector does (the test machine
                // may have fewer cores than spinning threads).
                None => r
                    .wait_readable(Duration::from_millis(2))
                    .expect("wait_readable"),
            }
        }
        stats.malformed = r.malformed_frames();
        stats
    })
}

/// A kernel UDP echo in namespace `ns` on `addr`, until `stop` (or 20 s).
fn udp_echo(
    ns: &str,
    addr: SocketAddrV4,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<u16>,
) -> JoinHandle<u64> {
    in_ns(ns, move || {
        let s = UdpSocket::bind(addr).expect("bind udp echo");
        s.set_nonblocking(true).unwrap();
        let _ = ready.send(s.local_addr().unwrap().port());
        let mut buf = [0u8; 2048];
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            match s.recv_from(&mut buf) {
                Ok((len, from)) => {
                    s.send_to(&buf[..len], from).expect("echo send");
                    n += 1;
                }
                Err(_) => std::thread::yield_now(),
            }
        }
        n
    })
}

/// The request payload for sequence number `seq`: the number, then a pattern derived from it.
fn payload(seq: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p.iter_mut().enumerate().skip(4) {
        *b = (seq as usize * 7 + i) as u8;
    }
    p
}

/// Sends `count` probes over `path`, one outstanding at a time, each answered within 1 s with
/// the same bytes. Returns the number answered.
fn closed_loop(path: &mut dyn Datapath, count: u32, len: usize) -> u32 {
    let mut buf = [0u8; 2048];
    let mut answered = 0;
    for seq in 0..count {
        let msg = payload(seq, len);
        path.send(&msg).expect("send");
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if let Some(r) = path.try_recv(&mut buf).expect("try_recv") {
                assert_eq!(&buf[..r.len], &msg[..], "reply to probe {seq}");
                answered += 1;
                break;
            }
            if Instant::now() > deadline {
                panic!("probe {seq} unanswered after 1 s");
            }
            std::thread::yield_now();
        }
    }
    answered
}

fn xdp_to_xdp(tag: &str, attach: XdpAttach, expect_mode: &str) {
    let Some(bed) = Bed::new(tag) else { return };
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let echo = xdp_echo(&bed.b, bed.cfg_b(attach), 0, stop.clone(), tx);
    let (port, mode) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("reflector ready")
        .expect("reflector bind");
    assert_eq!(mode, expect_mode);
    let cfg = bed.cfg_a(attach);
    let sender = in_ns(&bed.a, move || {
        let mut p = XdpPath::connect(SocketAddrV4::new(IP_B, port), 0, &cfg).expect("connect");
        let info = p.info();
        assert_eq!(info.kind, latlab_kernels::DatapathKind::AfXdp);
        assert!(info.spin);
        assert_eq!(info.peer.as_deref(), Some(&*format!("{IP_B}:{port}")));
        assert_eq!(*p.local_addr().ip(), IP_A);
        let n = closed_loop(&mut p, 1000, 64);
        (n, info, p.foreign_frames())
    });
    let (n, info, foreign) = sender.join().expect("sender");
    stop.store(true, Ordering::Relaxed);
    let stats = echo.join().expect("echo");
    eprintln!("{tag}: mode {:?}, notes {:?}", info.mode, info.notes);
    assert_eq!(n, 1000);
    assert_eq!(stats.answered, 1000);
    assert_eq!(stats.malformed, 0);
    assert_eq!(foreign, 0);
    assert_eq!(info.mode.as_deref(), Some(expect_mode));
}

#[test]
fn xdp_to_xdp_skb_mode() {
    xdp_to_xdp("skb", XdpAttach::Skb, "skb attach, copy");
}

#[test]
fn xdp_to_xdp_native_mode() {
    xdp_to_xdp("drv", XdpAttach::Native, "native attach, copy");
}

#[test]
fn xdp_to_xdp_auto_mode() {
    xdp_to_xdp("auto", XdpAttach::Auto, "native attach, copy");
}

#[test]
fn kernel_udp_sender_to_xdp_reflector() {
    let Some(bed) = Bed::new("k2x") else { return };
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let echo = xdp_echo(&bed.b, bed.cfg_b(XdpAttach::Skb), 0, stop.clone(), tx);
    let (port, _) = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    let sender = in_ns(&bed.a, move || {
        let s = UdpSocket::bind((IP_A, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        s.connect((IP_B, port)).unwrap();
        let mut buf = [0u8; 2048];
        for seq in 0..200u32 {
            let msg = payload(seq, 44 + (seq as usize % 100));
            s.send(&msg).unwrap();
            let n = s.recv(&mut buf).expect("reply from the AF_XDP reflector");
            assert_eq!(&buf[..n], &msg[..]);
        }
    });
    sender.join().expect("kernel sender");
    stop.store(true, Ordering::Relaxed);
    let stats = echo.join().unwrap();
    assert_eq!(stats.answered, 200);
    assert_eq!(stats.malformed, 0);
}

#[test]
fn xdp_sender_to_kernel_udp_echo() {
    let Some(bed) = Bed::new("x2k") else { return };
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let echo = udp_echo(&bed.b, SocketAddrV4::new(IP_B, 0), stop.clone(), tx);
    let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let cfg = bed.cfg_a(XdpAttach::Auto);
    let sender = in_ns(&bed.a, move || {
        let mut p = XdpPath::connect(SocketAddrV4::new(IP_B, port), 0, &cfg).unwrap();
        // Odd and even lengths exercise the checksum's padding; the kernel verifies it.
        let mut n = 0;
        for len in [1usize, 2, 3, 44, 45, 1000, 1472] {
            n += closed_loop(&mut p, 30, len.max(4));
        }
        n
    });
    assert_eq!(sender.join().unwrap(), 7 * 30);
    stop.store(true, Ordering::Relaxed);
    assert_eq!(echo.join().unwrap(), 7 * 30);
}

/// An Ethernet/IPv4/UDP frame built independently of the crate, with `edit` applied to the
/// IPv4 header and UDP header before the IPv4 checksum is computed (unless `keep_csum`).
fn raw_frame(
    dst_port: u16,
    payload: &[u8],
    edit: impl Fn(&mut [u8]),
    recompute_ip_csum: bool,
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&IP_A.octets());
    f.extend_from_slice(&IP_B.octets());
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dst_port.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum
    f.extend_from_slice(payload);
    edit(&mut f[14..]);
    if recompute_ip_csum {
        f[24] = 0;
        f[25] = 0;
        let mut sum: u32 = f[14..34]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }
    f
}

/// Sends raw Ethernet frames out of `iface` through an AF_PACKET socket.
fn send_raw(iface: &str, frames: &[Vec<u8>]) {
    let name = std::ffi::CString::new(iface).unwrap();
    // SAFETY: valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(ifindex, 0, "no {iface}");
    // SAFETY: plain socket(2); protocol 0 (send only).
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    for f in frames {
        // SAFETY: sockaddr_ll is plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&MAC_B);
        // SAFETY: `f` and `sll` are live for the call, their sizes passed.
        let rc = unsafe {
            libc::sendto(
                fd,
                f.as_ptr().cast(),
                f.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(
            rc,
            f.len() as isize,
            "sendto: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
}

#[test]
fn malformed_frames_are_counted_not_fatal() {
    let Some(bed) = Bed::new("bad") else { return };
    let cfg = bed.cfg_b(XdpAttach::Skb);
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let refl = in_ns(&bed.b, move || {
        let mut r = XdpReflector::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), &cfg).unwrap();
        tx.send(r.local_addr().port()).unwrap();
        go_rx.recv().unwrap();
        let mut buf = [0u8; 2048];
        let mut messages = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && !(messages.len() >= 2 && r.malformed_frames() >= 4) {
            match r.try_recv_from(&mut buf).unwrap() {
                // Answer the first message, leave the second unanswered (the frame is recycled
                // by the next call).
                Some((got, peer)) => {
                    messages.push(buf[..got.len].to_vec());
                    if messages.len() == 1 {
                        r.send_to(&buf[..got.len], peer).unwrap();
                    }
                }
                None => std::thread::yield_now(),
            }
        }
        // A few more calls: nothing else may arrive.
        for _ in 0..1000 {
            assert!(r.try_recv_from(&mut buf).unwrap().is_none());
        }
        (messages, r.malformed_frames())
    });
    let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let frames = vec![
        // IP total length beyond the frame.
        raw_frame(port, b"0123456789", |ip| ip[3] = 200, true),
        // UDP length beyond the IP payload.
        raw_frame(port, b"0123456789", |ip| ip[25] = 60, true),
        // UDP length below its own header.
        raw_frame(port, b"0123456789", |ip| ip[25] = 4, true),
        // Bad IPv4 header checksum.
        raw_frame(port, b"0123456789", |ip| ip[10] = 0x12, false),
        // IHL 6: the XDP program passes it to the kernel, so the socket never sees it.
        raw_frame(port, b"0123456789", |ip| ip[0] = 0x46, true),
        // Another port: passed to the kernel.
        raw_frame(port.wrapping_add(1), b"0123456789", |_| {}, true),
        // A 3-byte payload is a message (the STAMP layer above decides it is too short).
        raw_frame(port, b"abc", |_| {}, true),
        raw_frame(port, b"defg", |_| {}, true),
    ];
    in_ns(&bed.a, move || {
        go_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        send_raw(IF_A, &frames);
    })
    .join()
    .unwrap();
    let (messages, malformed) = refl.join().unwrap();
    assert_eq!(messages, vec![b"abc".to_vec(), b"defg".to_vec()]);
    assert_eq!(malformed, 4);
}

fn unavailable_text(e: DatapathError) -> String {
    match e {
        DatapathError::Unavailable { .. } => {
            eprintln!("refusal: {e}");
            e.to_string()
        }
        other => panic!("expected Unavailable, got {other:?}: {other}"),
    }
}

#[test]
fn refusals_are_clear() {
    let Some(bed) = Bed::new("ref") else { return };
    let cfg_b = bed.cfg_b(XdpAttach::Skb);
    let cfg_a = bed.cfg_a(XdpAttach::Skb);
    // A second veth pair with no addresses (the dummy driver may not be built).
    run(&[
        "ip", "-n", &bed.a, "link", "add", "lxd", "type", "veth", "peer", "name", "lxe",
    ])
    .unwrap();
    run(&["ip", "-n", &bed.a, "link", "set", "lxd", "up"]).unwrap();
    let ns_b = bed.b.clone();
    in_ns(&bed.b, move || {
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        let missing = XdpConfig {
            iface: "nosuchif0".into(),
            ..cfg_b.clone()
        };
        let e = unavailable_text(XdpReflector::bind(any, &missing).unwrap_err());
        assert!(e.contains("nosuchif0"), "{e}");

        let q99 = XdpConfig {
            queue: 99,
            ..cfg_b.clone()
        };
        let e = unavailable_text(XdpReflector::bind(any, &q99).unwrap_err());
        assert!(e.contains("queue 99"), "{e}");

        let zc = XdpConfig {
            copy: XdpCopy::ZeroCopy,
            ..cfg_b.clone()
        };
        let e = unavailable_text(XdpReflector::bind(any, &zc).unwrap_err());
        assert!(e.contains("zero-copy") && e.contains("--copy"), "{e}");
        assert!(
            !Bed::xdp_attached(&ns_b, IF_B),
            "a refused bind left a program behind"
        );

        let first = XdpReflector::bind(any, &cfg_b).expect("first reflector");
        let second = XdpConfig {
            attach: XdpAttach::Auto,
            ..cfg_b.clone()
        };
        let e = unavailable_text(XdpReflector::bind(any, &second).unwrap_err());
        assert!(
            e.contains("already attached") && e.contains("xdp off"),
            "{e}"
        );
        drop(first);
        // Once the first is gone, the interface is free again.
        XdpReflector::bind(any, &cfg_b).expect("bind after the first closed");
    })
    .join()
    .unwrap();
    in_ns(&bed.a, move || {
        // No neighbour entry for this address.
        let target = SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 99), 862);
        let e = unavailable_text(XdpPath::connect(target, 0, &cfg_a).unwrap_err());
        assert!(
            e.contains("ping -c1 10.77.0.99") && e.contains("--dst-mac"),
            "{e}"
        );
        // An interface without an IPv4 address.
        let dummy = XdpConfig {
            iface: "lxd".into(),
            ..cfg_a.clone()
        };
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        let e = unavailable_text(XdpReflector::bind(any, &dummy).unwrap_err());
        assert!(e.contains("lxd has no IPv4 address"), "{e}");
        // Loopback is not Ethernet.
        let lo = XdpConfig {
            iface: "lo".into(),
            ..cfg_a.clone()
        };
        let e = unavailable_text(XdpReflector::bind(any, &lo).unwrap_err());
        assert!(e.contains("not an Ethernet interface"), "{e}");
    })
    .join()
    .unwrap();
}

/// The child half of `sigkill_leaves_no_program`: attaches a reflector inside the namespace
/// named by the environment and sleeps until killed (at most 30 s).
#[test]
#[ignore = "run by sigkill_leaves_no_program in a child process"]
fn sigkill_child() {
    let Ok(ns) = std::env::var(CHILD_ENV) else {
        eprintln!("sigkill_child only runs as the child of sigkill_leaves_no_program");
        return;
    };
    enter_ns(&ns);
    let cfg = XdpConfig {
        iface: IF_B.into(),
        attach: XdpAttach::Skb,
        ..XdpConfig::default()
    };
    let _r = XdpReflector::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), &cfg).unwrap();
    println!("attached");
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn sigkill_leaves_no_program() {
    let Some(bed) = Bed::new("kill") else { return };
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "sigkill_child", "--ignored", "--nocapture"])
        .env(CHILD_ENV, &bed.b)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Bed::xdp_attached(&bed.b, IF_B) {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the child never attached its XDP program");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Bed::xdp_attached(&bed.b, IF_B) {
        assert!(
            Instant::now() < deadline,
            "XDP program still attached 5 s after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Closed-loop RTT medians: kernel UDP ↔ kernel UDP and AF_XDP ↔ AF_XDP, both ends pinned and
/// spinning. Prints numbers, asserts nothing about them. Run with
/// `cargo test --release -p latlab-kernels --test af_xdp -- --ignored rtt_comparison --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn rtt_comparison() {
    let Some(bed) = Bed::new("rtt") else { return };
    const N: usize = 20_000;
    const WARM: usize = 2_000;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (cpu_probe, cpu_refl) = (0, 1 % cpus);

    fn measure(path: &mut dyn Datapath, cpu: usize) -> Vec<u64> {
        pin(cpu);
        let mut buf = [0u8; 2048];
        let mut rtts = Vec::with_capacity(N);
        for seq in 0..(N + WARM) as u32 {
            let msg = payload(seq, 64);
            let t = Instant::now();
            path.send(&msg).unwrap();
            let deadline = t + Duration::from_secs(1);
            loop {
                if path.try_recv(&mut buf).unwrap().is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "probe {seq} lost");
                std::hint::spin_loop();
            }
            if seq as usize >= WARM {
                rtts.push(t.elapsed().as_nanos() as u64);
            }
        }
        rtts.sort_unstable();
        rtts
    }
    let report = |name: &str, r: &[u64]| {
        let q = |p: f64| r[((r.len() as f64 * p) as usize).min(r.len() - 1)];
        eprintln!(
            "{name:<28} n={} min={} p50={} p90={} p99={} p99.9={} ns",
            r.len(),
            r[0],
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999)
        );
    };

    // Kernel UDP ↔ kernel UDP.
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let s2 = stop.clone();
        let echo = in_ns(&bed.b, move || {
            pin(cpu_refl);
            let (t2, r2) = mpsc::channel();
            let h = udp_echo_inline(SocketAddrV4::new(IP_B, 0), s2, t2);
            tx.send(r2.recv().unwrap()).unwrap();
            h()
        });
        let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let r = in_ns(&bed.a, move || {
            let mut p = latlab_kernels::UdpPath::connect(
                SocketAddrV4::new(IP_B, port).into(),
                Some(SocketAddrV4::new(IP_A, 0).into()),
                latlab_kernels::UdpOptions::default(),
            )
            .unwrap();
            measure(&mut p, cpu_probe)
        })
        .join()
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        echo.join().unwrap();
        report("kernel UDP <-> kernel UDP", &r);
    }

    for (name, attach) in [
        ("AF_XDP <-> AF_XDP (native)", XdpAttach::Native),
        ("AF_XDP <-> AF_XDP (skb)", XdpAttach::Skb),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let cfg_b = bed.cfg_b(attach);
        let s2 = stop.clone();
        let echo = in_ns(&bed.b, move || {
            pin(cpu_refl);
            let mut r =
                XdpReflector::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), &cfg_b).unwrap();
            tx.send(r.local_addr().port()).unwrap();
            let mut buf = [0u8; 2048];
            let deadline = Instant::now() + Duration::from_secs(60);
            while !s2.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Some((got, peer)) = r.try_recv_from(&mut buf).unwrap() {
                    r.send_to(&buf[..got.len], peer).unwrap();
                }
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let cfg_a = bed.cfg_a(attach);
        let (r, mode) = in_ns(&bed.a, move || {
            let mut p = XdpPath::connect(SocketAddrV4::new(IP_B, port), 0, &cfg_a).unwrap();
            let mode = p.info().mode;
            (measure(&mut p, cpu_probe), mode)
        })
        .join()
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        echo.join().unwrap();
        report(&format!("{name} [{}]", mode.unwrap_or_default()), &r);
    }
}

/// A spinning kernel UDP echo for the calling thread: binds now, returns the loop to run.
fn udp_echo_inline(
    addr: SocketAddrV4,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<u16>,
) -> impl FnOnce() {
    let s = UdpSocket::bind(addr).expect("bind udp echo");
    s.set_nonblocking(true).unwrap();
    ready.send(s.local_addr().unwrap().port()).unwrap();
    move || {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            if let Ok((len, from)) = s.recv_from(&mut buf) {
                s.send_to(&buf[..len], from).unwrap();
            }
        }
    }
}
