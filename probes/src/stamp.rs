//! STAMP, the Simple Two-way Active Measurement Protocol (RFC 8762), unauthenticated mode,
//! with the Session-Sender Identifier of RFC 8972.
//!
//! Both test packets are 44 bytes before any padding or TLVs (all fields big-endian):
//!
//! ```text
//! Session-Sender test packet          Session-Reflector test packet
//!  0 Sequence Number (4)               0 Sequence Number (4)
//!  4 Timestamp t1 (8, NTP)             4 Timestamp t3 (8, NTP)
//! 12 Error Estimate (2)               12 Error Estimate (2)
//! 14 SSID (2)                         14 SSID (2)
//! 16 MBZ (28)                         16 Receive Timestamp t2 (8)
//!                                     24 Session-Sender Sequence Number (4)
//!                                     28 Session-Sender Timestamp t1 (8)
//!                                     36 Session-Sender Error Estimate (2)
//!                                     38 MBZ (2)
//!                                     40 Ses-Sender TTL (1)
//!                                     41 MBZ (3)
//! ```
//!
//! Decoding never panics, on any input: a packet shorter than 44 bytes is an error, MBZ fields
//! are ignored on receipt (RFC 8762 §4.2.1), and anything after byte 44 is left alone.
//! [`reflect`] builds a reply exactly as long as the request, so a reflector can never be used
//! to amplify traffic.

use std::fmt;

/// Length of an unauthenticated STAMP test packet without padding or TLVs.
pub const BASE_LEN: usize = 44;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Errors from decoding or encoding STAMP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StampError {
    /// The packet is shorter than a STAMP test packet.
    #[error("STAMP packet too short: {len} bytes, need at least {BASE_LEN}")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The output buffer cannot hold the packet.
    #[error("buffer of {len} bytes cannot hold a {need}-byte STAMP packet")]
    BufferTooSmall {
        /// Buffer size.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
}

/// A 64-bit NTP timestamp: seconds since 1900 and a binary fraction of a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct NtpTimestamp {
    /// Seconds since 1900-01-01 00:00 UTC (era 0).
    pub seconds: u32,
    /// Fraction of a second in units of 2^-32 s.
    pub fraction: u32,
}

impl NtpTimestamp {
    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_ns(ns: u64) -> NtpTimestamp {
        let secs = ns / 1_000_000_000 + NTP_UNIX_OFFSET_S;
        let sub = ns % 1_000_000_000;
        NtpTimestamp {
            seconds: secs as u32,
            fraction: ((sub << 32) / 1_000_000_000) as u32,
        }
    }

    /// To nanoseconds since the Unix epoch (era 0; saturates at 0 before 1970).
    pub fn to_unix_ns(self) -> u64 {
        let secs = u64::from(self.seconds).saturating_sub(NTP_UNIX_OFFSET_S);
        // Round to nearest so that from_unix_ns ∘ to_unix_ns is exact for whole ns.
        let sub = (u64::from(self.fraction) * 1_000_000_000 + (1 << 31)) >> 32;
        secs * 1_000_000_000 + sub
    }

    /// The 64-bit wire value.
    pub fn to_bits(self) -> u64 {
        (u64::from(self.seconds) << 32) | u64::from(self.fraction)
    }

    /// From the 64-bit wire value.
    pub fn from_bits(v: u64) -> NtpTimestamp {
        NtpTimestamp {
            seconds: (v >> 32) as u32,
            fraction: v as u32,
        }
    }

    /// Signed difference `self - earlier` in nanoseconds, valid across an era wrap when the two
    /// are within 68 years of each other.
    pub fn diff_ns(self, earlier: NtpTimestamp) -> i64 {
        let d = self.to_bits().wrapping_sub(earlier.to_bits()) as i64;
        // d is in units of 2^-32 s.
        ((d as i128 * 1_000_000_000) >> 32) as i64
    }
}

/// The Error Estimate field (RFC 4656 §4.1.2): S (synchronised), Z (0 = NTP, 1 = PTP format),
/// Scale (6 bits) and Multiplier (8 bits); the error is Multiplier × 2^(Scale − 32) seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorEstimate {
    /// S: the clock is synchronised to an external source.
    pub synchronized: bool,
    /// Z: timestamps are in PTP (truncated) format rather than NTP.
    pub ptp_format: bool,
    /// Scale, 0..=63.
    pub scale: u8,
    /// Multiplier; RFC 4656 forbids 0 on transmit.
    pub multiplier: u8,
}

impl ErrorEstimate {
    /// The smallest estimate not below `seconds` (at least 2^-32 s).
    pub fn from_seconds(seconds: f64, synchronized: bool) -> ErrorEstimate {
        let units = (seconds * 4_294_967_296.0).max(1.0); // in 2^-32 s
        let mut scale = 0u8;
        while scale < 63 && (units / 2f64.powi(i32::from(scale))).ceil() > 255.0 {
            scale += 1;
        }
        let mult = (units / 2f64.powi(i32::from(scale))).ceil();
        ErrorEstimate {
            synchronized,
            ptp_format: false,
            scale,
            multiplier: mult.clamp(1.0, 255.0) as u8,
        }
    }

    /// The error in seconds.
    pub fn seconds(self) -> f64 {
        f64::from(self.multiplier) * 2f64.powi(i32::from(self.scale) - 32)
    }

    /// The 16-bit wire value.
    pub fn to_bits(self) -> u16 {
        (u16::from(self.synchronized) << 15)
            | (u16::from(self.ptp_format) << 14)
            | (u16::from(self.scale & 0x3f) << 8)
            | u16::from(self.multiplier)
    }

    /// From the 16-bit wire value.
    pub fn from_bits(v: u16) -> ErrorEstimate {
        ErrorEstimate {
            synchronized: v & 0x8000 != 0,
            ptp_format: v & 0x4000 != 0,
            scale: ((v >> 8) & 0x3f) as u8,
            multiplier: v as u8,
        }
    }
}

/// A Session-Sender test packet (RFC 8762 §4.2.1, SSID from RFC 8972 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderPacket {
    /// Sequence number.
    pub seq: u32,
    /// t1: when the sender transmitted it.
    pub timestamp: NtpTimestamp,
    /// The sender clock's error estimate.
    pub error_estimate: ErrorEstimate,
    /// Session-Sender Identifier.
    pub ssid: u16,
}

/// A Session-Reflector test packet (RFC 8762 §4.3.1, SSID from RFC 8972 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReflectorPacket {
    /// The reflector's sequence number (stateless reflectors copy the sender's).
    pub seq: u32,
    /// t3: when the reflector transmitted the reply.
    pub timestamp: NtpTimestamp,
    /// The reflector clock's error estimate.
    pub error_estimate: ErrorEstimate,
    /// Session-Sender Identifier, copied from the request.
    pub ssid: u16,
    /// t2: when the reflector received the request.
    pub receive_timestamp: NtpTimestamp,
    /// The request's sequence number.
    pub sender_seq: u32,
    /// t1, copied from the request.
    pub sender_timestamp: NtpTimestamp,
    /// The request's error estimate.
    pub sender_error_estimate: ErrorEstimate,
    /// TTL (or hop limit) of the request's IP packet as the reflector saw it.
    pub sender_ttl: u8,
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_ts(b: &[u8], at: usize) -> NtpTimestamp {
    NtpTimestamp {
        seconds: be_u32(b, at),
        fraction: be_u32(b, at + 4),
    }
}
fn put_ts(b: &mut [u8], at: usize, t: NtpTimestamp) {
    b[at..at + 4].copy_from_slice(&t.seconds.to_be_bytes());
    b[at + 4..at + 8].copy_from_slice(&t.fraction.to_be_bytes());
}

impl SenderPacket {
    /// Decodes the first 44 bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<SenderPacket, StampError> {
        if buf.len() < BASE_LEN {
            return Err(StampError::TooShort { len: buf.len() });
        }
        Ok(SenderPacket {
            seq: be_u32(buf, 0),
            timestamp: be_ts(buf, 4),
            error_estimate: ErrorEstimate::from_bits(be_u16(buf, 12)),
            ssid: be_u16(buf, 14),
        })
    }

    /// Encodes into `buf`, zeroing the MBZ field and any padding up to `buf.len()`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<(), StampError> {
        if buf.len() < BASE_LEN {
            return Err(StampError::BufferTooSmall {
                len: buf.len(),
                need: BASE_LEN,
            });
        }
        buf.fill(0);
        self.encode_header(buf);
        Ok(())
    }

    /// Rewrites only the first 16 bytes (seq, t1, error estimate, SSID) of a buffer that
    /// [`encode`](Self::encode) prepared before: the probe's hot path.
    #[inline]
    pub fn encode_header(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&self.seq.to_be_bytes());
        put_ts(buf, 4, self.timestamp);
        buf[12..14].copy_from_slice(&self.error_estimate.to_bits().to_be_bytes());
        buf[14..16].copy_from_slice(&self.ssid.to_be_bytes());
    }
}

impl ReflectorPacket {
    /// Decodes the first 44 bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<ReflectorPacket, StampError> {
        if buf.len() < BASE_LEN {
            return Err(StampError::TooShort { len: buf.len() });
        }
        Ok(ReflectorPacket {
            seq: be_u32(buf, 0),
            timestamp: be_ts(buf, 4),
            error_estimate: ErrorEstimate::from_bits(be_u16(buf, 12)),
            ssid: be_u16(buf, 14),
            receive_timestamp: be_ts(buf, 16),
            sender_seq: be_u32(buf, 24),
            sender_timestamp: be_ts(buf, 28),
            sender_error_estimate: ErrorEstimate::from_bits(be_u16(buf, 36)),
            sender_ttl: buf[40],
        })
    }

    /// Encodes into the first 44 bytes of `buf`, zeroing the MBZ fields. Bytes after 44 are
    /// left as they are.
    pub fn encode(&self, buf: &mut [u8]) -> Result<(), StampError> {
        if buf.len() < BASE_LEN {
            return Err(StampError::BufferTooSmall {
                len: buf.len(),
                need: BASE_LEN,
            });
        }
        buf[0..4].copy_from_slice(&self.seq.to_be_bytes());
        put_ts(buf, 4, self.timestamp);
        buf[12..14].copy_from_slice(&self.error_estimate.to_bits().to_be_bytes());
        buf[14..16].copy_from_slice(&self.ssid.to_be_bytes());
        put_ts(buf, 16, self.receive_timestamp);
        buf[24..28].copy_from_slice(&self.sender_seq.to_be_bytes());
        put_ts(buf, 28, self.sender_timestamp);
        buf[36..38].copy_from_slice(&self.sender_error_estimate.to_bits().to_be_bytes());
        buf[38..40].fill(0);
        buf[40] = self.sender_ttl;
        buf[41..44].fill(0);
        Ok(())
    }

    /// Reflector residence time t3 − t2 in nanoseconds (both from the reflector's clock).
    pub fn residence_ns(&self) -> i64 {
        self.timestamp.diff_ns(self.receive_timestamp)
    }
}

/// What a reflector puts in a reply besides what it copies from the request.
#[derive(Debug, Clone, Copy)]
pub struct ReflectParams {
    /// t2, taken when the request arrived.
    pub receive_timestamp: NtpTimestamp,
    /// The reflector clock's error estimate.
    pub error_estimate: ErrorEstimate,
    /// The request's IP TTL, 0 when unknown.
    pub sender_ttl: u8,
    /// The reflector's own sequence number (stateful mode); `None` copies the sender's
    /// (stateless mode, RFC 8762 §4.3).
    pub reflector_seq: Option<u32>,
}

/// Builds the reply to `request` in `reply` and returns its length, which always equals the
/// request's. `transmit` is called last, just before returning, to take t3 as late as possible.
/// Padding after byte 44 is zeroed (any TLVs are not echoed: this reflector does not implement
/// RFC 8972 TLVs).
pub fn reflect(
    request: &[u8],
    reply: &mut [u8],
    params: &ReflectParams,
    transmit: impl FnOnce() -> NtpTimestamp,
) -> Result<usize, StampError> {
    let req = SenderPacket::decode(request)?;
    let len = request.len();
    if reply.len() < len {
        return Err(StampError::BufferTooSmall {
            len: reply.len(),
            need: len,
        });
    }
    let mut pkt = ReflectorPacket {
        seq: params.reflector_seq.unwrap_or(req.seq),
        timestamp: NtpTimestamp::default(),
        error_estimate: params.error_estimate,
        ssid: req.ssid,
        receive_timestamp: params.receive_timestamp,
        sender_seq: req.seq,
        sender_timestamp: req.timestamp,
        sender_error_estimate: req.error_estimate,
        sender_ttl: params.sender_ttl,
    };
    reply[BASE_LEN..len].fill(0);
    pkt.timestamp = transmit();
    pkt.encode(&mut reply[..len])?;
    Ok(len)
}

impl fmt::Display for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.seconds,
            (u64::from(self.fraction) * 1_000_000_000) >> 32
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Session-Sender packet laid out by hand from RFC 8762 §4.2.1 / RFC 8972 §3:
    /// seq 0x01020304, t1 = 0xE8A1B2C3.80000000 (x.5 s), error estimate S=1 Z=0 scale 1 mult 1,
    /// SSID 0xBEEF, 28 MBZ bytes.
    const SENDER: [u8; 44] = [
        0x01, 0x02, 0x03, 0x04, // sequence number
        0xE8, 0xA1, 0xB2, 0xC3, 0x80, 0x00, 0x00, 0x00, // timestamp
        0x81, 0x01, // error estimate: S=1, Z=0, scale=1, multiplier=1
        0xBE, 0xEF, // SSID
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // MBZ (28)
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// The matching Session-Reflector packet (RFC 8762 §4.3.1 / RFC 8972 §3), stateless:
    /// seq copied, t3 = .C0000000 (x.75 s), reflector error estimate S=0 Z=0 scale 0 mult 10,
    /// t2 = .A0000000 (x.625 s), sender fields copied, TTL 64.
    const REFLECTOR: [u8; 44] = [
        0x01, 0x02, 0x03, 0x04, // sequence number
        0xE8, 0xA1, 0xB2, 0xC3, 0xC0, 0x00, 0x00, 0x00, // timestamp t3
        0x00, 0x0A, // error estimate
        0xBE, 0xEF, // SSID
        0xE8, 0xA1, 0xB2, 0xC3, 0xA0, 0x00, 0x00, 0x00, // receive timestamp t2
        0x01, 0x02, 0x03, 0x04, // session-sender sequence number
        0xE8, 0xA1, 0xB2, 0xC3, 0x80, 0x00, 0x00, 0x00, // session-sender timestamp t1
        0x81, 0x01, // session-sender error estimate
        0x00, 0x00, // MBZ
        0x40, // ses-sender TTL
        0x00, 0x00, 0x00, // MBZ
    ];

    fn t(frac: u32) -> NtpTimestamp {
        NtpTimestamp {
            seconds: 0xE8A1_B2C3,
            fraction: frac,
        }
    }

    #[test]
    fn sender_packet_matches_rfc_layout() {
        let p = SenderPacket::decode(&SENDER).unwrap();
        assert_eq!(p.seq, 0x0102_0304);
        assert_eq!(p.timestamp, t(0x8000_0000));
        assert_eq!(
            p.error_estimate,
            ErrorEstimate {
                synchronized: true,
                ptp_format: false,
                scale: 1,
                multiplier: 1
            }
        );
        assert_eq!(p.ssid, 0xBEEF);
        let mut out = [0xFFu8; 44];
        p.encode(&mut out).unwrap();
        assert_eq!(out, SENDER);
    }

    #[test]
    fn reflector_packet_matches_rfc_layout() {
        let p = ReflectorPacket::decode(&REFLECTOR).unwrap();
        assert_eq!(p.seq, 0x0102_0304);
        assert_eq!(p.timestamp, t(0xC000_0000));
        assert_eq!(p.receive_timestamp, t(0xA000_0000));
        assert_eq!(p.sender_seq, 0x0102_0304);
        assert_eq!(p.sender_timestamp, t(0x8000_0000));
        assert_eq!(p.sender_error_estimate.to_bits(), 0x8101);
        assert_eq!(p.error_estimate.multiplier, 10);
        assert_eq!(p.sender_ttl, 64);
        assert_eq!(p.ssid, 0xBEEF);
        assert_eq!(p.residence_ns(), 125_000_000);
        let mut out = [0xFFu8; 44];
        p.encode(&mut out).unwrap();
        assert_eq!(out, REFLECTOR);
    }

    #[test]
    fn reflect_builds_the_rfc_reply_from_the_rfc_request() {
        let mut reply = [0u8; 44];
        let params = ReflectParams {
            receive_timestamp: t(0xA000_0000),
            error_estimate: ErrorEstimate::from_bits(0x000A),
            sender_ttl: 64,
            reflector_seq: None,
        };
        let n = reflect(&SENDER, &mut reply, &params, || t(0xC000_0000)).unwrap();
        assert_eq!(n, 44);
        assert_eq!(reply, REFLECTOR);
    }

    #[test]
    fn reply_is_never_longer_than_request_and_padding_is_zeroed() {
        let mut req = vec![0xAAu8; 100];
        req[..44].copy_from_slice(&SENDER);
        let mut reply = vec![0x55u8; 1500];
        let params = ReflectParams {
            receive_timestamp: t(0),
            error_estimate: ErrorEstimate::default(),
            sender_ttl: 0,
            reflector_seq: Some(7),
        };
        let n = reflect(&req, &mut reply, &params, || t(1)).unwrap();
        assert_eq!(n, 100);
        assert!(reply[44..100].iter().all(|&b| b == 0));
        assert_eq!(ReflectorPacket::decode(&reply).unwrap().seq, 7);
        assert_eq!(
            reflect(&req[..43], &mut reply, &params, || t(1)),
            Err(StampError::TooShort { len: 43 })
        );
    }

    #[test]
    fn ntp_conversion_known_values() {
        // 2000-01-01T00:00:00Z is Unix 946684800, NTP 3155673600.
        let ts = NtpTimestamp::from_unix_ns(946_684_800_500_000_000);
        assert_eq!(ts.seconds, 3_155_673_600);
        assert_eq!(ts.fraction, 0x8000_0000);
        assert_eq!(ts.to_unix_ns(), 946_684_800_500_000_000);
        assert_eq!(t(0xC000_0000).diff_ns(t(0x8000_0000)), 250_000_000);
        assert_eq!(t(0x8000_0000).diff_ns(t(0xC000_0000)), -250_000_000);
    }

    #[test]
    fn error_estimate_from_seconds() {
        let e = ErrorEstimate::from_seconds(1e-6, false);
        assert!(
            e.seconds() >= 1e-6 && e.seconds() < 1.01e-6,
            "{e:?} {}",
            e.seconds()
        );
        let e = ErrorEstimate::from_seconds(0.0, true);
        assert_eq!((e.multiplier, e.scale, e.synchronized), (1, 0, true));
        let e = ErrorEstimate::from_seconds(10.0, false);
        assert!(e.seconds() >= 10.0 && e.seconds() < 10.5, "{}", e.seconds());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = SenderPacket::decode(&bytes);
            let _ = ReflectorPacket::decode(&bytes);
            let mut reply = vec![0u8; bytes.len()];
            let params = ReflectParams {
                receive_timestamp: t(0), error_estimate: ErrorEstimate::default(),
                sender_ttl: 0, reflector_seq: None,
            };
            if let Ok(n) = reflect(&bytes, &mut reply, &params, || t(1)) {
                prop_assert_eq!(n, bytes.len());
            }
        }

        #[test]
        fn sender_round_trip(seq: u32, ts: u64, ee: u16, ssid: u16) {
            let p = SenderPacket { seq, timestamp: NtpTimestamp::from_bits(ts),
                error_estimate: ErrorEstimate::from_bits(ee), ssid };
            let mut buf = [0u8; 44];
            p.encode(&mut buf).unwrap();
            prop_assert_eq!(SenderPacket::decode(&buf).unwrap(), p);
        }

        #[test]
        fn reflector_round_trip(seq: u32, a: u64, b: u64, c: u64, ee: u16, ssid: u16, ttl: u8) {
            let p = ReflectorPacket { seq, timestamp: NtpTimestamp::from_bits(a),
                error_estimate: ErrorEstimate::from_bits(ee), ssid,
                receive_timestamp: NtpTimestamp::from_bits(b), sender_seq: seq ^ 1,
                sender_timestamp: NtpTimestamp::from_bits(c),
                sender_error_estimate: ErrorEstimate::from_bits(!ee), sender_ttl: ttl };
            let mut buf = [0u8; 44];
            p.encode(&mut buf).unwrap();
            prop_assert_eq!(ReflectorPacket::decode(&buf).unwrap(), p);
        }

        #[test]
        fn unix_ns_round_trip(ns in 0u64..2_000_000_000_000_000_000) {
            prop_assert_eq!(NtpTimestamp::from_unix_ns(ns).to_unix_ns(), ns);
        }
    }
}
