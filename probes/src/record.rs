//! Recording latencies: HdrHistograms, per-interval snapshots, and HdrHistogram interval logs.
//!
//! Every latency is recorded in nanoseconds into an HdrHistogram with 3 significant digits
//! over 1 ns ..= 1 h (values beyond saturate at the top and are counted as such), never as an
//! unbounded list of samples. A [`LatencyRecorder`] also cuts the run into fixed intervals and
//! keeps each interval's histogram in the V2 compressed form (a few hundred bytes), from which
//! [`write_hlog`] writes a standard HdrHistogram interval log (`.hlog`, log format 1.3) that the
//! Java, Python, C and Rust HdrHistogram libraries read.
//!
//! ## How a percentile becomes a number
//!
//! latlab's summaries use the Rust library's rule: the p-th percentile of N samples is the
//! smallest recorded value whose bucket brings the cumulative count to at least ⌈p/100 · N⌉,
//! reported as the highest value equivalent to that bucket (so it never understates). Java
//! uses the ceiling of the next-lower float of p·N/100 and Python rounds p·N/100 to the
//! nearest rank, so other readers of the same `.hlog` may differ from latlab by one rank.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::rundir::write_atomic;

/// Largest latency a histogram holds exactly (1 hour in ns); larger values are clamped.
pub const MAX_NS: u64 = 3_600_000_000_000;
/// Significant decimal digits kept by every latency histogram.
pub const SIGFIG: u8 = 3;

/// A new latency histogram in latlab's standard shape.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, SIGFIG).expect("static histogram bounds are valid")
}

/// Records `ns` into `h`, clamping to the histogram's range.
#[inline]
pub fn record_ns(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.clamp(1, MAX_NS));
}

/// Summary statistics of a latency histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Number of samples.
    pub count: u64,
    /// Smallest sample.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    #[serde(rename = "p99.9")]
    pub p99_9: u64,
    /// 99.99th percentile.
    #[serde(rename = "p99.99")]
    pub p99_99: u64,
    /// Largest sample.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stddev: f64,
}

impl Stats {
    /// Summarises a histogram (all zeros when it is empty).
    pub fn of(h: &Histogram<u64>) -> Stats {
        if h.is_empty() {
            return Stats::default();
        }
        let q = |p: f64| h.value_at_quantile(p);
        Stats {
            count: h.len(),
            min: h.min(),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: h.max(),
            mean: h.mean(),
            stddev: h.stdev(),
        }
    }
}

/// One closed interval of a [`LatencyRecorder`], already compressed.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Start, relative to the recorder's start, in ns.
    pub start_ns: u64,
    /// Length in ns.
    pub length_ns: u64,
    /// Largest value recorded in the interval, ns.
    pub max_ns: u64,
    /// Number of values recorded in the interval.
    pub count: u64,
    /// The interval's histogram, V2 deflate-compressed.
    pub compressed: Vec<u8>,
}

/// A latency histogram cut into fixed intervals for an interval log.
#[derive(Debug)]
pub struct LatencyRecorder {
    current: Histogram<u64>,
    total: Histogram<u64>,
    interval_ns: u64,
    current_start_ns: u64,
    intervals: Vec<Interval>,
}

impl LatencyRecorder {
    /// A recorder whose intervals last `interval`.
    pub fn new(interval: Duration) -> LatencyRecorder {
        LatencyRecorder {
            current: new_histogram(),
            total: new_histogram(),
            interval_ns: interval.as_nanos().max(1) as u64,
            current_start_ns: 0,
            intervals: Vec::new(),
        }
    }

    /// Records one latency into the current interval.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        record_ns(&mut self.current, ns);
    }

    /// Closes the current interval if `now_ns` (relative to the recorder's start) is past its
    /// end. Call it regularly; it is cheap when nothing is due.
    #[inline]
    pub fn tick(&mut self, now_ns: u64) {
        if now_ns >= self.current_start_ns + self.interval_ns {
            self.close(now_ns);
        }
    }

    /// Closes the current interval at `now_ns` (if it holds anything) and returns the totals.
    pub fn finish(&mut self, now_ns: u64) -> &Histogram<u64> {
        if !self.current.is_empty() {
            self.close(now_ns);
        }
        &self.total
    }

    fn close(&mut self, now_ns: u64) {
        let length_ns = now_ns.saturating_sub(self.current_start_ns).max(1);
        let mut compressed = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.current, &mut compressed)
            .expect("serialising into a Vec cannot fail");
        self.intervals.push(Interval {
            start_ns: self.current_start_ns,
            length_ns,
            max_ns: if self.current.is_empty() {
                0
            } else {
                self.current.max()
            },
            count: self.current.len(),
            compressed,
        });
        self.total
            .add(&self.current)
            .expect("same-shaped histograms add");
        self.current.reset();
        self.current_start_ns = now_ns;
    }

    /// The closed intervals so far.
    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Everything recorded in closed intervals.
    pub fn total(&self) -> &Histogram<u64> {
        &self.total
    }
}

/// Writes an HdrHistogram interval log (format 1.3, values in ns) to `path`, atomically.
///
/// `start_unix_ns` is the wall-clock time of the recorder's start; interval timestamps are
/// written relative to it, in seconds with millisecond precision as the format specifies.
/// Every line ends with a newline and there are no blank lines (the Rust reader stops at one).
pub fn write_hlog(
    path: &Path,
    start_unix_ns: u64,
    comment: &str,
    intervals: &[Interval],
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + intervals.len() * 512);
    for line in comment.lines() {
        writeln!(out, "#[{line}]")?;
    }
    writeln!(out, "#[Histogram log format version 1.3]")?;
    let start_s = start_unix_ns as f64 / 1e9;
    let human = humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + Duration::from_nanos(start_unix_ns),
    );
    writeln!(
        out,
        "#[StartTime: {start_s:.3} (seconds since epoch), {human}]"
    )?;
    writeln!(
        out,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    let b64 = base64::engine::general_purpose::STANDARD;
    for iv in intervals {
        writeln!(
            out,
            "{:.3},{:.3},{:.3},{}",
            iv.start_ns as f64 / 1e9,
            iv.length_ns as f64 / 1e9,
            // Interval_Max in ms, as Java's and Python's writers put it for ns data
            // (maxValueUnitRatio 1e6); readers ignore the column, people read it.
            iv.max_ns as f64 / 1e6,
            b64.encode(&iv.compressed)
        )?;
    }
    write_atomic(path, &out)
}

/// Reads an interval log written by [`write_hlog`] (or any 1.3 log without tags) back into
/// (start s, length s, histogram) triples. Used by tests and by `latlab model fit --hlog`.
pub fn read_hlog(path: &Path) -> io::Result<Vec<(f64, f64, Histogram<u64>)>> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let bytes = std::fs::read(path)?;
    let mut de = Deserializer::new();
    let mut out = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for entry in IntervalLogIterator::new(&bytes) {
        let entry =
            entry.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
        if let LogEntry::Interval(iv) = entry {
            let raw = b64
                .decode(iv.encoded_histogram())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let h: Histogram<u64> = de
                .deserialize(&mut io::Cursor::new(raw))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
            out.push((
                iv.start_timestamp().as_secs_f64(),
                iv.duration().as_secs_f64(),
                h,
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_on_known_values() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            record_ns(&mut h, v * 1000);
        }
        let s = Stats::of(&h);
        assert_eq!(s.count, 1000);
        assert_eq!(s.min, 1000);
        // ⌈0.5 · 1000⌉ = 500th value = 500 µs, reported as its bucket's highest equivalent.
        assert!(s.p50 >= 500_000 && s.p50 < 500_000 + 500, "{}", s.p50);
        assert!(s.p99 >= 990_000 && s.p99 < 990_000 + 1000, "{}", s.p99);
        assert!((s.mean - 500_500.0).abs() < 500.0, "{}", s.mean);
        assert_eq!(Stats::of(&new_histogram()), Stats::default());
    }

    #[test]
    fn out_of_range_values_saturate() {
        let mut h = new_histogram();
        record_ns(&mut h, 0);
        record_ns(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1, "0 is recorded as the lowest trackable value");
        assert!(h.max() >= MAX_NS);
    }

    #[test]
    fn intervals_partition_the_samples_and_the_log_reads_back() {
        let mut r = LatencyRecorder::new(Duration::from_secs(1));
        let mut t = 0u64;
        for i in 0..3000u64 {
            r.record(1_000 + i);
            t += 1_000_000; // 1 ms apart: 3 s in all
            r.tick(t);
        }
        let total = r.finish(t).clone();
        assert_eq!(total.len(), 3000);
        let ivs = r.intervals().to_vec();
        assert_eq!(ivs.iter().map(|i| i.count).sum::<u64>(), 3000);
        assert!(ivs.len() >= 3);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hlog");
        write_hlog(
            &path,
            1_764_000_000_000_000_000,
            "latlab test\nvalues in ns",
            &ivs,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n') && !text.contains("\n\n"));
        let back = read_hlog(&path).unwrap();
        assert_eq!(back.len(), ivs.len());
        let mut merged = new_histogram();
        for (_, _, h) in &back {
            merged.add(h).unwrap();
        }
        assert_eq!(merged.len(), 3000);
        assert_eq!(Stats::of(&merged), Stats::of(&total));
    }
}
