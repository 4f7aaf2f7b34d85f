//! The fast path: one FIFO server with an unlimited buffer, by Lindley's recursion.
//!
//! Customer `n` arrives at `A_n`, starts at `max(A_n, D_{n-1})` and leaves at
//! `D_n = start + S_n`; equivalently `W_{n+1} = max(0, W_n + S_n - (A_{n+1} - A_n))`. No event
//! list is needed. For the queue-length samples the departure times that may still matter are
//! kept in a FIFO (they are increasing): at a sample time `τ`, those `< τ` have left and the
//! rest are in the system. A departure before the next sample time cannot matter and is never
//! stored, and stored ones at or before the current arrival are discarded, so the FIFO stays
//! short (at most the number in the system).

use super::arrivals::ArrivalGen;
use super::random::{self, STREAM_SERVICE, STREAM_SOURCE_BASE};
use super::report::{EngineKind, FlowTable, QueueSeries, Recorder, SimReport};
use super::{new_histogram, Scenario, Service, ServiceTime, SimError, Stop};
use std::collections::VecDeque;

#[inline]
fn sample_until(series: &mut QueueSeries, in_sys: &mut VecDeque<f64>, t: f64) {
    let mut tau = series.next_time();
    while tau <= t {
        while let Some(&d) = in_sys.front() {
            if d < tau {
                in_sys.pop_front();
            } else {
                break;
            }
        }
        let n = in_sys.len() as u64;
        series.push(n, n.saturating_sub(1));
        tau = series.next_time();
    }
}

pub(crate) fn run<S: ServiceTime + Clone>(sc: &Scenario<S>) -> Result<SimReport, SimError> {
    let src = &sc.sources[0];
    let mut gen = ArrivalGen::new(
        &src.arrivals,
        &src.size,
        random::stream(sc.seed, STREAM_SOURCE_BASE),
    );
    let mut rng = random::stream(sc.seed, STREAM_SERVICE);
    let (mut svc, link_rate) = match &sc.service {
        Service::Servers { time, .. } => (Some(time.clone()), 0.0),
        Service::Link { rate_bps } => (None, *rate_bps),
    };
    let flows = FlowTable::new(std::iter::once(src.flow));
    let mut rec = Recorder::new(
        sc.warmup,
        new_histogram(&sc.output)?,
        sc.output.min_batches as usize,
        &flows,
        sc.output.max_drop_times,
    );
    let mut series = QueueSeries::new(sc.sample_interval(), sc.output.max_queue_samples);
    let (limit, horizon) = match sc.stop {
        Stop::Customers(n) => (n, f64::INFINITY),
        Stop::Duration(t) => (u64::MAX, t),
    };

    let mut in_sys: VecDeque<f64> = VecDeque::new();
    let mut next_sample = series.next_time();
    let mut d_prev = f64::NEG_INFINITY;
    let mut n = 0u64;
    let mut events = 0u64;
    let mut area = 0.0;
    let mut busy = 0.0;

    while n < limit {
        let Some((a, size)) = gen.next_arrival() else {
            break;
        };
        if a > horizon {
            break;
        }
        if a >= next_sample {
            sample_until(&mut series, &mut in_sys, a);
            next_sample = series.next_time();
        }
        while let Some(&d) = in_sys.front() {
            if d <= a {
                in_sys.pop_front();
            } else {
                break;
            }
        }
        let start = if d_prev > a { d_prev } else { a };
        let s = match &mut svc {
            Some(t) => t.sample(&mut rng),
            None => f64::from(size) * 8.0 / link_rate,
        };
        if !(s >= 0.0 && s.is_finite()) {
            return Err(SimError::BadServiceTime { value: s });
        }
        let d = start + s;
        d_prev = d;
        if d >= next_sample {
            in_sys.push_back(d);
        }
        events += 1;
        if d <= horizon {
            events += 1;
            rec.served(n, 0, a, start, d);
            area += d - a;
            busy += d - start;
        } else {
            area += horizon - a;
            busy += (horizon - start).max(0.0);
        }
        n += 1;
    }

    let end_time = match sc.stop {
        Stop::Customers(_) => {
            if n > 0 {
                d_prev
            } else {
                0.0
            }
        }
        Stop::Duration(t) => t,
    };
    sample_until(&mut series, &mut in_sys, end_time);
    // FIFO with one server: whoever arrived and has not been served is still there.
    let in_system_at_end = n - rec.served;
    rec.finish(
        EngineKind::Lindley,
        "fifo",
        sc.seed,
        end_time,
        events,
        n,
        in_system_at_end,
        1,
        busy,
        area,
        series,
        sc.output.confidence,
    )
}
