//! io_uring datapaths over loopback, against themselves and against the kernel paths: the
//! wire format is the same whatever drives the socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latlab_kernels::{
    Datapath, DatapathKind, ReflectorPath, TcpEchoReflector, UdpOptions, UdpPath, UringOptions,
    UringTcpPath, UringUdpPath, UringUdpReflector,
};

const ROUNDS: u32 = 2000;

/// Echoes every datagram on `path` until `stop`, at most 20 s.
fn echo<R: ReflectorPath>(mut path: R, stop: Arc<AtomicBool>) -> u64 {
    let mut buf = vec![0u8; 65_536];
    let mut n = 0;
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(20) {
        if let Some((r, peer)) = path.try_recv_from(&mut buf).expect("receive") {
            path.send_to(&buf[..r.len], peer).expect("send");
            n += 1;
        }
    }
    n
}

/// Closed-loop round trips with distinct payloads; every reply must match its request.
fn ping(path: &mut dyn Datapath, size: usize) {
    let mut msg = vec![0u8; size];
    let mut buf = vec![0u8; 65_536];
    for i in 0..ROUNDS {
        msg[..4].copy_from_slice(&i.to_be_bytes());
        msg[size - 1] = i as u8;
        path.send(&msg).expect("send");
        let deadline = Instant::now() + Duration::from_secs(2);
        let r = loop {
            if let Some(r) = path.try_recv(&mut buf).expect("receive") {
                break r;
            }
            assert!(Instant::now() < deadline, "round {i}: no reply in 2 s");
        };
        assert_eq!(r.len, size, "round {i}");
        assert_eq!(&buf[..size], &msg[..], "round {i}: reply differs");
    }
}

fn with_reflector<R: ReflectorPath + Send + 'static>(path: R, f: impl FnOnce()) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = std::thread::spawn(move || echo(path, s));
    f();
    stop.store(true, Ordering::Relaxed);
    h.join().expect("reflector thread")
}

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn uring_udp_probe_against_uring_reflector() {
    let r = UringUdpReflector::bind(any(), UringOptions::default()).expect("io_uring reflector");
    let target = r.local_addr();
    let info = r.info();
    assert_eq!(info.kind, DatapathKind::IoUringUdp);
    assert!(info
        .mode
        .as_deref()
        .unwrap_or("")
        .contains("multishot recvmsg"));
    let served = with_reflector(r, || {
        let mut p = UringUdpPath::connect(target, None, 1500, UringOptions::default())
            .expect("io_uring probe");
        assert_eq!(p.info().kind, DatapathKind::IoUringUdp);
        assert!(p.info().mode.unwrap().contains("registered send buffer"));
        ping(&mut p, 44);
        ping(&mut p, 1400);
    });
    assert_eq!(served, 2 * u64::from(ROUNDS));
}

#[test]
fn uring_and_kernel_paths_interoperate() {
    let kernel = UdpPath::bind(any(), UdpOptions::default()).unwrap();
    let target = kernel.local_addr().unwrap();
    with_reflector(kernel, || {
        let mut p = UringUdpPath::connect(target, None, 64, UringOptions::default()).unwrap();
        ping(&mut p, 44);
    });
    let uring = UringUdpReflector::bind(any(), UringOptions::default()).unwrap();
    let target = uring.local_addr();
    with_reflector(uring, || {
        let mut p = UdpPath::connect(target, None, UdpOptions::default()).unwrap();
        ping(&mut p, 44);
    });
}

#[test]
fn uring_reflector_sees_ttl_and_kernel_timestamps() {
    let opts = UringOptions {
        udp: UdpOptions {
            recv_ttl: true,
            kernel_timestamps: true,
            ..UdpOptions::default()
        },
        ..UringOptions::default()
    };
    let mut r = UringUdpReflector::bind(any(), opts).unwrap();
    assert!(r.info().kernel_rx_timestamps);
    let s = std::net::UdpSocket::bind(any()).unwrap();
    s.send_to(b"hello", r.local_addr()).unwrap();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(2);
    let (got, from) = loop {
        if let Some(x) = r.try_recv_from(&mut buf).unwrap() {
            break x;
        }
        assert!(Instant::now() < deadline, "nothing received");
    };
    assert_eq!(&buf[..got.len], b"hello");
    assert_eq!(from, s.local_addr().unwrap());
    assert_eq!(got.ttl, Some(64), "loopback keeps the default TTL");
    let ts = got.kernel_rx_unix_ns.expect("a software RX timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        now >= ts && now - ts < 2_000_000_000,
        "timestamp {ts} vs now {now}"
    );
}

#[test]
fn uring_tcp_probe_against_the_echo_reflector() {
    let mut echo = TcpEchoReflector::bind(any(), 4).unwrap();
    let target = echo.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = std::thread::spawn(move || {
        let started = Instant::now();
        while !s.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(20) {
            echo.poll_once().expect("echo");
        }
    });
    let mut p = UringTcpPath::connect(target, 100, Duration::from_secs(2), UringOptions::default())
        .expect("io_uring tcp probe");
    assert_eq!(p.info().kind, DatapathKind::IoUringTcp);
    ping(&mut p, 100);
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

#[test]
fn an_idle_reflector_waits_in_the_kernel_and_wakes_for_a_packet() {
    let mut r = UringUdpReflector::bind(any(), UringOptions::default()).unwrap();
    let t = Instant::now();
    r.wait_readable(Duration::from_millis(50)).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(40),
        "waited {:?}",
        t.elapsed()
    );
    let s = std::net::UdpSocket::bind(any()).unwrap();
    s.send_to(b"x", r.local_addr()).unwrap();
    r.wait_readable(Duration::from_secs(2)).unwrap();
    let mut buf = [0u8; 8];
    let deadline = Instant::now() + Duration::from_secs(2);
    while r.try_recv_from(&mut buf).unwrap().is_none() {
        assert!(Instant::now() < deadline);
    }
}

#[test]
fn a_closed_tcp_connection_is_reported_not_waited_on() {
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let target = listener.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        drop(conn);
    });
    let mut p = UringTcpPath::connect(target, 44, Duration::from_secs(2), UringOptions::default())
        .expect("io_uring tcp probe");
    h.join().unwrap();
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(2);
    let err = loop {
        match p.try_recv(&mut buf) {
            Ok(None) => assert!(Instant::now() < deadline, "no end of stream in 2 s"),
            Ok(Some(r)) => panic!("a message from a closed connection: {r:?}"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, latlab_kernels::DatapathError::PeerClosed),
        "{err}"
    );
}
