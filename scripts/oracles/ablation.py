#!/usr/bin/env python3
"""Explains the two places where latlab's AQM variants and ns-3 part ways, by ablation.

Plain-Python models of the Linux CoDel and PIE code paths (the same arithmetic as latlab's
`linux` variants and ns-3's CoDelQueueDisc), run on the arrival sequences of
scripts/oracles/aqm_bottleneck.cc (same generator), with one rule changed at a time:

1. CoDel, scenario rho120: the kernel (and ns-3) take ONE Newton step of rec_inv_sqrt when the
   dropping state is re-entered with count = delta; RFC 8289 takes the exact 1/sqrt(delta).
   Giving the kernel model the exact value at re-entry moves its mean sojourn to the RFC
   variant's.
2. PIE, scenario phases (with de-randomisation): which of the kernel's own rules make its queue
   shorter than ns-3's / RFC 8033's when the load alternates.

Usage: scripts/oracles/ablation.py     (about 10 s; prints two tables)
The numbers are quoted in docs/QUEUEING-ORACLES.md.
"""

import collections
import math
import random
import statistics

M64 = (1 << 64) - 1
UNIT = 1.024e-6  # one CoDel time unit, seconds
SECOND_UNITS = 976563


def arrivals(seed, end_units, cycle):
    """aqm_bottleneck.cc's Arrivals(): SplitMix64, exponential gaps in 1024 ns units."""
    period = sum(u for u, _ in cycle)
    s, t, out = seed, 0, []
    while True:
        x = t % period
        for length, rho in cycle:
            if x < length:
                break
            x -= length
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        u = ((z >> 11) + 1) * (1.0 / 9007199254740992.0)
        t += int(-math.log(u) * (1000.0 / rho) + 0.5)
        if t >= end_units:
            return out
        out.append(t)


def newton(y, count):
    """codel_Newton_step on the 16-bit rec_inv_sqrt."""
    inv = y << 16
    inv2 = (inv * inv) >> 32
    val = ((3 << 32) - count * inv2) & M64
    val >>= 2
    val = ((val * inv) & M64) >> 31
    return (val >> 16) & 0xFFFF


def link(arr_units, enqueue, dequeue, tx_units=1000):
    """latlab's event order on one link; times in units. Returns sorted sojourns (units)."""
    soj, i, n, busy, dep = [], 0, len(arr_units), None, None
    while i < n or busy is not None:
        if dep is not None and (i == n or dep <= arr_units[i]):
            now = dep
            soj.append(now - busy)
            busy = dep = None
        else:
            now = arr_units[i]
            enqueue(now)
            i += 1
        if busy is None:
            a = dequeue(now)
            if a is not None:
                busy, dep = a, now + tx_units
    soj.sort()
    return soj


def codel_kernel(arr, exact_at_reentry=False):
    target, interval, pkt, min_bytes = 4882, 97656, 1500, 1500
    st = dict(count=0, lastcount=0, dropping=False, rec=0xFFFF, fat=0, dnext=0, drops=0)
    q = collections.deque()

    def should_drop(p, now):
        if p is None:
            st["fat"] = 0
            return False
        if now - p < target or len(q) * pkt < min_bytes:
            st["fat"] = 0
            return False
        if st["fat"] == 0:
            st["fat"] = now + interval
            return False
        return now > st["fat"]

    def control_law(t):
        return t + ((interval * (st["rec"] << 16)) >> 32)

    def dequeue(now):
        if not q:
            st["dropping"] = False
            return None
        p = q.popleft()
        drop = should_drop(p, now)
        if st["dropping"]:
            if not drop:
                st["dropping"] = False
            elif now >= st["dnext"]:
                while st["dropping"] and now >= st["dnext"]:
                    st["count"] += 1
                    st["rec"] = newton(st["rec"], st["count"])
                    st["drops"] += 1
                    p = q.popleft() if q else None
                    if should_drop(p, now):
                        st["dnext"] = control_law(st["dnext"])
                    else:
                        st["dropping"] = False
        elif drop:
            st["drops"] += 1
            p = q.popleft() if q else None
            should_drop(p, now)
            st["dropping"] = True
            delta = st["count"] - st["lastcount"]
            if delta > 1 and now - st["dnext"] < 16 * interval:
                st["count"] = delta
                if exact_at_reentry:
                    st["rec"] = min(0xFFFF, int(65536 / math.sqrt(delta)))
                else:
                    st["rec"] = newton(st["rec"], delta)
            else:
                st["count"] = 1
                st["rec"] = 0xFFFF
            st["lastcount"] = st["count"]
            st["dnext"] = control_law(now)
        return p

    soj = link(arr, q.append, dequeue)
    return st["drops"], statistics.mean(soj) * UNIT * 1e3, soj[int(0.9 * len(soj))] * UNIT * 1e3


def pie(arr_units, seed, decay64=True, boost250=True, gate_current=True, burst_by_dequeue=True):
    """Linux sch_pie's rules in floating point (de-randomised, first update at t = 0); each
    flag switched off replaces one kernel rule by RFC 8033's."""
    rng = random.Random(seed)
    t_update, target, mtu, pkt = 0.015, 0.015, 1514, 1500
    s = dict(p=0.0, qd=0.0, qd_old=0.0, burst=0.150, accu=0.0, dq_ts=None, next=0.0, drops=0)
    q = collections.deque()

    def update():
        backlog = len(q) * pkt
        qdelay = s["qd"]
        update_prob = not (qdelay == 0 and backlog != 0)
        a, b = 0.125, 1.25
        if s["p"] < 0.1:
            a, b, power = a / 2, b / 2, 100
            while s["p"] < 1 / power and power <= 1e6:
                a, b, power = a / 4, b / 4, power * 10
        d = a * (qdelay - target) + b * (qdelay - s["qd_old"])
        if d > 0.02 and s["p"] >= 0.1:
            d = 0.02
        if boost250 and qdelay > 0.25:
            d += 0.02
        s["p"] = max(0.0, s["p"] + d)
        if not boost250:
            s["p"] = min(1.0, s["p"])
        if qdelay == 0 and s["qd_old"] == 0 and update_prob:
            s["p"] = s["p"] - s["p"] / 64 if decay64 else s["p"] * 0.98
        if not burst_by_dequeue:
            s["burst"] = max(0.0, s["burst"] - t_update)
        if qdelay < target / 2 and s["qd_old"] < target / 2 and s["p"] == 0:
            s["burst"], s["dq_ts"], s["accu"] = 0.150, None, 0.0
        s["qd_old"] = qdelay

    def advance(now):
        while s["next"] <= now:
            update()
            s["next"] += t_update

    def enqueue(now_u):
        now = now_u * UNIT
        advance(now)
        gate = s["qd"] if gate_current else s["qd_old"]
        drop = False
        if s["burst"] > 0 or (gate < target / 2 and s["p"] < 0.2) or len(q) * pkt < 2 * mtu:
            pass
        else:
            s["accu"] = 0.0 if s["p"] == 0 else s["accu"] + s["p"]
            if s["accu"] >= 8.5:
                drop = True
            elif s["accu"] >= 0.85 and rng.random() < s["p"]:
                drop = True
        if drop:
            s["drops"] += 1
            s["accu"] = 0.0
        else:
            q.append(now_u)

    def dequeue(now_u):
        now = now_u * UNIT
        advance(now)
        if not q:
            return None
        a = q.popleft()
        s["qd"] = 0.0 if not q else now - a * UNIT
        dtime = now - s["dq_ts"] if s["dq_ts"] is not None else 0.0
        s["dq_ts"] = now
        if burst_by_dequeue and dtime > 0:
            s["burst"] = max(0.0, s["burst"] - dtime)
        return a

    soj = link(arr_units, enqueue, dequeue)
    return s["drops"] / len(arr_units), statistics.mean(soj) * UNIT * 1e3, soj[len(soj) // 2] * UNIT * 1e3


def main():
    rho120 = arrivals(0x1A7AB002, 60 * SECOND_UNITS, [(60 * SECOND_UNITS, 1.2)])
    print("CoDel, rho120 (ns-3 MinBytes 1500):        drops  mean ms   p90 ms")
    for label, exact in [("kernel / ns-3", False), ("kernel, exact 1/sqrt at re-entry", True)]:
        d, m, p90 = codel_kernel(rho120, exact)
        print(f"  {label:40s} {d:6d} {m:8.2f} {p90:8.2f}")

    phases = arrivals(0x1A7AB003, 60 * SECOND_UNITS, [(SECOND_UNITS, 1.5), (2 * SECOND_UNITS, 0.5)])
    print("PIE, phases, de-randomised, 5 seeds:       drop %  mean ms   p50 ms")
    rows = [
        ("kernel rules", {}),
        ("  decay 2 % instead of p/64", dict(decay64=False)),
        ("  no +2 % above 250 ms", dict(boost250=False)),
        ("  gate on qdelay_old", dict(gate_current=False)),
        ("  burst counted per update", dict(burst_by_dequeue=False)),
        ("none of the four (RFC 8033 rules)",
         dict(decay64=False, boost250=False, gate_current=False, burst_by_dequeue=False)),
    ]
    for label, kw in rows:
        rs = [pie(phases, seed, **kw) for seed in range(5)]
        print(f"  {label:40s} {statistics.mean(r[0] for r in rs) * 100:6.3f} "
              f"{statistics.mean(r[1] for r in rs):8.2f} {statistics.mean(r[2] for r in rs):8.2f}")


if __name__ == "__main__":
    main()
