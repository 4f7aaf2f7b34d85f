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
//!
//! The loop is compiled once per discipline (a `match` on [`AnyDiscipline`] before the run,
//! none per call) and per shape: one source and one server (a bottleneck link) get a loop of
//! their own, [`run_link`], which keeps the two pending events and the hot state in locals and
//! takes the arrivals before each departure in an inner loop (the same `(time, seq)` order);
//! with one server and several sources the server's packet is held in place
//! ([`OneServer`]). Arrivals are generated a block at a time and the served customers'
//! statistics recorded a buffer at a time (see [`super::arrivals`] and [`super::report`]);
//! both keep the order of the random draws and of the floating-point sums, so every shape
//! gives the same report for the same seed (checked by the test at the end of this file).

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

/// What the engine keeps of a packet in service: enough to record it when it leaves.
///
/// Copied field by field, not as a whole [`Packet`]: the packet arrives from the discipline
/// in a stack slot written field by field, and a whole-struct copy would read it back with
/// wider loads than the stores, which the CPU cannot forward (a stall on every departure).
#[derive(Clone, Copy, Debug)]
struct InService {
    id: u64,
    flow: u32,
    arrival: f64,
    start: f64,
}

impl InService {
    #[inline]
    fn new(p: &Packet, start: f64) -> Self {
        Self {
            id: p.id,
            flow: p.flow,
            arrival: p.arrival,
            start,
        }
    }
}

/// The servers: which are idle, and what each busy one serves.
trait ServerPool {
    fn new(servers: usize) -> Self;
    /// The server that takes the next packet, if one is idle.
    fn idle(&self) -> Option<usize>;
    /// Server `s` (the one [`ServerPool::idle`] named) starts serving `p` at `t`.
    fn start(&mut self, s: usize, p: &Packet, t: f64);
    /// Server `s` finishes.
    fn finish(&mut self, s: usize) -> InService;
    /// Busy servers.
    fn busy(&self) -> u64;
}

/// Any number of servers; idle ones on a stack (the last freed serves first).
#[derive(Debug)]
struct Servers {
    serving: Vec<Option<InService>>,
    idle: Vec<u32>,
}

impl ServerPool for Servers {
    fn new(servers: usize) -> Self {
        Self {
            serving: vec![None; servers],
            idle: (0..servers as u32).rev().collect(),
        }
    }
    #[inline]
    fn idle(&self) -> Option<usize> {
        self.idle.last().map(|&s| s as usize)
    }
    #[inline]
    fn start(&mut self, s: usize, p: &Packet, t: f64) {
        self.idle.pop();
        self.serving[s] = Some(InService::new(p, t));
    }
    #[inline]
    fn finish(&mut self, s: usize) -> InService {
        self.idle.push(s as u32);
        self.serving[s]
            .take()
            .expect("a departure event belongs to a busy server")
    }
    #[inline]
    fn busy(&self) -> u64 {
        (self.serving.len() - self.idle.len()) as u64
    }
}

/// One server (a link), held in place.
#[derive(Debug)]
struct OneServer {
    busy: bool,
    serving: InService,
}

impl ServerPool for OneServer {
    fn new(_: usize) -> Self {
        Self {
            busy: false,
            serving: InService {
                id: 0,
                flow: 0,
                arrival: 0.0,
                start: 0.0,
            },
        }
    }
    #[inline]
    fn idle(&self) -> Option<usize> {
        (!self.busy).then_some(0)
    }
    #[inline]
    fn start(&mut self, _: usize, p: &Packet, t: f64) {
        self.busy = true;
        self.serving = InService::new(p, t);
    }
    #[inline]
    fn finish(&mut self, _: usize) -> InService {
        debug_assert!(self.busy, "a departure event belongs to a busy server");
        self.busy = false;
        self.serving
    }
    #[inline]
    fn busy(&self) -> u64 {
        u64::from(self.busy)
    }
}

struct State<S, D, P> {
    sources: usize,
    disc: D,
    servers: P,
    events: EventSlots,
    svc: Option<S>,
    link_rate: f64,
    /// The last packet size the link served and its transmission time: the division is done
    /// once per distinct size (every packet, with fixed sizes, takes the cached value).
    link_cache: (u32, f64),
    rng: Pcg64Mcg,
    n_sys: u64,
    rec: Recorder,
    flows: FlowTable,
}

impl<S: ServiceTime, D: Discipline, P: ServerPool> State<S, D, P> {
    #[inline]
    fn drain_drops(&mut self) {
        if self.disc.pending_drops() != 0 {
            self.drain_drops_slow();
        }
    }

    #[inline(never)]
    fn drain_drops_slow(&mut self) {
        for d in self.disc.drain_drops() {
            self.n_sys -= 1;
            self.rec.dropped(&d, self.flows.index(d.packet.flow));
        }
    }

    /// Every idle server asks the discipline for a packet, until one gets none.
    #[inline]
    fn start_services(&mut self, t: f64) -> Result<(), SimError> {
        while let Some(s) = self.servers.idle() {
            let p = self.disc.dequeue(t);
            self.drain_drops();
            let Some(p) = p else {
                break;
            };
            let st = match &mut self.svc {
                Some(x) => x.sample(&mut self.rng),
                None => {
                    if p.size != self.link_cache.0 {
                        self.link_cache = (p.size, f64::from(p.size) * 8.0 / self.link_rate);
                    }
                    self.link_cache.1
                }
            };
            if !(st >= 0.0 && st.is_finite()) {
                return Err(SimError::BadServiceTime { value: st });
            }
            self.servers.start(s, &p, t);
            self.events.schedule(self.sources + s, t + st);
        }
        Ok(())
    }
}

pub(crate) fn run<S: ServiceTime + Clone>(sc: &Scenario<S>) -> Result<SimReport, SimError> {
    let disc = sc
        .discipline
        .build(random::stream_seed(sc.seed, STREAM_DISCIPLINE))?;
    // One copy of the loop per discipline (no dispatch per call) and per event structure.
    match disc {
        AnyDiscipline::Fifo(d) => run_with(sc, d),
        AnyDiscipline::DropTail(d) => run_with(sc, d),
        AnyDiscipline::Red(d) => run_with(sc, d),
        AnyDiscipline::Codel(d) => run_with(sc, d),
        AnyDiscipline::Pie(d) => run_with(sc, d),
        AnyDiscipline::FqCodel(d) => run_with(sc, d),
    }
}

fn run_with<S: ServiceTime + Clone, D: Discipline>(
    sc: &Scenario<S>,
    disc: D,
) -> Result<SimReport, SimError> {
    let servers = sc.service.servers() as usize;
    let slots = sc.sources.len() + servers;
    match (slots, servers) {
        (2, 1) => run_link(sc, disc),
        (_, 1) => run_loop::<S, D, OneServer>(sc, disc),
        _ => run_loop::<S, D, Servers>(sc, disc),
    }
}

/// The link-time or sampled service time of a packet of `size` bytes.
#[inline]
fn service_time<S: ServiceTime>(
    svc: &mut Option<S>,
    rng: &mut Pcg64Mcg,
    link_rate: f64,
    link_cache: &mut (u32, f64),
    size: u32,
) -> Result<f64, SimError> {
    let st = match svc {
        Some(x) => x.sample(rng),
        None => {
            if size != link_cache.0 {
                *link_cache = (size, f64::from(size) * 8.0 / link_rate);
            }
            link_cache.1
        }
    };
    if st >= 0.0 && st.is_finite() {
        Ok(st)
    } else {
        Err(SimError::BadServiceTime { value: st })
    }
}

/// Hands the discipline's logged drops to the recorder (one flow: `flow_ix`).
#[inline(never)]
fn record_drops<D: Discipline>(disc: &mut D, rec: &mut Recorder, n_sys: &mut u64, flow_ix: usize) {
    for d in disc.drain_drops() {
        *n_sys -= 1;
        rec.dropped(&d, flow_ix);
    }
}

/// The loop for one source and one server (a bottleneck link), the shape of the AQM
/// benchmarks.
///
/// The same events in the same order as [`run_loop`], with the two pending events (the next
/// arrival and the departure) and the rest of the hot state in locals: an inner loop takes
/// every arrival that comes before the pending departure, then the departure is handled.
/// Ties go to the event scheduled first, as in the general engine's `(time, seq)` order:
/// `arrival_newer` says whether the pending arrival was scheduled after the pending
/// departure. The statistics are accumulated with the same operations in the same order (the
/// test at the end of this file compares the reports with [`run_loop`]'s).
fn run_link<S: ServiceTime + Clone, D: Discipline>(
    sc: &Scenario<S>,
    mut disc: D,
) -> Result<SimReport, SimError> {
    const NONE: f64 = f64::INFINITY;
    let src = &sc.sources[0];
    let flows = FlowTable::new(std::iter::once(src.flow));
    let flow = src.flow;
    let flow_ix = flows.index(flow);
    let mut gen = ArrivalGen::new(
        &src.arrivals,
        &src.size,
        random::stream(sc.seed, STREAM_SOURCE_BASE),
    );
    let mut rec = Recorder::new(
        sc.warmup,
        new_histogram(&sc.output)?,
        sc.output.min_batches as usize,
        &flows,
        sc.output.max_drop_times,
    );
    let (mut svc, link_rate) = match &sc.service {
        Service::Servers { time, .. } => (Some(time.clone()), 0.0),
        Service::Link { rate_bps } => (None, *rate_bps),
    };
    let mut link_cache = (0u32, 0.0f64);
    let mut rng = random::stream(sc.seed, STREAM_SERVICE);
    let mut series = QueueSeries::new(sc.sample_interval(), sc.output.max_queue_samples);
    let (limit, horizon) = match sc.stop {
        Stop::Customers(n) => (n, f64::INFINITY),
        Stop::Duration(t) => (u64::MAX, t),
    };

    // The pending arrival (`NONE` once the source has stopped) and departure (`NONE` while
    // the server is idle).
    let (mut t_arr, mut size_arr) = gen.next_arrival().unwrap_or((NONE, 0));
    let mut t_dep = NONE;
    let mut arrival_newer = false;
    let mut serving = InService {
        id: 0,
        flow,
        arrival: 0.0,
        start: 0.0,
    };

    let mut n_sys = 0u64;
    let mut arrived = 0u64;
    let mut events = 0u64;
    let mut last_t = 0.0;
    let mut area = 0.0;
    let mut busy_area = 0.0;
    let mut next_sample = series.next_time();

    // The bookkeeping before each event at `t`, as in `run_loop`; `n_sys` below 2⁶³ converts
    // through `i64` in one instruction, to the same value.
    macro_rules! advance_to {
        ($t:expr) => {{
            let t = $t;
            if t >= next_sample {
                while next_sample <= t {
                    series.push(n_sys, disc.len() as u64);
                    next_sample = series.next_time();
                }
            }
            let dt = t - last_t;
            area += (n_sys as i64) as f64 * dt;
            busy_area += f64::from(u8::from(t_dep != NONE)) * dt;
            last_t = t;
            events += 1;
        }};
    }
    // The server takes the next packet, if any, at `t`.
    macro_rules! start_service {
        ($t:expr) => {{
            let t = $t;
            let p = disc.dequeue(t);
            if disc.pending_drops() != 0 {
                record_drops(&mut disc, &mut rec, &mut n_sys, flow_ix);
            }
            if let Some(p) = p {
                let st = service_time(&mut svc, &mut rng, link_rate, &mut link_cache, p.size)?;
                serving = InService::new(&p, t);
                t_dep = t + st;
                arrival_newer = false;
            }
        }};
    }

    'run: loop {
        // Arrivals before the departure (all of them, one by one, while the server is idle).
        while t_arr < t_dep || (t_arr == t_dep && !arrival_newer && t_arr != NONE) {
            let t = t_arr;
            if t > horizon {
                break 'run;
            }
            advance_to!(t);
            // One flow: the recorder takes the flow's arrivals from `arrived` at the end.
            let pkt = Packet {
                id: arrived,
                flow,
                size: size_arr,
                arrival: t,
            };
            arrived += 1;
            n_sys += 1;
            disc.enqueue(pkt, t);
            if disc.pending_drops() != 0 {
                record_drops(&mut disc, &mut rec, &mut n_sys, flow_ix);
            }
            (t_arr, size_arr) = if arrived >= limit {
                (NONE, 0)
            } else {
                gen.next_arrival().unwrap_or((NONE, 0))
            };
            arrival_newer = true;
            if t_dep == NONE {
                start_service!(t);
            }
        }
        // The departure, if the server is busy (else nothing is pending: the run is over).
        let t = t_dep;
        if t == NONE || t > horizon {
            break;
        }
        advance_to!(t);
        n_sys -= 1;
        rec.served(serving.id, flow_ix, serving.arrival, serving.start, t);
        t_dep = NONE;
        start_service!(t);
    }

    let busy = u64::from(t_dep != NONE);
    let end_time = match sc.stop {
        Stop::Customers(_) => last_t,
        Stop::Duration(t) => {
            let dt = t - last_t;
            area += n_sys as f64 * dt;
            busy_area += busy as f64 * dt;
            while series.next_time() <= t {
                series.push(n_sys, disc.len() as u64);
            }
            t
        }
    };
    let in_system_at_end = match sc.stop {
        Stop::Customers(_) => 0,
        Stop::Duration(_) => n_sys,
    };
    rec.finish(
        EngineKind::EventList,
        disc.name(),
        sc.seed,
        end_time,
        events,
        arrived,
        in_system_at_end,
        1,
        busy_area,
        area,
        series,
        sc.output.confidence,
    )
}

fn run_loop<S: ServiceTime + Clone, D: Discipline, P: ServerPool>(
    sc: &Scenario<S>,
    disc: D,
) -> Result<SimReport, SimError> {
    let ns = sc.sources.len();
    let c = sc.service.servers() as usize;
    let flows = FlowTable::new(sc.sources.iter().map(|s| s.flow));
    let src_flow_ix: Vec<usize> = sc.sources.iter().map(|s| flows.index(s.flow)).collect();
    let src_flow: Vec<u32> = sc.sources.iter().map(|s| s.flow).collect();
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
        disc,
        servers: P::new(c),
        events: EventSlots::new(ns + c),
        svc,
        link_rate,
        link_cache: (0, 0.0),
        rng: random::stream(sc.seed, STREAM_SERVICE),
        n_sys: 0,
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
        busy_area += st.servers.busy() as f64 * dt;
        last_t = t;
        events += 1;

        if who < ns {
            let pkt = Packet {
                id: arrived,
                flow: src_flow[who],
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
            let p = st.servers.finish(who - ns);
            st.n_sys -= 1;
            let fi = st.flows.index(p.flow);
            st.rec.served(p.id, fi, p.arrival, p.start, t);
        }
        st.start_services(t)?;
    }

    let end_time = match sc.stop {
        Stop::Customers(_) => last_t,
        Stop::Duration(t) => {
            let dt = t - last_t;
            area += st.n_sys as f64 * dt;
            busy_area += st.servers.busy() as f64 * dt;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aqm::{CodelConfig, CodelVariant, DisciplineConfig, Limit, PieConfig, PieVariant};
    use crate::sim::{ArrivalProcess, ServiceSpec, SizeSpec, Source};

    /// The general structures (event tree, server stack), whatever the scenario.
    fn run_general(sc: &Scenario) -> SimReport {
        let disc = sc
            .discipline
            .build(random::stream_seed(sc.seed, STREAM_DISCIPLINE))
            .unwrap();
        run_loop::<_, _, Servers>(sc, disc).unwrap()
    }

    /// The specialised loops ([`run_link`] for one source and one server, [`OneServer`])
    /// against the general structures: the same report, byte for byte.
    #[test]
    fn specialised_structures_give_the_general_result() {
        let discs = [
            DisciplineConfig::Fifo,
            DisciplineConfig::DropTail {
                limit: Limit::Packets(20),
            },
            DisciplineConfig::Codel(CodelConfig::default()),
            DisciplineConfig::Codel(CodelConfig::with_variant(CodelVariant::Linux)),
            DisciplineConfig::Pie(PieConfig::default()),
            DisciplineConfig::Pie(PieConfig::with_variant(PieVariant::Linux)),
        ];
        // Constant arrivals onto a link whose transmission time is a multiple of their
        // spacing: arrivals and departures fall on (nearly) the same instants, where the
        // order of events is decided by the smallest differences.
        let arrivals = [
            ArrivalProcess::Poisson { rate: 9000.0 },
            ArrivalProcess::Constant { rate: 8000.0 },
        ];
        for d in &discs {
            for a in &arrivals {
                for flows in [1u32, 3] {
                    let sources = (0..flows)
                        .map(|f| {
                            Source::new(a.clone())
                                .with_flow(f)
                                .with_size(SizeSpec::Fixed(1250))
                        })
                        .collect();
                    let sc = Scenario::new(
                        sources,
                        Service::Link { rate_bps: 1e7 },
                        Stop::Duration(3.0),
                    )
                    .with_discipline(d.clone())
                    .with_seed(7);
                    let fast = serde_json::to_string(&run(&sc).unwrap()).unwrap();
                    let general = serde_json::to_string(&run_general(&sc)).unwrap();
                    assert!(fast == general, "{d:?} {a:?} {flows} flow(s)");
                }
            }
        }
        let sc = Scenario::new(
            vec![Source::poisson(0.9)],
            Service::Servers {
                count: 1,
                time: ServiceSpec::Deterministic { value: 1.0 },
            },
            Stop::Customers(20_000),
        )
        .with_discipline(DisciplineConfig::Codel(CodelConfig::default()));
        let fast = serde_json::to_string(&run(&sc).unwrap()).unwrap();
        let general = serde_json::to_string(&run_general(&sc)).unwrap();
        assert!(fast == general, "one server, deterministic service");
        // One source and one server with sampled service times, stopped by customer count
        // (with a warm-up), and a trace that runs out (simultaneous arrivals, then none).
        let sc = Scenario::new(
            vec![Source::poisson(1.2)],
            Service::Servers {
                count: 1,
                time: ServiceSpec::Exponential { mean: 1.0 },
            },
            Stop::Customers(30_000),
        )
        .with_discipline(DisciplineConfig::Pie(PieConfig::default()))
        .with_warmup(500)
        .with_seed(9);
        let fast = serde_json::to_string(&run(&sc).unwrap()).unwrap();
        let general = serde_json::to_string(&run_general(&sc)).unwrap();
        assert!(
            fast == general,
            "one server, exponential service, customers"
        );
        let sc = Scenario::new(
            vec![Source::new(ArrivalProcess::Trace {
                interarrivals: vec![1.0, 0.5, 0.0, 0.0, 2.0, 0.25],
                repeat: false,
            })],
            Service::Servers {
                count: 1,
                time: ServiceSpec::Deterministic { value: 0.75 },
            },
            Stop::Duration(100.0),
        );
        let fast = serde_json::to_string(&run(&sc).unwrap()).unwrap();
        let general = serde_json::to_string(&run_general(&sc)).unwrap();
        assert!(fast == general, "a trace that ends");
    }
}
