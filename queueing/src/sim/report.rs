//! What a run reports, and the recorder both engines feed.

use super::batch::{BatchMeans, MeanCi};
use super::hist::FastHist;
use super::SimError;
use crate::aqm::{DropReason, Dropped};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Which engine ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// Lindley's recursion (one FIFO server, no limit).
    Lindley,
    /// The general engine over a future-event list.
    EventList,
}

/// Queue length sampled at fixed virtual times `i * interval`, `i = 0, 1, ...`.
///
/// The state recorded at time `τ` is the one left by the events strictly before `τ`. At most
/// `capacity` samples are kept: when full, every second sample is discarded and the interval
/// doubles, so the series always spans the whole run in bounded memory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueSeries {
    /// Virtual time between samples, seconds.
    pub interval: f64,
    /// Customers in the system (waiting and in service).
    pub in_system: Vec<u32>,
    /// Customers waiting (in the discipline's queue).
    pub in_queue: Vec<u32>,
    #[serde(skip)]
    capacity: usize,
}

impl QueueSeries {
    pub(crate) fn new(interval: f64, capacity: usize) -> Self {
        let capacity = (capacity.max(2) + 1) & !1;
        Self {
            interval,
            in_system: Vec::with_capacity(capacity.min(1 << 16)),
            in_queue: Vec::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    /// The time of sample `i`.
    pub fn time_of(&self, i: usize) -> f64 {
        i as f64 * self.interval
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.in_system.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.in_system.is_empty()
    }

    /// The time of the next sample to take.
    #[inline]
    pub(crate) fn next_time(&self) -> f64 {
        self.time_of(self.len())
    }

    #[inline]
    pub(crate) fn push(&mut self, in_system: u64, in_queue: u64) {
        if self.in_system.len() == self.capacity {
            self.decimate();
        }
        self.in_system
            .push(u32::try_from(in_system).unwrap_or(u32::MAX));
        self.in_queue
            .push(u32::try_from(in_queue).unwrap_or(u32::MAX));
    }

    #[cold]
    fn decimate(&mut self) {
        for v in [&mut self.in_system, &mut self.in_queue] {
            let kept: Vec<u32> = v.iter().step_by(2).copied().collect();
            *v = kept;
        }
        self.interval *= 2.0;
    }
}

/// Drops: how many, why, and when (the first `max_drop_times`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DropLog {
    /// All drops.
    pub count: u64,
    /// Tail drops at a full buffer.
    pub overflow: u64,
    /// Early (probabilistic) drops on arrival: RED, PIE.
    pub early: u64,
    /// CoDel head drops.
    pub head: u64,
    /// FQ-CoDel drops from the fattest flow.
    pub fattest_flow: u64,
    /// Times of the first drops, in order.
    pub times: Vec<f64>,
}

/// Per-flow results. Counts cover the whole run; sojourn and wait statistics leave out the
/// warm-up customers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FlowReport {
    /// Flow id.
    pub flow: u32,
    /// Customers that arrived.
    pub arrived: u64,
    /// Customers served to completion.
    pub served: u64,
    /// Customers dropped.
    pub dropped: u64,
    /// Mean sojourn (wait + service) of the served, seconds.
    pub mean_sojourn: f64,
    /// Largest sojourn, seconds.
    pub max_sojourn: f64,
    /// Mean wait before service, seconds.
    pub mean_wait: f64,
    #[serde(skip)]
    counted: u64,
    #[serde(skip)]
    sum_sojourn: f64,
    #[serde(skip)]
    sum_wait: f64,
}

/// Sojourn-time quantiles from the histogram, seconds (to its 3 significant digits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest recorded.
    pub max: f64,
}

/// The sample-path form of Little's law: the area under the number in system, `∫ N(t) dt`
/// over the run, and the total time spent in the system by the customers who left (served or
/// dropped). The two are equal when the run starts and ends empty (a run stopped by customer
/// count, which drains); `mean_in_system = area / end_time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LittleCheck {
    /// `∫ N(t) dt`, customer-seconds.
    pub area: f64,
    /// Total residence of departed and dropped customers, customer-seconds.
    pub residence: f64,
}

/// Everything a run reports.
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    /// Which engine ran.
    pub engine: EngineKind,
    /// The discipline's name.
    pub discipline: &'static str,
    /// The seed.
    pub seed: u64,
    /// Virtual time at the end, seconds.
    pub end_time: f64,
    /// Events processed (arrivals and departures; the Lindley path counts the equivalent).
    pub events: u64,
    /// Customers that arrived.
    pub arrived: u64,
    /// Customers served to completion.
    pub served: u64,
    /// Customers dropped.
    pub dropped: u64,
    /// Customers still in the system when a duration-limited run ended.
    pub in_system_at_end: u64,
    /// Customers (by arrival order) left out of the sojourn and wait statistics.
    pub warmup: u64,
    /// Mean sojourn (wait + service) with its batch-means confidence interval.
    pub sojourn: MeanCi,
    /// Mean wait before service with its batch-means confidence interval.
    pub wait: MeanCi,
    /// Sojourn quantiles.
    pub sojourn_quantiles: Quantiles,
    /// Sojourn histogram, nanoseconds of virtual time.
    #[serde(skip)]
    pub sojourn_histogram: Histogram<u64>,
    /// Sojourns above the histogram's range (recorded at its maximum).
    pub histogram_saturated: u64,
    /// Busy server-time over servers × duration.
    pub utilisation: f64,
    /// Customers served per second.
    pub throughput: f64,
    /// Time-average number in the system.
    pub mean_in_system: f64,
    /// Little's law on the sample path.
    pub little: LittleCheck,
    /// Queue length over time.
    pub queue: QueueSeries,
    /// Drops.
    pub drops: DropLog,
    /// Per-flow results, by flow id.
    pub flows: Vec<FlowReport>,
}

/// Maps flow ids (known from the sources) to dense indices.
#[derive(Clone, Debug)]
pub(crate) struct FlowTable {
    ids: Vec<u32>,
    direct: Option<Vec<u32>>,
}

impl FlowTable {
    pub(crate) fn new(flows: impl Iterator<Item = u32>) -> Self {
        let mut ids: Vec<u32> = flows.collect();
        ids.sort_unstable();
        ids.dedup();
        let direct = match ids.last() {
            Some(&m) if m < (1 << 16) => {
                let mut d = vec![u32::MAX; m as usize + 1];
                for (i, id) in ids.iter().enumerate() {
                    d[*id as usize] = i as u32;
                }
                Some(d)
            }
            _ => None,
        };
        Self { ids, direct }
    }

    #[inline]
    pub(crate) fn index(&self, flow: u32) -> usize {
        match &self.direct {
            Some(d) => d[flow as usize] as usize,
            None => self.ids.binary_search(&flow).unwrap_or(0),
        }
    }
}

/// Sojourns and waits held back before they reach the batch means and the histogram.
const PENDING: usize = 256;

/// Accumulates customer statistics for either engine.
///
/// The counted customers' `(sojourn, wait)` pairs are held in a fixed buffer and fed to the
/// batch means, the histogram and the maximum a buffer at a time, in their order: the same
/// arithmetic in the same order as one at a time, done in a tight loop away from the event
/// loop's unpredictable branches.
#[derive(Debug)]
pub(crate) struct Recorder {
    warmup: u64,
    hist: FastHist,
    saturated: u64,
    batches: BatchMeans<2>,
    pending: [[f64; 2]; PENDING],
    n_pending: usize,
    /// One flow only (the Lindley path): per-flow sojourn figures come from the totals.
    single_flow: bool,
    max_sojourn: f64,
    pub(crate) flows: Vec<FlowReport>,
    pub(crate) drops: DropLog,
    max_drop_times: usize,
    pub(crate) residence: f64,
    pub(crate) served: u64,
}

impl Recorder {
    pub(crate) fn new(
        warmup: u64,
        hist: FastHist,
        batches: usize,
        flow_ids: &FlowTable,
        max_drop_times: usize,
    ) -> Self {
        Self {
            warmup,
            hist,
            saturated: 0,
            batches: BatchMeans::new(batches),
            pending: [[0.0; 2]; PENDING],
            n_pending: 0,
            single_flow: flow_ids.ids.len() == 1,
            max_sojourn: 0.0,
            flows: flow_ids
                .ids
                .iter()
                .map(|&flow| FlowReport {
                    flow,
                    ..FlowReport::default()
                })
                .collect(),
            drops: DropLog::default(),
            max_drop_times,
            residence: 0.0,
            served: 0,
        }
    }

    #[inline]
    pub(crate) fn arrived(&mut self, flow_ix: usize) {
        self.flows[flow_ix].arrived += 1;
    }

    /// A customer with sequence number `id` left after being served.
    #[inline(always)]
    pub(crate) fn served(
        &mut self,
        id: u64,
        flow_ix: usize,
        arrival: f64,
        start: f64,
        departure: f64,
    ) {
        let sojourn = departure - arrival;
        self.served += 1;
        self.residence += sojourn;
        if id < self.warmup {
            if !self.single_flow {
                self.flows[flow_ix].served += 1;
            }
            return;
        }
        let wait = start - arrival;
        if !self.single_flow {
            let f = &mut self.flows[flow_ix];
            f.served += 1;
            f.counted += 1;
            f.sum_sojourn += sojourn;
            f.sum_wait += wait;
            if sojourn > f.max_sojourn {
                f.max_sojourn = sojourn;
            }
        }
        self.pending[self.n_pending] = [sojourn, wait];
        self.n_pending += 1;
        if self.n_pending == PENDING {
            self.flush();
        }
    }

    /// Feeds the held-back customers to the batch means, the histogram and the maximum.
    #[inline(never)]
    fn flush(&mut self) {
        for &[sojourn, wait] in &self.pending[..self.n_pending] {
            if sojourn > self.max_sojourn {
                self.max_sojourn = sojourn;
            }
            self.batches.push([sojourn, wait]);
            let ns = (sojourn * 1e9 + 0.5) as u64;
            if self.hist.record(ns) {
                self.saturated += 1;
            }
        }
        self.n_pending = 0;
    }

    /// A customer was dropped.
    pub(crate) fn dropped(&mut self, d: &Dropped, flow_ix: usize) {
        self.residence += d.time - d.packet.arrival;
        self.flows[flow_ix].dropped += 1;
        let log = &mut self.drops;
        log.count += 1;
        match d.reason {
            DropReason::Overflow => log.overflow += 1,
            DropReason::Early => log.early += 1,
            DropReason::HeadDrop => log.head += 1,
            DropReason::FattestFlow => log.fattest_flow += 1,
        }
        if log.times.len() < self.max_drop_times {
            log.times.push(d.time);
        }
    }

    /// Assembles the report.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish(
        mut self,
        engine: EngineKind,
        discipline: &'static str,
        seed: u64,
        end_time: f64,
        events: u64,
        arrived: u64,
        in_system_at_end: u64,
        servers: u32,
        busy_area: f64,
        area: f64,
        queue: QueueSeries,
        confidence: f64,
    ) -> Result<SimReport, SimError> {
        self.flush();
        let hist = self.hist.into_hdr();
        if self.single_flow {
            let f = &mut self.flows[0];
            f.arrived = arrived;
            f.served = self.served;
            f.counted = self.batches.count();
            f.sum_sojourn = self.batches.total(0);
            f.sum_wait = self.batches.total(1);
            f.max_sojourn = self.max_sojourn;
        }
        for f in &mut self.flows {
            if f.counted > 0 {
                f.mean_sojourn = f.sum_sojourn / f.counted as f64;
                f.mean_wait = f.sum_wait / f.counted as f64;
            } else {
                f.mean_sojourn = f64::NAN;
                f.mean_wait = f64::NAN;
            }
        }
        let q = |p: f64| {
            if hist.is_empty() {
                f64::NAN
            } else {
                hist.value_at_quantile(p) as f64 * 1e-9
            }
        };
        let sojourn_quantiles = Quantiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: if hist.is_empty() {
                f64::NAN
            } else {
                hist.max() as f64 * 1e-9
            },
        };
        let per_time = |x: f64| {
            if end_time > 0.0 {
                x / end_time
            } else {
                f64::NAN
            }
        };
        Ok(SimReport {
            engine,
            discipline,
            seed,
            end_time,
            events,
            arrived,
            served: self.served,
            dropped: self.drops.count,
            in_system_at_end,
            warmup: self.warmup,
            sojourn: self.batches.finish(0, confidence),
            wait: self.batches.finish(1, confidence),
            sojourn_quantiles,
            sojourn_histogram: hist,
            histogram_saturated: self.saturated,
            utilisation: per_time(busy_area) / f64::from(servers),
            throughput: per_time(self.served as f64),
            mean_in_system: per_time(area),
            little: LittleCheck {
                area,
                residence: self.residence,
            },
            queue,
            drops: self.drops,
            flows: self.flows,
        })
    }
}
