//! The general engine: a tournament tree over a fixed set of event slots.
//!
//! There are two kinds of event: the next arrival of each source (one pending per source) and
//! the departure from each busy server (one pending per server). So the pending events live in
//! `sources + servers` slots, and the earliest is found with a tournament (winner) tree over
//! the slots: the root holds the earliest slot, and rescheduling a slot replays the matches on
//! its path to the root, `O(log slots)` comparisons and no allocation. Events are ordered by
//! time, then by the order in which they were scheduled, which makes simultaneous events
//! deterministic. Between events the state is constant, so the queue-length samples, the area
//! under the number in system and the busy-server area are taken or integrated just before
//! each event is handled.

use super::arrivals::ArrivalGen;
use super::random::{self, STREAM_DISCIPLINE, STREAM_SERVICE, STREAM_SOURCE_BASE};
use super::report::{EngineKind, FlowTable, QueueSeries, Recorder, SimReport};
use super::{new_histogram, Scenario, Service, ServiceTime, SimError, Stop};
use crate::aqm::{AnyDiscipline, Discipline, Packet};
use rand_pcg::Pcg64Mcg;

/// Pending events, one slot each, with a winner tree on `(time, seq)`.
#[derive(Debug)]
struct EventSlots {
    leaves: usize,
    /// `tree[k]` for `k < leaves`: the winning slot below internal node `k` (root at 1);
    /// `tree[leaves + i] = i`.
    tree: Vec<u32>,
    time: Vec<f64>,
    seq: Vec<u64>,
    next_seq: u64,
    /// A slot emptied by [`EventSlots::take`] whose path has not been replayed yet.
    stale: Option<usize>,
}

impl EventSlots {
    fn new(slots: usize) -> Self {
        let leaves = slots.max(2).next_power_of_two();
        let mut tree = vec![0u32; 2 * leaves];
        for i in 0..leaves {
            tree[leaves + i] = i as u32;
        }
        let mut e = Self {
            leaves,
            tree,
            time: vec![f64::INFINITY; leaves],
            seq: vec![u64::MAX; leaves],
            next_seq: 0,
            stale: None,
        };
        for k in (1..leaves).rev() {
            e.tree[k] = e.winner(e.tree[2 * k], e.tree[2 * k + 1]);
        }
        e
    }

    #[inline]
    fn winner(&self, a: u32, b: u32) -> u32 {
        let (ta, tb) = (self.time[a as usize], self.time[b as usize]);
        if ta < tb || (ta == tb && self.seq[a as usize] <= self.seq[b as usize]) {
            a
        } else {
            b
        }
    }

    #[inline]
    fn replay(&mut self, slot: usize) {
        let mut k = (self.leaves + slot) >> 1;
        while k >= 1 {
            self.tree[k] = self.winner(self.tree[2 * k], self.tree[2 * k + 1]);
            k >>= 1;
        }
    }

    /// Schedules `slot` at `t` (after everything already scheduled at `t`).
    #[inline]
    fn schedule(&mut self, slot: usize, t: f64) {
        self.time[slot] = t;
        self.seq[slot] = self.next_seq;
        self.next_seq += 1;
        self.replay(slot);
        if self.stale == Some(slot) {
            self.stale = None;
        }
    }

    /// Empties `slot`, deferring the replay: the slot that was just handled is usually
    /// rescheduled at once (the next arrival, the next service), which then replays its path
    /// only once. Any other replay in between leaves the tree correct below the shared
    /// ancestors, and [`EventSlots::first`] settles the rest.
    #[inline]
    fn take(&mut self, slot: usize) {
        self.settle();
        self.time[slot] = f64::INFINITY;
        self.seq[slot] = u64::MAX;
        self.stale = Some(slot);
    }

    #[inline]
    fn settle(&mut self) {
        if let Some(s) = self.stale.take() {
            self.replay(s);
        }
    }

    /// The earliest pending event, if any.
    #[inline]
    fn first(&mut self) -> Option<(usize, f64)> {
        self.settle();
        let w = self.tree[1] as usize;
        let t = self.time[w];
        (t < f64::INFINITY).then_some((w, t))
    }
}

struct State<S> {
    sources: usize,
    disc: AnyDiscipline,
    servers: Vec<Option<(Packet, f64)>>,
    idle: Vec<u32>,
    events: EventSlots,
    svc: Option<S>,
    link_rate: f64,
    rng: Pcg64Mcg,
    n_sys: u64,
    busy: u64,
    rec: Recorder,
    flows: FlowTable,
}

impl<S: ServiceTime> State<S> {
    #[inline]
    fn drain_drops(&mut self) {
        if self.disc.pending_drops() == 0 {
            return;
        }
        for d in self.disc.drain_drops() {
            self.n_sys -= 1;
            self.rec.dropped(&d, self.flows.index(d.packet.flow));
        }
    }

    /// Every idle server asks the discipline for a packet, until one gets none.
    #[inline]
    fn start_services(&mut self, t: f64) -> Result<(), SimError> {
        while let Some(&s) = self.idle.last() {
            let p = self.disc.dequeue(t);
            self.drain_drops();
            let Some(p) = p else {
                break;
            };
            self.idle.pop();
            let st = match &mut self.svc {
                Some(x) => x.sample(&mut self.rng),
                None => f64::from(p.size) * 8.0 / self.link_rate,
            };
            if !(st >= 0.0 && st.is_finite()) {
                return Err(SimError::BadServiceTime { value: st });
            }
            self.servers[s as usize] = Some((p, t));
            self.busy += 1;
            self.events.schedule(self.sources + s as usize, t + st);
        }
        Ok(())
    }
}

pub(crate) fn run<S: ServiceTime + Clone>(sc: &Scenario<S>) -> Result<SimReport, SimError> {
    let ns = sc.sources.len();
    let c = sc.service.servers() as usize;
    let flows = FlowTable::new(sc.sources.iter().map(|s| s.flow));
    let src_flow_ix: Vec<usize> = sc.sources.iter().map(|s| flows.index(s.flow)).collect();
    let mut gens: Vec<ArrivalGen> = sc
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            ArrivalGen::new(
                &s.arrivals,
                &s.size,
                random::stream(sc.seed, STREAM_SOURCE_BASE + i as u64),
            )
        })
        .collect();
    let rec = Recorder::new(
        sc.warmup,
        new_histogram(&sc.output)?,
        sc.output.min_batches as usize,
        &flows,
        sc.output.max_drop_times,
    );
    let (svc, link_rate) = match &sc.service {
        Service::Servers { time, .. } => (Some(time.clone()), 0.0),
        Service::Link { rate_bps } => (None, *rate_bps),
    };
    let mut st = State {
        sources: ns,
        disc: sc
            .discipline
            .build(random::stream_seed(sc.seed, STREAM_DISCIPLINE))?,
        servers: vec![None; c],
        idle: (0..c as u32).rev().collect(),
        events: EventSlots::new(ns + c),
        svc,
        link_rate,
        rng: random::stream(sc.seed, STREAM_SERVICE),
        n_sys: 0,
        busy: 0,
        rec,
        flows,
    };
    let mut series = QueueSeries::new(sc.sample_interval(), sc.output.max_queue_samples);
    let (limit, horizon) = match sc.stop {
        Stop::Customers(n) => (n, f64::INFINITY),
        Stop::Duration(t) => (u64::MAX, t),
    };

    let mut pending_size = vec![0u32; ns];
    for (i, g) in gens.iter_mut().enumerate() {
        if let Some((t, size)) = g.next_arrival() {
            pending_size[i] = size;
            st.events.schedule(i, t);
        }
    }

    let mut arrivals_open = true;
    let mut arrived = 0u64;
    let mut events = 0u64;
    let mut last_t = 0.0;
    let mut area = 0.0;
    let mut busy_area = 0.0;
    let mut next_sample = series.next_time();

    while let Some((who, t)) = st.events.first() {
        if t > horizon {
            break;
        }
        st.events.take(who);
        if who < ns && !arrivals_open {
            continue;
        }
        if t >= next_sample {
            while next_sample <= t {
                series.push(st.n_sys, st.disc.len() as u64);
                next_sample = series.next_time();
            }
        }
        let dt = t - last_t;
        area += st.n_sys as f64 * dt;
        busy_area += st.busy as f64 * dt;
        last_t = t;
        events += 1;

        if who < ns {
            let pkt = Packet {
                id: arrived,
                flow: sc.sources[who].flow,
                size: pending_size[who],
                arrival: t,
            };
            arrived += 1;
            st.n_sys += 1;
            st.rec.arrived(src_flow_ix[who]);
            st.disc.enqueue(pkt, t);
            st.drain_drops();
            if arrived >= limit {
                arrivals_open = false;
            } else if let Some((ta, size)) = gens[who].next_arrival() {
                pending_size[who] = size;
                st.events.schedule(who, ta);
            }
        } else {
            let s = who - ns;
            let (p, start) = st.servers[s]
                .take()
                .expect("a departure event belongs to a busy server");
            st.busy -= 1;
            st.n_sys -= 1;
            let fi = st.flows.index(p.flow);
            st.rec.served(p.id, fi, p.arrival, start, t);
            st.idle.push(s as u32);
        }
        st.start_services(t)?;
    }

    let end_time = match sc.stop {
        Stop::Customers(_) => last_t,
        Stop::Duration(t) => {
            let dt = t - last_t;
            area += st.n_sys as f64 * dt;
            busy_area += st.busy as f64 * dt;
            while series.next_time() <= t {
                series.push(st.n_sys, st.disc.len() as u64);
            }
            t
        }
    };
    let in_system_at_end = match sc.stop {
        Stop::Customers(_) => 0,
        Stop::Duration(_) => st.n_sys,
    };
    let name = st.disc.name();
    st.rec.finish(
        EngineKind::EventList,
        name,
        sc.seed,
        end_time,
        events,
        arrived,
        in_system_at_end,
        c as u32,
        busy_area,
        area,
        series,
        sc.output.confidence,
    )
}
