#!/usr/bin/env bash
# latlab's simulator against ns-3 on a CoDel and a PIE bottleneck: events per second of wall
# time. Also regenerates the checked-in ns-3 oracle output (--regenerate).
#
# The scenario, the same on both sides: one 100 Mb/s link, 1500-byte packets, Poisson arrivals
# at 110 % of the link's packet rate (9167/s), 60 s of virtual time; an event is an arrival or
# a departure (about 1.05 million per run).
#
#   ns-3:    scripts/oracles/build-ns3.sh, then
#            target/oracles/aqm_bottleneck --bench codel|pie
#            (ns-3's CoDelQueueDisc / PieQueueDisc with its defaults but a 1000-packet limit,
#            driven through QueueDisc::Enqueue/Dequeue by Simulator events; the median wall
#            time of Simulator::Run over 5 runs)
#   latlab:  cargo bench -p latlab-queueing --bench sim -- --exact engine/events/NAME
#            NAME = codel_linux, codel_rfc, pie_linux, pie_rfc (criterion, release profile,
#            queueing/benches/sim.rs: the same link, load, packet size and duration)
#
# The goal (issue "oracles and benchmarks"): latlab >= 20x ns-3. Prints a Markdown table with
# the date, the load average and the versions, for docs/QUEUEING-ORACLES.md: each tool's median
# over the rounds, and the ratio within each round (both tools measured minutes apart, so a
# neighbour's load that comes and goes moves the two together less than across rounds).
#
# Usage: scripts/bench/vs-ns3.sh [--rounds N] [--quick]
#        scripts/bench/vs-ns3.sh --regenerate
#   --regenerate: rebuild the ns-3 program and rewrite scripts/oracles/aqm_bottleneck.json
#                 (the oracle queueing/tests/oracles.rs checks latlab against; that test also
#                 fails when ns-3 is installed and the file is stale)
#   --quick:      1 round, criterion's --quick
set -euo pipefail

ROUNDS=3
QUICK=0
REGEN=0
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --quick) QUICK=1; ROUNDS=1; shift ;;
    --regenerate) REGEN=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "vs-ns3: unknown option $1" >&2; exit 2 ;;
  esac
done
cd "$ROOT"

BIN="$(scripts/oracles/build-ns3.sh)" || {
  echo "vs-ns3: cannot build the ns-3 program (apt-get install ns3 libns3-dev libgsl-dev g++)" >&2
  exit 3
}

if [ "$REGEN" = 1 ]; then
  # Keep this command in step with NS3_PIE_RUNS in queueing/tests/oracles.rs.
  "$BIN" --pie-runs 10 > scripts/oracles/aqm_bottleneck.json.tmp
  mv scripts/oracles/aqm_bottleneck.json.tmp scripts/oracles/aqm_bottleneck.json
  echo "wrote scripts/oracles/aqm_bottleneck.json ($BIN --pie-runs 10)" >&2
  exit 0
fi

echo "== building the criterion benchmark (release)" >&2
cargo bench -p latlab-queueing --bench sim --no-run >&2

# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"

crit_args=()
[ "$QUICK" = 1 ] && crit_args=(--quick)
results=()
for r in $(seq 1 "$ROUNDS"); do
  for aqm in codel pie; do
    n=$("$BIN" --bench "$aqm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_per_s"])')
    results+=("ns3-$aqm $n")
    for v in linux rfc; do
      l=$(cargo bench -q -p latlab-queueing --bench sim -- --exact "engine/events/${aqm}_$v" "${crit_args[@]}" 2>&1 | thrpt vs-ns3)
      results+=("latlab-${aqm}_$v $l")
      results+=("ratio-${aqm}_$v $(python3 -c "import sys; print(float(sys.argv[1]) / float(sys.argv[2]))" "$l" "$n")")
      python3 -c "import sys; n,l=map(float,sys.argv[1:]); print(f'round $r $aqm: ns-3 {n:,.0f} events/s  latlab ${aqm}_$v {l:,.0f} events/s ({l/n:,.1f}x)')" "$n" "$l" >&2
    done
  done
done

ns3ver="$(dpkg-query -W -f='${Version}' libns3-dev 2>/dev/null || echo unknown)"
python3 - "$ns3ver" "${results[@]}" <<'PY'
import collections, os, statistics, subprocess, sys, time
rates = collections.defaultdict(list)
for item in sys.argv[2:]:
    k, v = item.split()
    rates[k].append(float(v))
med = {k: statistics.median(v) for k, v in rates.items()}
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
load = " ".join(f"{x:.2f}" for x in os.getloadavg())
n = len(rates["ns3-codel"])
print(f"100 Mb/s, 1500 B, Poisson at 110 %, 60 s — {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs ({cpu}), "
      f"load average after the runs {load}; ns-3 {sys.argv[1]} (Debian), {rustc}; {n} round(s), medians:")
print()
print("| AQM | ns-3 events/s | latlab variant | latlab events/s | × ns-3 (medians) | × ns-3 per round: median [min, max] |")
print("|---|---:|---|---:|---:|---|")
for aqm in ("codel", "pie"):
    for v in ("linux", "rfc"):
        ns3 = med[f"ns3-{aqm}"]
        ours = med[f"latlab-{aqm}_{v}"]
        r = rates[f"ratio-{aqm}_{v}"]
        print(f"| {aqm} | {ns3:,.0f} | {aqm}_{v} | {ours:,.0f} | {ours / ns3:,.1f} | "
              f"{statistics.median(r):,.1f} [{min(r):,.1f}, {max(r):,.1f}] |")
PY
