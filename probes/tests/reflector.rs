//! The STAMP reflector over real loopback UDP sockets.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use latlab_kernels::{UdpOptions, UdpPath};
use latlab_probes::clock::wall_ns;
use latlab_probes::reflector::{self, ReflectorConfig, ReflectorCounters};
use latlab_probes::stamp::{ErrorEstimate, NtpTimestamp, ReflectorPacket, SenderPacket};

fn request(seq: u32, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    SenderPacket {
        seq,
        timestamp: NtpTimestamp::from_unix_ns(wall_ns()),
        error_estimate: ErrorEstimate::from_seconds(1e-6, false),
        ssid: 42,
    }
    .encode(&mut buf)
    .unwrap();
    buf
}

fn with_reflector(service_ns: Option<u64>, body: impl FnOnce(&UdpSocket, &ReflectorCounters)) {
    let mut path = UdpPath::bind(
        "127.0.0.1:0".parse().unwrap(),
        UdpOptions {
            recv_ttl: true,
            ..UdpOptions::default()
        },
    )
    .unwrap();
    let addr = path.local_addr().unwrap();
    let stop = AtomicBool::new(false);
    let counters = ReflectorCounters::default();
    let cfg = ReflectorConfig {
        max_duration: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| match service_ns {
            None => reflector::run_stamp(&mut path, &cfg, &stop, &counters),
            Some(ns) => {
                reflector::run_stamp_with_service(&mut path, &cfg, &stop, &counters, &mut || ns)
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        body(&client, &counters);
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap().unwrap();
    });
}

#[test]
fn replies_match_requests_and_malformed_packets_are_counted() {
    with_reflector(None, |client, counters| {
        let mut buf = [0u8; 2048];
        for (seq, len) in [(1u32, 44usize), (2, 100), (3, 1400)] {
            client.send(&request(seq, len)).unwrap();
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(n, len, "reply length equals request length");
            let p = ReflectorPacket::decode(&buf[..n]).unwrap();
            assert_eq!((p.seq, p.sender_seq, p.ssid), (seq, seq, 42));
            assert!(p.residence_ns() >= 0);
            assert_eq!(p.sender_ttl, 64, "loopback TTL copied from IP_RECVTTL");
            assert!(buf[44..n].iter().all(|&b| b == 0));
        }
        // Too short: dropped, counted, no reply.
        client.send(&[0u8; 20]).unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(
            client.recv(&mut buf).is_err(),
            "no reply to a malformed packet"
        );
        let [received, reflected, malformed, errors] = counters.snapshot();
        assert_eq!((received, reflected, malformed, errors), (4, 3, 1, 0));
    });
}

#[test]
fn service_stage_shows_up_as_residence() {
    with_reflector(Some(200_000), |client, _| {
        let mut buf = [0u8; 128];
        client.send(&request(9, 44)).unwrap();
        let n = client.recv(&mut buf).unwrap();
        let p = ReflectorPacket::decode(&buf[..n]).unwrap();
        assert!(p.residence_ns() >= 200_000, "{}", p.residence_ns());
    });
}
