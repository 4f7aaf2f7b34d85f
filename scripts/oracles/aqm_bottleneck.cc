// ns-3 oracle for latlab's AQMs: one bottleneck link fed by Poisson arrivals of fixed-size
// packets, managed by ns-3's CoDelQueueDisc or PieQueueDisc, driven directly through
// QueueDisc::Enqueue / QueueDisc::Dequeue at scheduled times (no NetDevice, no TCP/IP stack).
//
// The model is the one latlab's event engine runs (queueing/src/sim/engine.rs):
//   * an arrival is offered to the queue disc, the next arrival is scheduled, then the link,
//     if idle, asks the queue disc for a packet;
//   * a departure (end of transmission) frees the link, which asks for the next packet;
//   * simultaneous events run in the order they were scheduled (ns-3's (time, uid) order is
//     latlab's (time, seq) order, because both schedule in the same order).
//
// Time is quantised so that both simulators compute the same CoDel arithmetic: every arrival is
// at k * 1024 ns + 512 ns (k integer) and a 1500-byte packet takes exactly 1000 * 1024 ns on
// the 11.71875 Mb/s link, so every event time is 512 ns past a multiple of 1024 ns. ns-3 turns
// a sojourn into CoDel units as (now - stamp) >> 10 and Linux (hence latlab's "linux" variant)
// as (now >> 10) - (stamp >> 10); on this grid the two are equal, and an accumulated floating-
// point error below 512 ns in latlab's f64 clock cannot move a time across a unit boundary.
//
// The arrivals come from a generator that latlab's test (queueing/tests/oracles.rs)
// reimplements bit for bit: SplitMix64, u = ((x >> 11) + 1) * 2^-53 in (0, 1], inter-arrival
// = (uint64)(-log(u) * mean_units + 0.5) units of 1024 ns, where mean_units = 1000 / rho for
// the load rho of the phase the previous arrival fell in. The JSON carries an FNV-1a hash of
// the arrival units so the test can check that both sides saw the same input.
//
// Sojourn = departure time - enqueue time (waiting plus the 1.024 ms transmission), for packets
// that were transmitted: that is latlab's SimReport::sojourn. It is taken here from the items
// QueueDisc::Dequeue returns, not from the QueueDisc "SojournTime" trace, which also fires for
// the packets CoDel drops after taking them from its internal queue. Drops are counted from
// the DropBeforeEnqueue (tail / PIE early) and DropAfterDequeue (CoDel head) traces.
//
// Percentiles: the value of rank ceil(q * n) (1-based) in the sorted sojourns, the rank
// HdrHistogram's value_at_quantile uses.
//
// Usage:
//   aqm_bottleneck [--pie-runs N]      all oracle scenarios, one JSON document on stdout
//   aqm_bottleneck --bench codel|pie [--rate-bps R] [--seconds S] [--repeat N]
//                                      the throughput benchmark (scripts/bench/vs-ns3.sh):
//                                      Poisson at 110 % of R (default 100 Mb/s), 60 s, the
//                                      median of N runs (default 5)
// Build: scripts/oracles/build-ns3.sh

#include "ns3/boolean.h"
#include "ns3/codel-queue-disc.h"
#include "ns3/double.h"
#include "ns3/nstime.h"
#include "ns3/packet.h"
#include "ns3/pie-queue-disc.h"
#include "ns3/queue-disc.h"
#include "ns3/queue-item.h"
#include "ns3/queue-size.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef NS3_ORACLE_VERSION
#define NS3_ORACLE_VERSION "unknown"
#endif

using namespace ns3;

namespace
{

constexpr uint64_t kUnitNs = 1024;     // one CoDel time unit
constexpr uint64_t kOffsetNs = 512;    // every event time is this far past a unit boundary
constexpr uint32_t kPacketBytes = 1500;
constexpr uint64_t kTxUnits = 1000;    // 1500 B at 11.71875 Mb/s = 1.024 ms
constexpr double kLinkBps = 11718750.0;

/// SplitMix64 (Steele, Lea, Flood 2014), as in the Rust test.
struct SplitMix64
{
    uint64_t s;

    uint64_t Next()
    {
        s += 0x9E3779B97F4A7C15ULL;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    /// Uniform on (0, 1].
    double Open01()
    {
        return static_cast<double>((Next() >> 11) + 1) * (1.0 / 9007199254740992.0);
    }
};

struct Phase
{
    uint64_t units; // length of the phase, in 1024 ns units
    double rho;     // offered load (arrival rate / link packet rate)
};

struct ScenarioSpec
{
    const char* name;
    uint64_t seed;
    uint64_t end_units;        // no arrival at or after this
    std::vector<Phase> cycle;  // repeated until end_units
};

/// 1 s = 976562.5 units; phases are whole units.
constexpr uint64_t kSecondUnits = 976563;

std::vector<ScenarioSpec>
OracleScenarios()
{
    return {
        {"rho095", 0x1A7AB001, 60 * kSecondUnits, {{60 * kSecondUnits, 0.95}}},
        {"rho120", 0x1A7AB002, 60 * kSecondUnits, {{60 * kSecondUnits, 1.2}}},
        {"phases", 0x1A7AB003, 60 * kSecondUnits, {{kSecondUnits, 1.5}, {2 * kSecondUnits, 0.5}}},
    };
}

double
RhoAt(const ScenarioSpec& sc, uint64_t t)
{
    uint64_t period = 0;
    for (const auto& p : sc.cycle)
    {
        period += p.units;
    }
    uint64_t x = t % period;
    for (const auto& p : sc.cycle)
    {
        if (x < p.units)
        {
            return p.rho;
        }
        x -= p.units;
    }
    return sc.cycle.back().rho;
}

/// Arrival times in units (the arrival is at units * 1024 + 512 ns).
std::vector<uint64_t>
Arrivals(const ScenarioSpec& sc)
{
    SplitMix64 g{sc.seed};
    std::vector<uint64_t> out;
    uint64_t t = 0;
    for (;;)
    {
        double mean = static_cast<double>(kTxUnits) / RhoAt(sc, t);
        double x = -std::log(g.Open01()) * mean;
        t += static_cast<uint64_t>(x + 0.5);
        if (t >= sc.end_units)
        {
            break;
        }
        out.push_back(t);
    }
    return out;
}

uint64_t
Fnv1a(const std::vector<uint64_t>& v)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (uint64_t x : v)
    {
        for (int i = 0; i < 8; ++i)
        {
            h ^= (x >> (8 * i)) & 0xFF;
            h *= 0x100000001B3ULL;
        }
    }
    return h;
}

/// A bare queue-disc item: no header to add, not ECN-capable.
class OracleItem : public QueueDiscItem
{
  public:
    explicit OracleItem(Ptr<Packet> p)
        : QueueDiscItem(p, Address(), 0)
    {
    }

    void AddHeader() override
    {
    }

    bool Mark() override
    {
        return false;
    }
};

struct RunResult
{
    uint64_t arrivals = 0;
    uint64_t arrivals_fnv = 0;
    uint64_t served = 0;
    uint64_t drops_before_enqueue = 0;
    uint64_t drops_after_dequeue = 0;
    uint64_t qdisc_dequeued = 0; // ns-3's nTotalDequeuedPackets: includes CoDel's head drops
    uint64_t events = 0;         // arrivals + departures, latlab's count
    std::vector<uint64_t> drop_units;
    std::vector<uint64_t> sojourn_ns;
    double wall_s = 0;
};

/// One bottleneck: the link and its bookkeeping.
class Bottleneck
{
  public:
    Bottleneck(Ptr<QueueDisc> q, const std::vector<uint64_t>& arrivals_ns, Time tx)
        : m_q(q),
          m_arrivals(arrivals_ns),
          m_tx(tx)
    {
        m_q->TraceConnectWithoutContext("DropBeforeEnqueue",
                                        MakeCallback(&Bottleneck::DropBefore, this));
        m_q->TraceConnectWithoutContext("DropAfterDequeue",
                                        MakeCallback(&Bottleneck::DropAfter, this));
    }

    RunResult Run()
    {
        if (!m_arrivals.empty())
        {
            Simulator::Schedule(NanoSeconds(m_arrivals[0]), &Bottleneck::Arrival, this);
        }
        auto t0 = std::chrono::steady_clock::now();
        Simulator::Run();
        auto t1 = std::chrono::steady_clock::now();
        m_r.wall_s = std::chrono::duration<double>(t1 - t0).count();
        m_r.arrivals = m_next;
        m_r.qdisc_dequeued = m_q->GetStats().nTotalDequeuedPackets;
        return std::move(m_r);
    }

  private:
    void Arrival()
    {
        m_r.events++;
        m_q->Enqueue(Create<OracleItem>(Create<Packet>(kPacketBytes)));
        m_next++;
        if (m_next < m_arrivals.size())
        {
            Simulator::Schedule(NanoSeconds(m_arrivals[m_next]) - Simulator::Now(),
                                &Bottleneck::Arrival,
                                this);
        }
        StartService();
    }

    void StartService()
    {
        if (m_inService)
        {
            return;
        }
        Ptr<QueueDiscItem> item = m_q->Dequeue();
        if (!item)
        {
            return;
        }
        m_inService = item;
        Simulator::Schedule(m_tx, &Bottleneck::Departure, this);
    }

    void Departure()
    {
        m_r.events++;
        m_r.served++;
        m_r.sojourn_ns.push_back(
            static_cast<uint64_t>((Simulator::Now() - m_inService->GetTimeStamp()).GetNanoSeconds()));
        m_inService = nullptr;
        StartService();
        if (!m_inService && m_next == m_arrivals.size())
        {
            // Everything admitted has left (PIE's update timer would run forever).
            Simulator::Stop();
        }
    }

    void DropBefore(Ptr<const QueueDiscItem>, const char*)
    {
        m_r.drops_before_enqueue++;
        m_r.drop_units.push_back(static_cast<uint64_t>(Simulator::Now().GetNanoSeconds()) /
                                 kUnitNs);
    }

    void DropAfter(Ptr<const QueueDiscItem>, const char*)
    {
        m_r.drops_after_dequeue++;
        m_r.drop_units.push_back(static_cast<uint64_t>(Simulator::Now().GetNanoSeconds()) /
                                 kUnitNs);
    }

    Ptr<QueueDisc> m_q;
    const std::vector<uint64_t>& m_arrivals;
    Time m_tx;
    size_t m_next = 0;
    Ptr<QueueDiscItem> m_inService;
    RunResult m_r;
};

Ptr<QueueDisc>
MakeCodel(uint32_t min_bytes)
{
    Ptr<CoDelQueueDisc> q = CreateObject<CoDelQueueDisc>();
    // sch_codel's limit (1000 packets) instead of ns-3's 1 500 000 bytes; defaults otherwise:
    // Target 5 ms, Interval 100 ms, no ECN. MinBytes: ns-3's default is 1500 ("no drop while
    // fewer than 1500 bytes wait"); 1515 gives the kernel's "backlog <= mtu" with mtu 1514.
    q->SetAttribute("MaxSize", QueueSizeValue(QueueSize("1000p")));
    q->SetAttribute("MinBytes", UintegerValue(min_bytes));
    q->Initialize();
    return q;
}

Ptr<QueueDisc>
MakePie(uint32_t run, bool derandomize)
{
    // The run number picks the substream of PIE's random drops (stream 0 of run `run` + 1).
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(run + 1);
    Ptr<PieQueueDisc> q = CreateObject<PieQueueDisc>();
    // 1000 packets (sch_pie's default) instead of ns-3's 25; packet mode, so no byte scaling
    // and "no early drop while at most 2 packets wait". Defaults otherwise: A 0.125, B 1.25,
    // Tupdate 15 ms (first update at t = 0), QueueDelayReference 15 ms, MaxBurstAllowance
    // 150 ms, timestamp delay estimate, cap drop adjustment on, no ECN; de-randomisation
    // (RFC 8033 section 5.4, what Linux always does) as asked.
    q->SetAttribute("MaxSize", QueueSizeValue(QueueSize("1000p")));
    q->SetAttribute("UseDerandomization", BooleanValue(derandomize));
    q->Initialize();
    q->AssignStreams(0);
    return q;
}

/// The queue-disc configurations each scenario runs, and how many runs each gets.
struct AqmSpec
{
    const char* name;
    bool random; // PIE: several runs with different random streams
};

const AqmSpec kAqms[] = {
    {"codel", false},            // ns-3 defaults (MinBytes 1500)
    {"codel_minbytes1515", false}, // the kernel's mtu test, mtu 1514
    {"pie", true},               // ns-3 defaults (no de-randomisation)
    {"pie_derand", true},        // UseDerandomization = true
};

Ptr<QueueDisc>
MakeAqm(const std::string& name, uint32_t run)
{
    if (name == "codel")
    {
        return MakeCodel(1500);
    }
    if (name == "codel_minbytes1515")
    {
        return MakeCodel(1515);
    }
    return MakePie(run, name == "pie_derand");
}

RunResult
RunOne(const std::string& aqm, uint32_t run, const std::vector<uint64_t>& arrivals_ns, Time tx)
{
    Ptr<QueueDisc> q = MakeAqm(aqm, run);
    RunResult r;
    {
        Bottleneck b(q, arrivals_ns, tx);
        r = b.Run();
    }
    q->Dispose();
    Simulator::Destroy();
    return r;
}

uint64_t
Rank(const std::vector<uint64_t>& sorted, double q)
{
    if (sorted.empty())
    {
        return 0;
    }
    auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    k = std::max<size_t>(k, 1);
    k = std::min(k, sorted.size());
    return sorted[k - 1];
}

void
PrintRun(const RunResult& r, uint32_t run, bool last)
{
    std::vector<uint64_t> s = r.sojourn_ns;
    std::sort(s.begin(), s.end());
    long double sum = 0;
    for (uint64_t x : s)
    {
        sum += x;
    }
    double mean = s.empty() ? 0.0 : static_cast<double>(sum / s.size());
    std::printf("        {\"run\": %u, \"arrivals\": %" PRIu64 ", \"arrivals_fnv\": \"%016" PRIx64
                "\", \"served\": %" PRIu64 ", \"drops_before_enqueue\": %" PRIu64
                ", \"drops_after_dequeue\": %" PRIu64 ", \"qdisc_dequeued\": %" PRIu64
                ", \"events\": %" PRIu64 ",\n",
                run,
                r.arrivals,
                r.arrivals_fnv,
                r.served,
                r.drops_before_enqueue,
                r.drops_after_dequeue,
                r.qdisc_dequeued,
                r.events);
    std::printf("         \"drop_units_fnv\": \"%016" PRIx64 "\", \"first_drop_units\": [",
                Fnv1a(r.drop_units));
    for (size_t i = 0; i < r.drop_units.size() && i < 8; ++i)
    {
        std::printf("%s%" PRIu64, i ? ", " : "", r.drop_units[i]);
    }
    std::printf("],\n         \"sojourn_ns\": {\"mean\": %.1f, \"p50\": %" PRIu64 ", \"p90\": %" PRIu64
                ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}}%s\n",
                mean,
                Rank(s, 0.5),
                Rank(s, 0.9),
                Rank(s, 0.99),
                Rank(s, 0.999),
                s.empty() ? 0 : s.back(),
                last ? "" : ",");
}

int
Oracle(uint32_t pie_runs)
{
    auto scenarios = OracleScenarios();
    Time tx = NanoSeconds(kTxUnits * kUnitNs);
    std::printf("{\n  \"tool\": \"ns-3\", \"ns3_version\": \"%s\",\n", NS3_ORACLE_VERSION);
    // The command that produces the checked-in scripts/oracles/aqm_bottleneck.json.
    std::printf("  \"command\": \"scripts/oracles/build-ns3.sh && target/oracles/aqm_bottleneck "
                "--pie-runs %u\",\n",
                pie_runs);
    std::printf("  \"unit_ns\": %" PRIu64 ", \"offset_ns\": %" PRIu64 ", \"packet_bytes\": %u, "
                "\"link_bps\": %.1f, \"tx_units\": %" PRIu64 ",\n",
                kUnitNs,
                kOffsetNs,
                kPacketBytes,
                kLinkBps,
                kTxUnits);
    std::printf("  \"scenarios\": [\n");
    for (size_t si = 0; si < scenarios.size(); ++si)
    {
        const auto& sc = scenarios[si];
        std::vector<uint64_t> units = Arrivals(sc);
        std::vector<uint64_t> ns(units.size());
        for (size_t i = 0; i < units.size(); ++i)
        {
            ns[i] = units[i] * kUnitNs + kOffsetNs;
        }
        uint64_t fnv = Fnv1a(units);
        std::printf("    {\"name\": \"%s\", \"seed\": %" PRIu64 ", \"end_units\": %" PRIu64
                    ", \"cycle\": [",
                    sc.name,
                    sc.seed,
                    sc.end_units);
        for (size_t i = 0; i < sc.cycle.size(); ++i)
        {
            std::printf("%s{\"units\": %" PRIu64 ", \"rho\": %.3f}",
                        i ? ", " : "",
                        sc.cycle[i].units,
                        sc.cycle[i].rho);
        }
        std::printf("],\n");
        size_t n_aqms = sizeof(kAqms) / sizeof(kAqms[0]);
        for (size_t a = 0; a < n_aqms; ++a)
        {
            uint32_t runs = kAqms[a].random ? pie_runs : 1;
            std::printf("     \"%s\": [\n", kAqms[a].name);
            for (uint32_t run = 0; run < runs; ++run)
            {
                RunResult r = RunOne(kAqms[a].name, run, ns, tx);
                r.arrivals_fnv = fnv;
                PrintRun(r, run, run + 1 == runs);
            }
            std::printf("     ]%s\n", a + 1 == n_aqms ? "" : ",");
        }
        std::printf("    }%s\n", si + 1 == scenarios.size() ? "" : ",");
    }
    std::printf("  ]\n}\n");
    return 0;
}

int
Bench(const std::string& aqm, double rate_bps, double seconds, uint32_t repeat)
{
    // Poisson at 110 % of the link's packet rate, 1500-byte packets, like latlab's
    // `engine/events/{codel,pie}_*` criterion benchmarks (queueing/benches/sim.rs).
    double tx_s = kPacketBytes * 8.0 / rate_bps;
    ScenarioSpec sc{"bench", 0xBE7C4, 0, {}};
    uint64_t tx_ns = static_cast<uint64_t>(tx_s * 1e9 + 0.5);
    std::vector<uint64_t> ns;
    {
        SplitMix64 g{sc.seed};
        double mean_ns = tx_s * 1e9 / 1.1;
        uint64_t t = 0;
        auto end = static_cast<uint64_t>(seconds * 1e9);
        for (;;)
        {
            t += static_cast<uint64_t>(-std::log(g.Open01()) * mean_ns + 0.5);
            if (t >= end)
            {
                break;
            }
            ns.push_back(t);
        }
    }
    // `repeat` identical runs (a fresh queue disc and simulator each); the median wall time,
    // as criterion reports the middle of its samples.
    RunResult r;
    std::vector<double> walls;
    for (uint32_t i = 0; i < std::max<uint32_t>(repeat, 1); ++i)
    {
        r = RunOne(aqm, 0, ns, NanoSeconds(tx_ns));
        walls.push_back(r.wall_s);
    }
    std::sort(walls.begin(), walls.end());
    double wall = walls.size() % 2 ? walls[walls.size() / 2]
                                   : (walls[walls.size() / 2 - 1] + walls[walls.size() / 2]) / 2;
    std::printf("{\"tool\": \"ns-3\", \"aqm\": \"%s\", \"rate_bps\": %.0f, \"seconds\": %.3f, "
                "\"arrivals\": %" PRIu64 ", \"served\": %" PRIu64 ", \"drops\": %" PRIu64
                ", \"events\": %" PRIu64 ", \"repeat\": %zu, \"wall_s_median\": %.6f, "
                "\"wall_s_min\": %.6f, \"wall_s_max\": %.6f, \"events_per_s\": %.0f}\n",
                aqm.c_str(),
                rate_bps,
                seconds,
                r.arrivals,
                r.served,
                r.drops_before_enqueue + r.drops_after_dequeue,
                r.events,
                walls.size(),
                wall,
                walls.front(),
                walls.back(),
                static_cast<double>(r.events) / wall);
    return 0;
}

} // namespace

int
main(int argc, char** argv)
{
    uint32_t pie_runs = 10;
    std::string bench;
    double rate_bps = 100e6;
    double seconds = 60.0;
    uint32_t repeat = 5;
    for (int i = 1; i < argc; ++i)
    {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
            {
                std::fprintf(stderr, "aqm_bottleneck: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--pie-runs")
        {
            pie_runs = static_cast<uint32_t>(std::stoul(value()));
        }
        else if (a == "--bench")
        {
            bench = value();
            if (bench != "codel" && bench != "pie")
            {
                std::fprintf(stderr, "aqm_bottleneck: --bench takes codel or pie\n");
                return 2;
            }
        }
        else if (a == "--rate-bps")
        {
            rate_bps = std::stod(value());
        }
        else if (a == "--seconds")
        {
            seconds = std::stod(value());
        }
        else if (a == "--repeat")
        {
            repeat = static_cast<uint32_t>(std::stoul(value()));
        }
        else
        {
            std::fprintf(stderr,
                         "usage: aqm_bottleneck [--pie-runs N] | --bench codel|pie "
                         "[--rate-bps R] [--seconds S] [--repeat N]\n");
            return 2;
        }
    }
    if (!bench.empty())
    {
        return Bench(bench, rate_bps, seconds, repeat);
    }
    return Oracle(pie_runs);
}
