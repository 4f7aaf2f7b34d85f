//! A recording-only log-linear histogram with HdrHistogram's bucket layout, converted to an
//! [`hdrhistogram::Histogram`] once at the end of a run.
//!
//! With `d` significant digits HdrHistogram resolves each power-of-two range `[2^e, 2^(e+1))`
//! into `2^b` equal sub-buckets, `2^(b+1)` being the smallest power of two at or above
//! `2 · 10^d`, and counts values below `2^(b+1)` exactly. This keeps the same layout in a flat
//! array: index `v` below `2^(b+1)`, otherwise `s · 2^b + (v >> s)` with `s = e - b`. Recording
//! is a leading-zero count, a shift and an increment; the conversion records each non-empty
//! bucket's lowest value with its count, which lands in the identical HdrHistogram bucket, so
//! nothing is lost.

use hdrhistogram::Histogram;

#[derive(Clone, Debug)]
pub(crate) struct FastHist {
    counts: Vec<u64>,
    bits: u32,
    high: u64,
    clamp_index: usize,
    proto: Histogram<u64>,
}

impl FastHist {
    /// Values `1 ..= high` with `sigfig` significant decimal digits, as
    /// `Histogram::new_with_bounds(1, high, sigfig)`; like its `saturating_record`, a value
    /// beyond the last bucket is counted at `high`.
    pub(crate) fn new(high: u64, sigfig: u8) -> Result<Self, hdrhistogram::CreationError> {
        let proto = Histogram::new_with_bounds(1, high, sigfig)?;
        let largest_exact = 2 * 10u64.pow(u32::from(sigfig));
        let bits = 64 - (largest_exact - 1).leading_zeros() - 1;
        let mut h = Self {
            counts: vec![0; proto.distinct_values()],
            bits,
            high,
            clamp_index: 0,
            proto,
        };
        h.clamp_index = h.index(high);
        Ok(h)
    }

    #[inline]
    fn index(&self, v: u64) -> usize {
        let e = 63 - (v | 1).leading_zeros();
        if e <= self.bits {
            v as usize
        } else {
            let s = e - self.bits;
            ((s as usize) << self.bits) + (v >> s) as usize
        }
    }

    fn lowest(&self, idx: usize) -> u64 {
        let linear = 2usize << self.bits;
        if idx < linear {
            idx as u64
        } else {
            let s = (idx >> self.bits) - 1;
            let sub = idx - (s << self.bits);
            (sub as u64) << s
        }
    }

    /// Records `v`, clamped to the range; returns whether it was clamped.
    #[inline]
    pub(crate) fn record(&mut self, v: u64) -> bool {
        let mut i = self.index(v);
        if i >= self.counts.len() {
            i = self.clamp_index;
        }
        self.counts[i] += 1;
        v > self.high
    }

    /// The equivalent HdrHistogram.
    pub(crate) fn into_hdr(self) -> Histogram<u64> {
        let mut h = self.proto.clone();
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                h.saturating_record_n(self.lowest(i), c);
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_recording_into_hdr_directly() {
        for sigfig in [1u8, 2, 3, 4] {
            let high = 3_600_000_000_000u64;
            let mut fast = FastHist::new(high, sigfig).unwrap();
            let mut hdr = Histogram::<u64>::new_with_bounds(1, high, sigfig).unwrap();
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for k in 0..200_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Values spread over many magnitudes, some beyond the range.
                let v = (x >> (x % 64)) + k % 3;
                fast.record(v);
                hdr.saturating_record(v);
            }
            let fast = fast.into_hdr();
            assert_eq!(fast.len(), hdr.len());
            for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(
                    fast.value_at_quantile(q),
                    hdr.value_at_quantile(q),
                    "sigfig {sigfig} q {q}"
                );
            }
            assert_eq!(fast.max(), hdr.max());
            assert_eq!(fast.min(), hdr.min());
            assert_eq!(fast, hdr);
        }
    }

    #[test]
    fn index_round_trip() {
        let h = FastHist::new(1 << 40, 3).unwrap();
        let mut prev = 0;
        for v in (0..(1u64 << 40)).step_by(9_999_991) {
            let i = h.index(v);
            assert!(i >= prev);
            prev = i;
            let lo = h.lowest(i);
            assert!(lo <= v && h.index(lo) == i, "v {v} i {i} lo {lo}");
        }
    }
}
