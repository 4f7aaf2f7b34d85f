//! Ethernet II / IPv4 / UDP frames: build, parse, checksums. Pure functions on byte slices.
//!
//! Only what a probe and a reflector need: no VLAN tags, no IP options, no fragments. A parse
//! failure is a value ([`FrameError`]), never a panic, whatever the input.

use std::net::{Ipv4Addr, SocketAddrV4};

/// Ethernet II header length.
pub(crate) const ETH_LEN: usize = 14;
/// IPv4 header length without options (IHL 5).
pub(crate) const IPV4_LEN: usize = 20;
/// UDP header length.
pub(crate) const UDP_LEN: usize = 8;
/// All headers in front of the UDP payload.
pub(crate) const HEADERS_LEN: usize = ETH_LEN + IPV4_LEN + UDP_LEN;

const ETHERTYPE_IPV4: u16 = 0x0800;
const IPPROTO_UDP: u8 = 17;
/// IPv4 flags/fragment-offset word: the More Fragments bit and the offset.
const IP_MF_AND_OFFSET: u16 = 0x3fff;
/// The Don't Fragment bit.
const IP_DF: u16 = 0x4000;

/// One end of a UDP exchange on an Ethernet segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub mac: [u8; 6],
    pub addr: SocketAddrV4,
}

/// Why a frame is not an IPv4/UDP frame latlab can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Shorter than the headers it claims (or than Ethernet + IPv4 + UDP).
    TooShort,
    /// Not EtherType IPv4, or IP version not 4.
    NotIpv4,
    /// IP header length other than 20 bytes (options are not supported).
    IpHeaderLength,
    /// IPv4 header checksum does not verify.
    IpChecksum,
    /// A fragment.
    Fragment,
    /// IP protocol not UDP.
    NotUdp,
    /// IP total length below the headers or beyond the frame.
    IpTotalLength,
    /// UDP length below 8 or beyond the IP payload.
    UdpLength,
    /// The output buffer (or the interface's frame size) cannot hold the frame.
    BufferTooSmall,
}

/// A parsed IPv4/UDP frame: addresses, TTL and where the payload lies in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpFrame {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub ttl: u8,
    pub payload_len: usize,
}

impl UdpFrame {
    /// The payload range inside the frame.
    pub fn payload(&self) -> std::ops::Range<usize> {
        HEADERS_LEN..HEADERS_LEN + self.payload_len
    }
}

/// One's-complement sum of `data` as big-endian 16-bit words (odd length padded with a zero
/// byte), added to `initial`, not yet folded.
fn ones_sum(data: &[u8], initial: u32) -> u32 {
    let mut sum = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff_ffff {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    sum as u32
}

/// Folds a 32-bit one's-complement sum to 16 bits.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The Internet checksum of RFC 1071: the one's complement of the one's-complement sum.
/// Over data that contains a correct checksum field, it is 0.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    !fold(ones_sum(data, 0))
}

/// The UDP checksum over the IPv4 pseudo-header and `udp` (header with a zero checksum field
/// and payload). A computed 0 is sent as 0xffff (RFC 768: 0 means "no checksum").
pub(crate) fn udp_checksum(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> u16 {
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = IPPROTO_UDP;
    pseudo[10..12].copy_from_slice(&(udp.len() as u16).to_be_bytes());
    let sum = ones_sum(udp, ones_sum(&pseudo, 0));
    match !fold(sum) {
        0 => 0xffff,
        c => c,
    }
}

/// Writes an Ethernet/IPv4/UDP frame carrying `payload` from `src` to `dst` at the start of
/// `buf`, with both checksums, and returns its length. `ident` is the IPv4 identification;
/// the Don't Fragment bit is set.
pub(crate) fn write_udp_frame(
    buf: &mut [u8],
    src: &Endpoint,
    dst: &Endpoint,
    ttl: u8,
    ident: u16,
    payload: &[u8],
) -> Result<usize, FrameError> {
    let total = HEADERS_LEN + payload.len();
    let ip_total = u16::try_from(IPV4_LEN + UDP_LEN + payload.len())
        .map_err(|_| FrameError::BufferTooSmall)?;
    if buf.len() < total {
        return Err(FrameError::BufferTooSmall);
    }
    let f = &mut buf[..total];
    // Ethernet II.
    f[0..6].copy_from_slice(&dst.mac);
    f[6..12].copy_from_slice(&src.mac);
    f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    // IPv4, IHL 5.
    let ip = ETH_LEN;
    f[ip] = 0x45;
    f[ip + 1] = 0; // DSCP/ECN
    f[ip + 2..ip + 4].copy_from_slice(&ip_total.to_be_bytes());
    f[ip + 4..ip + 6].copy_from_slice(&ident.to_be_bytes());
    f[ip + 6..ip + 8].copy_from_slice(&IP_DF.to_be_bytes());
    f[ip + 8] = ttl;
    f[ip + 9] = IPPROTO_UDP;
    f[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
    f[ip + 12..ip + 16].copy_from_slice(&src.addr.ip().octets());
    f[ip + 16..ip + 20].copy_from_slice(&dst.addr.ip().octets());
    let ip_sum = checksum(&f[ip..ip + IPV4_LEN]);
    f[ip + 10..ip + 12].copy_from_slice(&ip_sum.to_be_bytes());
    // UDP.
    let udp = ETH_LEN + IPV4_LEN;
    let udp_len = ip_total - IPV4_LEN as u16;
    f[udp..udp + 2].copy_from_slice(&src.addr.port().to_be_bytes());
    f[udp + 2..udp + 4].copy_from_slice(&dst.addr.port().to_be_bytes());
    f[udp + 4..udp + 6].copy_from_slice(&udp_len.to_be_bytes());
    f[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
    f[HEADERS_LEN..].copy_from_slice(payload);
    let udp_sum = udp_checksum(*src.addr.ip(), *dst.addr.ip(), &f[udp..]);
    f[udp + 6..udp + 8].copy_from_slice(&udp_sum.to_be_bytes());
    Ok(total)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn mac_at(b: &[u8], at: usize) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    m
}

fn ipv4_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// Parses an Ethernet/IPv4/UDP frame. The IPv4 header checksum is verified; the UDP checksum
/// is not (a sender on the same host may leave it to offload). Trailing Ethernet padding
/// beyond the IP total length is ignored.
pub(crate) fn parse_udp_frame(f: &[u8]) -> Result<UdpFrame, FrameError> {
    if f.len() < ETH_LEN + IPV4_LEN {
        return Err(FrameError::TooShort);
    }
    if be16(f, 12) != ETHERTYPE_IPV4 || f[ETH_LEN] >> 4 != 4 {
        return Err(FrameError::NotIpv4);
    }
    let ip = &f[ETH_LEN..];
    if ip[0] & 0x0f != 5 {
        return Err(FrameError::IpHeaderLength);
    }
    if checksum(&ip[..IPV4_LEN]) != 0 {
        return Err(FrameError::IpChecksum);
    }
    if be16(ip, 6) & IP_MF_AND_OFFSET != 0 {
        return Err(FrameError::Fragment);
    }
    if ip[9] != IPPROTO_UDP {
        return Err(FrameError::NotUdp);
    }
    let ip_total = usize::from(be16(ip, 2));
    if ip_total < IPV4_LEN + UDP_LEN || ip_total > ip.len() {
        return Err(FrameError::IpTotalLength);
    }
    let udp = &ip[IPV4_LEN..ip_total];
    let udp_len = usize::from(be16(udp, 4));
    if udp_len < UDP_LEN || udp_len > udp.len() {
        return Err(FrameError::UdpLength);
    }
    let src_ip = ipv4_at(ip, 12);
    let dst_ip = ipv4_at(ip, 16);
    Ok(UdpFrame {
        src: Endpoint {
            mac: mac_at(f, 6),
            addr: SocketAddrV4::new(src_ip, be16(udp, 0)),
        },
        dst: Endpoint {
            mac: mac_at(f, 0),
            addr: SocketAddrV4::new(dst_ip, be16(udp, 2)),
        },
        ttl: ip[8],
        payload_len: udp_len - UDP_LEN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Endpoint = Endpoint {
        mac: [0x02, 0x00, 0x00, 0x00, 0x00, 0x01],
        addr: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000),
    };
    const B: Endpoint = Endpoint {
        mac: [0x02, 0x00, 0x00, 0x00, 0x00, 0x02],
        addr: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 862),
    };

    /// The frame `write_udp_frame(A → B, ttl 64, ident 0x1234, b"latlab")`, computed by hand
    /// (IPv4 checksum 0x1495, UDP checksum 0x0a01, both computed independently with Python's
    /// `struct` and a plain 16-bit sum).
    const LITERAL: [u8; 48] = [
        // Ethernet: dst, src, type IPv4
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
        // IPv4: 45, tos 0, total 34, id 0x1234, DF, ttl 64, udp, checksum, src, dst
        0x45, 0x00, 0x00, 0x22, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x14, 0x95, 10, 0, 0, 1, 10, 0,
        0, 2, // UDP: 40000 → 862, length 14, checksum
        0x9c, 0x40, 0x03, 0x5e, 0x00, 0x0e, 0x0a, 0x01, // payload
        b'l', b'a', b't', b'l', b'a', b'b',
    ];

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(ones_sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        // Odd length pads with a zero byte.
        assert_eq!(checksum(&[0x01]), !0x0100);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn ipv4_header_checksum_known_value() {
        // A textbook header (192.168.0.1 → 192.168.0.199, UDP, total length 0x73): b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&[0xb8, 0x61]);
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn builds_literal_frame() {
        let mut buf = [0u8; 128];
        let n = write_udp_frame(&mut buf, &A, &B, 64, 0x1234, b"latlab").unwrap();
        assert_eq!(&buf[..n], &LITERAL[..]);
        // Both checksums verify over the bytes as sent.
        assert_eq!(checksum(&buf[ETH_LEN..ETH_LEN + IPV4_LEN]), 0);
    }

    #[test]
    fn parses_literal_frame() {
        let p = parse_udp_frame(&LITERAL).unwrap();
        assert_eq!(p.src, A);
        assert_eq!(p.dst, B);
        assert_eq!(p.ttl, 64);
        assert_eq!(&LITERAL[p.payload()], b"latlab");
    }

    #[test]
    fn round_trip_and_padding() {
        let mut buf = [0u8; 256];
        for len in [0usize, 1, 3, 44, 200] {
            let payload: Vec<u8> = (0..len as u8).collect();
            let n = write_udp_frame(&mut buf, &B, &A, 7, 9, &payload).unwrap();
            // Ethernet minimum-size padding after the IP packet is ignored.
            let parsed = parse_udp_frame(&buf[..n.max(60)]).unwrap();
            assert_eq!((parsed.src, parsed.dst, parsed.ttl), (B, A, 7));
            assert_eq!(&buf[parsed.payload()], &payload[..]);
        }
    }

    #[test]
    fn udp_checksum_zero_is_sent_as_ffff() {
        // Choose a 2-byte payload that makes the computed sum come out as zero.
        let mut buf = [0u8; 64];
        let n = write_udp_frame(&mut buf, &A, &B, 64, 0, &[0, 0]).unwrap();
        let udp = ETH_LEN + IPV4_LEN;
        let c = u16::from_be_bytes([buf[udp + 6], buf[udp + 7]]);
        // Adding the checksum into the payload word drives the sum to 0xffff (−0).
        buf[HEADERS_LEN..HEADERS_LEN + 2].copy_from_slice(&c.to_be_bytes());
        buf[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
        assert_eq!(
            udp_checksum(*A.addr.ip(), *B.addr.ip(), &buf[udp..n]),
            0xffff
        );
    }

    #[test]
    fn rejects_malformed() {
        let good = LITERAL;
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (good[..30].to_vec(), FrameError::TooShort),
            (
                {
                    let mut f = good.to_vec();
                    f[12] = 0x86;
                    f[13] = 0xdd;
                    f
                },
                FrameError::NotIpv4,
            ),
            (
                {
                    let mut f = good.to_vec();
                    f[14] = 0x46;
                    f
                },
                FrameError::IpHeaderLength,
            ),
            (
                {
                    let mut f = good.to_vec();
                    f[14 + 8] = 1; // TTL changed, checksum stale
                    f
                },
                FrameError::IpChecksum,
            ),
            (fix_ip(&good, |ip| ip[6] = 0x20), FrameError::Fragment),
            (fix_ip(&good, |ip| ip[9] = 6), FrameError::NotUdp),
            (fix_ip(&good, |ip| ip[3] = 200), FrameError::IpTotalLength),
            (fix_ip(&good, |ip| ip[3] = 27), FrameError::IpTotalLength),
            (
                {
                    let mut f = good.to_vec();
                    f[14 + 20 + 5] = 40; // UDP length beyond the IP payload
                    f
                },
                FrameError::UdpLength,
            ),
            (
                {
                    let mut f = good.to_vec();
                    f[14 + 20 + 5] = 4;
                    f
                },
                FrameError::UdpLength,
            ),
        ];
        for (frame, want) in cases {
            assert_eq!(parse_udp_frame(&frame), Err(want), "{frame:02x?}");
        }
        // No input panics.
        for len in 0..LITERAL.len() {
            let _ = parse_udp_frame(&LITERAL[..len]);
        }
    }

    /// A copy of `f` with its IPv4 header changed by `edit` and the header checksum redone.
    fn fix_ip(f: &[u8], edit: impl Fn(&mut [u8])) -> Vec<u8> {
        let mut v = f.to_vec();
        let ip = &mut v[ETH_LEN..ETH_LEN + IPV4_LEN];
        edit(ip);
        ip[10] = 0;
        ip[11] = 0;
        let c = checksum(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        v
    }

    #[test]
    fn too_small_buffer() {
        let mut buf = [0u8; 45];
        assert_eq!(
            write_udp_frame(&mut buf, &A, &B, 64, 0, b"1234"),
            Err(FrameError::BufferTooSmall)
        );
    }
}
