#!/usr/bin/env python3
"""M/M/c in ciw, the independent simulator latlab's queueing tests compare against.

Runs `--reps` independent replications of an M/M/c queue (Poisson arrivals at `--lambda`,
exponential service at rate `--mu`, `--servers` servers, unlimited FIFO) with ciw, each for
`--time` time units, seeded 1, 2, ..., and prints one JSON object:

  mean_wait, ci_low, ci_high, half_width   the mean wait in queue (before service) over the
                                           replications, with a t-interval at `--confidence`
  p_wait, p_wait_ci_low, p_wait_ci_high    the fraction of customers who waited, likewise
  per_rep                                  each replication's mean wait, fraction waited, count
  customers                                customers counted over all replications
  customers_per_s                          customers simulated per second of wall time
  ciw_version, python_version

Each replication counts the customers who arrive in [warmup, time - cooldown): the first
`--warmup` time units are left out to shed the empty start, and the last `--cooldown` so that
every counted customer has finished service when the run stops (ciw records a customer only
when it leaves). The replications are independent, so the t-interval over their means is
valid without batching.

Usage:
  ciw_mmc.py --servers 3 --lambda 2.4 --mu 1 --reps 10 --time 10000 --warmup 500
  ciw_mmc.py --bench --lambda 0.8 --mu 1 --customers 200000     throughput only
"""

import argparse
import json
import math
import platform
import sys
import time

try:
    import ciw
except ImportError:  # pragma: no cover - reported to the caller
    print("ciw_mmc.py: the ciw package is not installed (pip install ciw)", file=sys.stderr)
    sys.exit(3)


def student_t_quantile(p, dof):
    """Student's t quantile by bisection on the regularised incomplete beta function.

    Plain Python, so the script needs nothing beyond ciw (no scipy).
    """

    def betacf(a, b, x):
        # Continued fraction for the incomplete beta function (Numerical Recipes, Lentz).
        tiny = 1e-300
        qab, qap, qam = a + b, a + 1.0, a - 1.0
        c, d = 1.0, 1.0 - qab * x / qap
        d = 1.0 / (d if abs(d) > tiny else tiny)
        h = d
        for m in range(1, 300):
            m2 = 2 * m
            aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            de = d * c
            h *= de
            if abs(de - 1.0) < 1e-15:
                break
        return h

    def reg_inc_beta(a, b, x):
        if x <= 0.0:
            return 0.0
        if x >= 1.0:
            return 1.0
        lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
        if x < (a + 1.0) / (a + b + 2.0):
            return front * betacf(a, b, x) / a
        return 1.0 - front * betacf(b, a, 1.0 - x) / b

    def cdf(t):
        x = dof / (dof + t * t)
        tail = 0.5 * reg_inc_beta(dof / 2.0, 0.5, x)
        return 1.0 - tail if t >= 0 else tail

    lo, hi = 0.0, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def t_interval(values, confidence):
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = student_t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1) * math.sqrt(var / n)
    return mean, half


def network(lam, mu, servers):
    return ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[servers],
    )


def replication(lam, mu, servers, horizon, warmup, cooldown, seed):
    ciw.seed(seed)
    sim = ciw.Simulation(network(lam, mu, servers))
    sim.simulate_until_max_time(horizon)
    waits = [
        r.waiting_time
        for r in sim.get_all_records()
        if r.record_type == "service" and warmup <= r.arrival_date < horizon - cooldown
    ]
    return waits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--lambda", dest="lam", type=float, required=True)
    ap.add_argument("--mu", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--time", type=float, default=10000.0, help="length of each replication")
    ap.add_argument("--warmup", type=float, default=500.0)
    ap.add_argument("--cooldown", type=float, default=None, help="default: warmup")
    ap.add_argument("--confidence", type=float, default=0.99)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--bench", action="store_true", help="time one run of --customers")
    ap.add_argument("--customers", type=int, default=200000)
    a = ap.parse_args()
    cooldown = a.warmup if a.cooldown is None else a.cooldown
    if a.lam >= a.servers * a.mu:
        ap.error("unstable: lambda must be below servers * mu")

    if a.bench:
        # Simulate about `customers` arrivals; customers/s counts those who finished.
        ciw.seed(a.first_seed)
        sim = ciw.Simulation(network(a.lam, a.mu, a.servers))
        horizon = a.customers / a.lam
        t0 = time.perf_counter()
        sim.simulate_until_max_time(horizon)
        wall = time.perf_counter() - t0
        done = len(sim.get_all_records())
        print(json.dumps({
            "tool": "ciw", "ciw_version": ciw.__version__,
            "python_version": platform.python_version(),
            "lambda": a.lam, "mu": a.mu, "servers": a.servers,
            "customers": done, "wall_s": wall, "customers_per_s": done / wall,
        }))
        return

    per_rep = []
    t0 = time.perf_counter()
    for i in range(a.reps):
        waits = replication(a.lam, a.mu, a.servers, a.time, a.warmup, cooldown, a.first_seed + i)
        n = len(waits)
        per_rep.append({
            "seed": a.first_seed + i,
            "customers": n,
            "mean_wait": sum(waits) / n,
            "p_wait": sum(1 for w in waits if w > 0.0) / n,
        })
    wall = time.perf_counter() - t0
    mean, half = t_interval([r["mean_wait"] for r in per_rep], a.confidence)
    pw, pw_half = t_interval([r["p_wait"] for r in per_rep], a.confidence)
    customers = sum(r["customers"] for r in per_rep)
    print(json.dumps({
        "tool": "ciw", "ciw_version": ciw.__version__,
        "python_version": platform.python_version(),
        "lambda": a.lam, "mu": a.mu, "servers": a.servers,
        "reps": a.reps, "time": a.time, "warmup": a.warmup, "cooldown": cooldown,
        "confidence": a.confidence,
        "mean_wait": mean, "half_width": half, "ci_low": mean - half, "ci_high": mean + half,
        "p_wait": pw, "p_wait_ci_low": pw - pw_half, "p_wait_ci_high": pw + pw_half,
        "customers": customers, "wall_s": wall, "customers_per_s": customers / wall,
        "per_rep": per_rep,
    }, indent=1))


if __name__ == "__main__":
    main()
