#!/usr/bin/env bash
# latlab's simulator against ciw (https://github.com/CiwPython/Ciw) on M/M/1 FIFO (lambda 0.8,
# mu 1): customers simulated per second of wall time.
#
#   ciw:     python3 scripts/oracles/ciw_mmc.py --bench --lambda 0.8 --mu 1 --customers N
#            (one ciw.Simulation run for N/lambda time units; customers = records of those who
#            finished; wall time of simulate_until_max_time only, not the import or set-up)
#   latlab:  cargo bench -p latlab-queueing --bench sim -- --exact lindley/mm1_customers
#            cargo bench -p latlab-queueing --bench sim -- --exact engine/events/mm1
#            (criterion, release profile; M/M/1 at rho 0.8, 2 000 000 customers through
#            Lindley's recursion, the engine latlab picks for it, and 1 000 000 through the
#            general event engine, whose events/s is halved to customers/s: an arrival and a
#            departure per customer). Both include the full report: sojourn histogram, batch
#            means, queue samples.
#
# The goal (issue "oracles and benchmarks"): latlab >= 1000x ciw. The script prints the ratio
# per round and their median, with the date, the load average and the versions, as a Markdown
# table ready for docs/QUEUEING-ORACLES.md.
#
# Usage: scripts/bench/vs-ciw.sh [--rounds N] [--customers N] [--quick]
#   --quick: 1 round, 50 000 ciw customers, criterion's --quick (a smoke test)
set -euo pipefail

ROUNDS=3
CUSTOMERS=200000
QUICK=0
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --customers) CUSTOMERS="$2"; shift 2 ;;
    --quick) QUICK=1; ROUNDS=1; CUSTOMERS=50000; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "vs-ciw: unknown option $1" >&2; exit 2 ;;
  esac
done

command -v python3 >/dev/null || { echo "vs-ciw: python3 is needed" >&2; exit 3; }
python3 -c 'import ciw' 2>/dev/null || { echo "vs-ciw: ciw is not installed (pip install ciw)" >&2; exit 3; }

cd "$ROOT"
echo "== building the criterion benchmark (release)" >&2
cargo bench -p latlab-queueing --bench sim --no-run >&2

# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"

crit_args=()
[ "$QUICK" = 1 ] && crit_args=(--quick)
declare -a ciw_rates lind_rates ev_rates
for r in $(seq 1 "$ROUNDS"); do
  c=$(python3 scripts/oracles/ciw_mmc.py --bench --lambda 0.8 --mu 1 --customers "$CUSTOMERS" --first-seed "$r" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["customers_per_s"])')
  l=$(cargo bench -q -p latlab-queueing --bench sim -- --exact lindley/mm1_customers "${crit_args[@]}" 2>&1 | thrpt vs-ciw)
  e=$(cargo bench -q -p latlab-queueing --bench sim -- --exact engine/events/mm1 "${crit_args[@]}" 2>&1 | thrpt vs-ciw)
  ciw_rates+=("$c"); lind_rates+=("$l"); ev_rates+=("$e")
  python3 -c "import sys; c,l,e=map(float,sys.argv[1:]); print(f'round $r: ciw {c:,.0f}/s  latlab lindley {l:,.0f}/s ({l/c:,.0f}x)  latlab event engine {e/2:,.0f}/s ({e/2/c:,.0f}x)')" "$c" "$l" "$e" >&2
done

python3 - "$CUSTOMERS" "${ciw_rates[*]}" "${lind_rates[*]}" "${ev_rates[*]}" <<'PY'
import os, platform, statistics, subprocess, sys, time
import ciw
n = sys.argv[1]
c = [float(x) for x in sys.argv[2].split()]
l = [float(x) for x in sys.argv[3].split()]
e = [float(x) / 2 for x in sys.argv[4].split()]
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
med = statistics.median
print(f"M/M/1 FIFO, lambda 0.8, mu 1 — {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs ({cpu}), "
      f"load average after the runs {load}; ciw {ciw.__version__} on Python {platform.python_version()}, {rustc}; "
      f"{len(c)} round(s), medians:")
print()
rl = [x / y for x, y in zip(l, c)]
re_ = [x / y for x, y in zip(e, c)]
print("| simulator | customers/s | × ciw (medians) | × ciw per round: median [min, max] |")
print("|---|---:|---:|---|")
print(f"| ciw ({n} customers per run) | {med(c):,.0f} | 1 | |")
print(f"| latlab, Lindley's recursion (what `simulate` picks for M/M/1) | {med(l):,.0f} | {med(l) / med(c):,.0f} | {med(rl):,.0f} [{min(rl):,.0f}, {max(rl):,.0f}] |")
print(f"| latlab, general event engine (events/s ÷ 2) | {med(e):,.0f} | {med(e) / med(c):,.0f} | {med(re_):,.0f} [{min(re_):,.0f}, {max(re_):,.0f}] |")
PY
