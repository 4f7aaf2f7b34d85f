#!/usr/bin/env bash
# Open-loop capacity of each latlab datapath: the highest Poisson probe rate it holds with
# less than 0.1 % loss, and its round-trip latency at half that rate.
#
#   taskset -c S latlab reflect --bind IP:PORT --cpu S --datapath D [--iface IF]
#   taskset -c C latlab probe rtt -t IP:PORT --cpu C --rate R --duration T --datapath D --json
#
# A rate is held when the run loses less than 0.1 %, keeps 95 % of its schedule, and its
# median round trip stays under --max-p50 (default 100 µs). The last condition matters: the
# probe counts latency from each probe's intended send time, so when the offered rate exceeds
# what the path (or the probe itself) can serve, nothing is lost but the backlog grows for the
# whole run and the median grows with it, to milliseconds or seconds; a stable queue's median
# stays near the unloaded round trip (a few µs) even when preemption spikes its tail.
# The rate doubles from --start until a run is not held, then bisects between the last rate
# held and the first not held, --steps times.
# Paths: `loopback`, or `veth` (two namespaces made and removed with scripts/netns-lab.sh; root only;
# the only path where af-xdp runs). A run that loses is not an error: it is the answer.
#
# Usage: scripts/bench/max-rate.sh [--path loopback|veth] [--datapaths LIST] [--seconds S]
#            [--start RATE] [--steps N] [--max-p50 US] [--server-cpu N] [--client-cpu N]
#            [--latlab PATH]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LATLAB="$ROOT/target/release/latlab"
NET=loopback
DATAPATHS="kernel,io-uring"
SECS=2
START=20000
STEPS=4
MAX_P50=100
SERVER_CPU=0
CLIENT_CPU=1

while [ $# -gt 0 ]; do
    case "$1" in
        --path) NET="$2"; shift ;;
        --datapaths) DATAPATHS="$2"; shift ;;
        --seconds) SECS="$2"; shift ;;
        --start) START="$2"; shift ;;
        --steps) STEPS="$2"; shift ;;
        --max-p50) MAX_P50="$2"; shift ;;
        --server-cpu) SERVER_CPU="$2"; shift ;;
        --client-cpu) CLIENT_CPU="$2"; shift ;;
        --latlab) LATLAB="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "max-rate: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "max-rate: $*" >&2; exit 1; }
for n in "$SECS" "$START" "$STEPS" "$MAX_P50" "$SERVER_CPU" "$CLIENT_CPU"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
[ -x "$LATLAB" ] || die "$LATLAB not found: run 'cargo build --release' first or pass --latlab"
command -v python3 >/dev/null || die "python3 not found"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/max-rate.XXXXXX")"
LAB="latlab-mr-$$"
IF=veth0
SERVER_PID=""
cleanup() {
    local rc=$?
    [ -z "$SERVER_PID" ] || { kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
    [ "$NET" != veth ] || "$ROOT/scripts/netns-lab.sh" down "$LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$NET" in
    loopback) IP=127.0.0.1; SNS=(); CNS=() ;;
    veth)
        [ "$(id -u)" = 0 ] || die "veth needs root (network namespaces)"
        # Two namespaces joined by veth (one queue, offload off, static neighbours).
        eval "$("$ROOT/scripts/netns-lab.sh" up "$LAB" 79)"
        IP=$ADDR_A; SNS=(ip netns exec "$NS_A"); CNS=(ip netns exec "$NS_B")
        ;;
    *) die "unknown path '$NET' (loopback, veth)" ;;
esac

PORT=18700
# run DP RATE: one open-loop run; prints "loss_pct p50_us p99_us achieved_hz" or nothing.
run() {
    local dp="$1" rate="$2" sif=() cif=()
    if [ "$dp" = af-xdp ]; then sif=(--iface "$IF"); cif=(--iface "$IF"); fi
    PORT=$((PORT + 1))
    "${SNS[@]}" taskset -c "$SERVER_CPU" "$LATLAB" reflect --bind "$IP:$PORT" --cpu "$SERVER_CPU" \
        --datapath "$dp" "${sif[@]}" --duration "$((SECS + 20))s" >"$WORK/server" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 50); do grep -q "Ctrl-C to stop" "$WORK/server" && break; sleep 0.1; done
    "${CNS[@]}" taskset -c "$CLIENT_CPU" "$LATLAB" probe rtt -t "$IP:$PORT" --cpu "$CLIENT_CPU" \
        --datapath "$dp" "${cif[@]}" --rate "$rate" --duration "${SECS}s" --warmup 2000 \
        --timeout 200ms --out "$WORK/runs" --json >"$WORK/client" 2>"$WORK/client.err" || true
    kill -INT "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    python3 - "$WORK/client" <<'EOF' 2>/dev/null || true
import json, sys
p = json.load(open(sys.argv[1]))["probe"]
loss = 100.0 * p["lost"] / max(p["sent"], 1)
print("%.4f %.2f %.2f %.0f" % (loss, p["rtt"]["p50"] / 1e3, p["rtt"]["p99"] / 1e3, p["achieved_rate_hz"]))
EOF
}

# held RESULT RATE: under 0.1 % lost, at least 95 % of the schedule kept, median under MAX_P50.
held() {
    [ -n "$1" ] || return 1
    python3 -c "import sys; l,p50,_,a=map(float,sys.argv[1].split()); sys.exit(0 if l < 0.1 and a >= 0.95*float(sys.argv[2]) and p50 <= float(sys.argv[3]) else 1)" "$1" "$2" "$MAX_P50"
}

echo "max-rate: $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -r), $(nproc) CPUs, path $NET, ${SECS} s per run;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%-10s %12s %12s %10s %10s\n' datapath max_rate_hz at_half_hz p50_us p99_us
IFS=, read -r -a DPS <<<"$DATAPATHS"
for dp in "${DPS[@]}"; do
    good=0; bad=0; rate=$START
    while [ "$rate" -le 4000000 ]; do
        r=$(run "$dp" "$rate")
        echo "max-rate: $dp $rate/s -> ${r:-failed} (loss % p50 p99 achieved)" >&2
        if held "$r" "$rate"; then good=$rate; rate=$((rate * 2)); else bad=$rate; break; fi
    done
    if [ "$good" = 0 ]; then
        printf '%-10s %12s\n' "$dp" "below $START"
        continue
    fi
    for _ in $(seq 1 "$STEPS"); do
        [ "$bad" -gt 0 ] || break
        mid=$(((good + bad) / 2))
        r=$(run "$dp" "$mid")
        echo "max-rate: $dp $mid/s -> ${r:-failed}" >&2
        if held "$r" "$mid"; then good=$mid; else bad=$mid; fi
    done
    half=$((good / 2))
    r=$(run "$dp" "$half")
    read -r _ p50 p99 _ <<<"${r:-x - - -}"
    printf '%-10s %12s %12s %10s %10s\n' "$dp" "$good" "$half" "$p50" "$p99"
done
