#!/usr/bin/env bash
# latlab's round-trip time against sockperf's, on the same path, with the same message, pinned
# the same way, both spinning, alternating rounds so that drift and neighbours hit both tools.
#
#   sockperf:  taskset -c S sockperf sr -i IP -p PORT [--tcp] --nonblocked
#              taskset -c C sockperf pp -i IP -p PORT [--tcp] --nonblocked -m 44 -t SECONDS --full-rtt
#   latlab:    taskset -c S latlab reflect --bind IP:PORT --proto P --cpu S
#              taskset -c C latlab probe rtt -t IP:PORT --proto P --cpu C --duration SECONDS --json
#
# Datapaths (--datapaths): latlab's `kernel` path (the tool named `latlab` in the table),
# `io-uring` (`latlab/io-uring`: both probe and reflector through io_uring) and `af-xdp`
# (`latlab/af-xdp`: both through AF_XDP sockets on the veth ends; veth and UDP only). sockperf
# always uses the kernel's sockets; every latlab datapath is compared with it.
#
# Paths: `loopback` (127.0.0.1) and `veth` (two network namespaces this script creates, joined
# by a veth pair with scripts/netns-lab.sh, 10.77.78.1 <-> 10.77.78.2, TX checksum offload off,
# static neighbour entries;
# removed on exit). veth needs root; without it only loopback runs.
#
# sockperf reports RTT/2 unless given --full-rtt; this script asks for the full round trip
# and, should a sockperf ignore that, doubles what it prints as "latency". latlab reports the
# full round trip. The table shows, per path and protocol, each tool's median over the rounds
# of p50, p99 and p99.9, and latlab/sockperf for each (below 1.0: latlab measured less).
#
# Before each run the script waits (up to --quiet-wait seconds) until the CPUs are idle, and
# after it reports how long each side's spinning thread sat runnable but not running (its
# run-queue wait, from /proc/PID/task/*/schedstat): a spinner that waited was preempted, by
# kernel work, the tool's own other threads, or a neighbour, and its tail shows it.
#
# Usage: scripts/bench/vs-sockperf.sh [--quick] [--rounds N] [--seconds S] [--paths LIST]
#            [--protos LIST] [--datapaths LIST] [--size BYTES] [--server-cpu N] [--client-cpu N]
#            [--latlab PATH] [--quiet-wait S] [--max-rq-wait PCT] [--csv FILE] [--keep]
#        scripts/bench/vs-sockperf.sh --table FILE [--seconds S] [--max-rq-wait PCT]
set -euo pipefail

ROUNDS=5
SECONDS_PER_RUN=5
PATHS="loopback,veth"
PROTOS="udp,tcp"
DATAPATHS="kernel"
SIZE=44
SERVER_CPU=0
CLIENT_CPU=1
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LATLAB="$ROOT/target/release/latlab"
CSV=""
KEEP=0
QUIET_WAIT=60
QUIET_BUSY=10
MAX_RQ_WAIT=10
TABLE=""

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    cat <<EOF
Options:
  --quick           2 rounds of 2 s (a smoke test, not a measurement)
  --rounds N        alternations of the two tools (default $ROUNDS)
  --seconds S       length of each run (default $SECONDS_PER_RUN)
  --paths LIST      comma-separated: loopback, veth (default $PATHS)
  --protos LIST     comma-separated: udp, tcp (default $PROTOS)
  --datapaths LIST  latlab's datapaths, comma-separated: kernel, io-uring, af-xdp
                    (default $DATAPATHS; af-xdp runs on veth with UDP only)
  --size BYTES      message size, at least 44 (default $SIZE)
  --server-cpu N    CPU of the server / reflector (default $SERVER_CPU)
  --client-cpu N    CPU of the client / probe (default $CLIENT_CPU)
  --latlab PATH     latlab binary (default target/release/latlab; build it with
                    cargo build --release)
  --quiet-wait S    before each run, wait up to S s for the CPUs to be at most $QUIET_BUSY % busy
                    (default $QUIET_WAIT; 0: do not wait)
  --max-rq-wait PCT leave out of the medians any run whose server or client spinner waited for
                    its CPU more than PCT % of the run (default $MAX_RQ_WAIT; such runs are
                    still printed, and the table's n says how many rounds were kept)
  --table FILE      only print the table of a CSV written by --csv (with --seconds and
                    --max-rq-wait as they were), and exit
  --csv FILE        also write every round's percentiles (µs) to FILE
  --keep            keep the raw outputs (printed at the end) instead of deleting them
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) ROUNDS=2; SECONDS_PER_RUN=2 ;;
        --rounds) ROUNDS="$2"; shift ;;
        --seconds) SECONDS_PER_RUN="$2"; shift ;;
        --paths) PATHS="$2"; shift ;;
        --protos) PROTOS="$2"; shift ;;
        --datapaths) DATAPATHS="$2"; shift ;;
        --size) SIZE="$2"; shift ;;
        --server-cpu) SERVER_CPU="$2"; shift ;;
        --client-cpu) CLIENT_CPU="$2"; shift ;;
        --latlab) LATLAB="$2"; shift ;;
        --csv) CSV="$2"; shift ;;
        --quiet-wait) QUIET_WAIT="$2"; shift ;;
        --max-rq-wait) MAX_RQ_WAIT="$2"; shift ;;
        --table) TABLE="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "vs-sockperf: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

die() { echo "vs-sockperf: $*" >&2; exit 1; }

# print_table CSV: per path, protocol and tool, the median over the kept rounds.
print_table() {
    python3 - "$1" "$SECONDS_PER_RUN" "$MAX_RQ_WAIT" <<'EOF'
import csv, statistics, sys
path_csv, seconds, max_pct = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
limit_ms = seconds * 1000 * max_pct / 100
keys = ["p50_us", "p99_us", "p99.9_us", "server_rq_wait_ms", "client_rq_wait_ms"]
runs, kept = {}, {}
for r in csv.DictReader(open(path_csv)):
    g = (r["path"], r["proto"], r["tool"])
    v = [float(r[k]) for k in keys]
    runs.setdefault(g, []).append(v)
    if max(v[3], v[4]) <= limit_ms:
        kept.setdefault(g, []).append(v)
med = {g: [statistics.median(x[i] for x in vals) for i in range(5)] for g, vals in kept.items()}
print("RTT in µs: median over the rounds kept (n = kept/run; a run is left out when a spinner")
print(f"waited for its CPU more than {max_pct:g} % of its {seconds:g} s, i.e. {limit_ms:.0f} ms);")
print("rq-wait: median ms the server / client spinner waited; ratio = latlab / sockperf")
print(f"{'path':<9}{'proto':<6}{'tool':<16}{'n':>5}{'p50':>9}{'p99':>9}{'p99.9':>10}"
      f"{'rq-wait ms':>15}{'p50 ratio':>11}{'p99 ratio':>11}{'p99.9 ratio':>13}")
seen = []
for (path, proto, _) in runs:
    if (path, proto) not in seen:
        seen.append((path, proto))
tools = ["sockperf"] + sorted({t for (_, _, t) in runs if t != "sockperf"})
for path, proto in seen:
    for tool in tools:
        g = (path, proto, tool)
        if g not in runs:
            continue
        n = f"{len(kept.get(g, []))}/{len(runs[g])}"
        if g not in med:
            print(f"{path:<9}{proto:<6}{tool:<16}{n:>5}   (every run disturbed)")
            continue
        m = med[g]
        line = f"{path:<9}{proto:<6}{tool:<16}{n:>5}{m[0]:>9.2f}{m[1]:>9.2f}{m[2]:>10.2f}"
        line += f"{m[3]:>8.0f} /{m[4]:>5.0f}"
        other = (path, proto, "sockperf")
        if tool.startswith("latlab") and other in med:
            line += "".join(f"{a / b:>{w}.2f}" for a, b, w in zip(m[:3], med[other][:3], (11, 11, 13)))
        print(line)
EOF
}
for n in "$ROUNDS" "$SECONDS_PER_RUN" "$SIZE" "$SERVER_CPU" "$CLIENT_CPU" "$QUIET_WAIT" \
    "$MAX_RQ_WAIT"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
if [ -n "$TABLE" ]; then
    command -v python3 >/dev/null || die "python3 not found (it computes the medians)"
    [ -r "$TABLE" ] || die "cannot read $TABLE"
    print_table "$TABLE"
    exit 0
fi
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 100 ] || die "--rounds must be 1..100"
[ "$SECONDS_PER_RUN" -ge 1 ] && [ "$SECONDS_PER_RUN" -le 600 ] || die "--seconds must be 1..600"
[ "$SIZE" -ge 44 ] || die "--size must be at least 44 (a STAMP packet)"
command -v sockperf >/dev/null || die "sockperf not found (apt-get install sockperf)"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
command -v python3 >/dev/null || die "python3 not found (it computes the medians)"
command -v ss >/dev/null || die "ss not found (iproute2)"
[ -x "$LATLAB" ] || die "$LATLAB not found: run 'cargo build --release' first or pass --latlab"
NCPU=$(nproc)
[ "$SERVER_CPU" -lt "$NCPU" ] && [ "$CLIENT_CPU" -lt "$NCPU" ] ||
    die "CPUs $SERVER_CPU and $CLIENT_CPU: this machine has $NCPU"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vs-sockperf.XXXXXX")"
LAB="latlab-vs-$$"
NS_A="$LAB-a"
NS_B="$LAB-b"
ADDR_A=""
NETNS_MADE=0
SERVER_PID=""
CLIENT_PID=""

cleanup() {
    local rc=$? pid
    for pid in "$CLIENT_PID" "$SERVER_PID"; do
        [ -n "$pid" ] || continue
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$NETNS_MADE" = 1 ]; then
        "$ROOT/scripts/netns-lab.sh" down "$LAB" >/dev/null 2>&1 || true
    fi
    if [ "$KEEP" = 1 ]; then
        echo "raw outputs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_veth() {
    NETNS_MADE=1
    # Two namespaces joined by veth (veth0 at each end: one queue, TX checksum offload off,
    # static neighbour entries); sets NS_A, NS_B, ADDR_A, ADDR_B.
    eval "$("$ROOT/scripts/netns-lab.sh" up "$LAB" 78)"
}

# Per path: the namespace of each side (empty: this one) and the server's address.
path_server_ns() { [ "$1" = veth ] && echo "$NS_A" || true; }
path_client_ns() { [ "$1" = veth ] && echo "$NS_B" || true; }
path_ip() { [ "$1" = veth ] && echo "$ADDR_A" || echo 127.0.0.1; }

# in_ns NS CMD...: runs CMD in namespace NS, or here when NS is empty.
in_ns() {
    local ns="$1"; shift
    if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# start_bg NS OUT ERR CMD...: starts CMD in the background in namespace NS; sets BG_PID.
# The subshell execs (as do `ip netns exec` and taskset), so BG_PID is the tool itself: a
# signal sent to it reaches the tool, and its /proc entry shows the tool's threads.
start_bg() {
    local ns="$1" out="$2" err="$3"; shift 3
    (
        if [ -n "$ns" ]; then exec ip netns exec "$ns" "$@"; fi
        exec "$@"
    ) >"$out" 2>"$err" &
    BG_PID=$!
}

# cpu_busy_pct: how busy all CPUs together were over half a second, in percent.
cpu_busy_pct() {
    local a b
    a=$(head -1 /proc/stat)
    sleep 0.5
    b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x); split(b, y); t = 0
        for (i = 2; i <= 9; i++) t += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%d\n", (t > 0 ? 100 * (t - idle) / t : 0)
    }'
}

# wait_quiet: until the CPUs are at most QUIET_BUSY % busy, for at most QUIET_WAIT seconds.
wait_quiet() {
    [ "$QUIET_WAIT" -gt 0 ] || return 0
    local deadline=$((SECONDS + QUIET_WAIT)) busy
    while :; do
        busy=$(cpu_busy_pct)
        [ "$busy" -gt "$QUIET_BUSY" ] || return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "vs-sockperf: CPUs still ${busy}% busy after ${QUIET_WAIT} s; measuring anyway" >&2
            return 0
        fi
        sleep 1
    done
}

# spinner_wait_ns PID: run-queue wait (ns) of PID's busiest thread, its spinner; 0 if gone.
spinner_wait_ns() {
    local run wait best_run=0 best_wait=0 f
    for f in /proc/"$1"/task/*/schedstat; do
        read -r run wait _ <"$f" 2>/dev/null || continue
        if [ "$run" -gt "$best_run" ]; then best_run=$run; best_wait=$wait; fi
    done
    echo "$best_wait"
}

# wait_listening NS PROTO PORT: until something listens there (at most 5 s).
wait_listening() {
    local ns="$1" proto="$2" port="$3" flag i
    [ "$proto" = tcp ] && flag=-Hltn || flag=-Hlun
    for i in $(seq 1 50); do
        if in_ns "$ns" ss $flag "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
        sleep 0.1
    done
    return 1
}

# stop_server: Ctrl-C to the server (both print their counters), SIGKILL after 3 s.
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -INT "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 30); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -KILL "$SERVER_PID" 2>/dev/null; then
        echo "vs-sockperf: server $SERVER_PID ignored SIGINT for 3 s; killed" >&2
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# Prints "p50 p99 p99.9" in µs of a sockperf client's output, or nothing.
parse_sockperf() {
    awk '
        /Summary: Round trip is/ { factor = 1 }
        /Summary: Latency is/ { factor = 2 }
        /percentile 50\.000 =/ { p50 = $NF }
        /percentile 99\.000 =/ { p99 = $NF }
        /percentile 99\.900 =/ { p999 = $NF }
        END {
            if (factor && p50 != "" && p99 != "" && p999 != "")
                printf "%.3f %.3f %.3f\n", p50 * factor, p99 * factor, p999 * factor
        }' "$1"
}

# Prints "p50 p99 p99.9" in µs of `latlab probe rtt --json` output, or nothing.
parse_latlab() {
    python3 - "$1" <<'EOF' 2>/dev/null || true
import json, sys
r = json.load(open(sys.argv[1]))["probe"]["rtt"]
print("%.3f %.3f %.3f" % (r["p50"] / 1e3, r["p99"] / 1e3, r["p99.9"] / 1e3))
EOF
}

PORT=18600
# run_one PATH PROTO TOOL ROUND: one server, one client run; appends a line to results.
run_one() {
    local path="$1" proto="$2" tool="$3" round="$4"
    local sns cns ip out tcp_flag="" res dp sdp up
    local -a sif cif
    sns=$(path_server_ns "$path")
    cns=$(path_client_ns "$path")
    ip=$(path_ip "$path")
    PORT=$((PORT + 1))
    out="$WORK/$path-$proto-${tool//\//_}-$round"
    [ "$proto" = tcp ] && tcp_flag=--tcp
    dp=kernel
    case "$tool" in latlab/*) dp=${tool#latlab/} ;; esac
    # io_uring drives the TCP probe; the TCP echo reflector is the kernel's.
    sdp=$dp
    [ "$dp" = io-uring ] && [ "$proto" = tcp ] && sdp=kernel
    if [ "$dp" = af-xdp ]; then
        # The reflector binds the server's veth end, the probe the client's.
        sif=(--iface veth0)
        cif=(--iface veth0)
    else
        sif=()
        cif=()
    fi
    case "$tool" in
        sockperf)
            start_bg "$sns" "$out.server" "$out.server" taskset -c "$SERVER_CPU" \
                sockperf sr -i "$ip" -p "$PORT" $tcp_flag --nonblocked
            ;;
        latlab*)
            start_bg "$sns" "$out.server" "$out.server" taskset -c "$SERVER_CPU" \
                "$LATLAB" reflect --bind "$ip:$PORT" --proto "$proto" --cpu "$SERVER_CPU" \
                --datapath "$sdp" "${sif[@]}"
            ;;
    esac
    SERVER_PID=$BG_PID
    if [ "$tool" = sockperf ]; then
        wait_listening "$sns" "$proto" "$PORT" && up=1 || up=0
    else
        # latlab reflect announces itself on stderr once it serves (an AF_XDP reflector has
        # no kernel socket for ss to see).
        up=0
        for _ in $(seq 1 50); do
            if grep -q "Ctrl-C to stop" "$out.server" 2>/dev/null; then up=1; break; fi
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if [ "$up" != 1 ]; then
        stop_server
        echo "vs-sockperf: $tool server did not start on $ip:$PORT ($path $proto):" >&2
        tail -5 "$out.server" >&2
        return 0
    fi
    local srv_wait0 srv_wait1 cli_wait=0 w deadline=$((SECONDS + SECONDS_PER_RUN + 30))
    srv_wait0=$(spinner_wait_ns "$SERVER_PID")
    case "$tool" in
        sockperf)
            start_bg "$cns" "$out.client" "$out.client" taskset -c "$CLIENT_CPU" \
                sockperf pp -i "$ip" -p "$PORT" $tcp_flag --nonblocked -m "$SIZE" \
                -t "$SECONDS_PER_RUN" --full-rtt
            ;;
        latlab*)
            start_bg "$cns" "$out.client" "$out.client.err" taskset -c "$CLIENT_CPU" \
                "$LATLAB" probe rtt -t "$ip:$PORT" --proto "$proto" --cpu "$CLIENT_CPU" \
                --size "$SIZE" --duration "${SECONDS_PER_RUN}s" --out "$WORK/runs" --json \
                --datapath "$dp" "${cif[@]}"
            ;;
    esac
    CLIENT_PID=$BG_PID
    # Sample the client's spinner until it exits (the last sample is at most 0.2 s old).
    while kill -0 "$CLIENT_PID" 2>/dev/null; do
        w=$(spinner_wait_ns "$CLIENT_PID")
        [ "$w" = 0 ] || cli_wait=$w
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "vs-sockperf: $tool client overran its run by 30 s; killed" >&2
            kill -KILL "$CLIENT_PID" 2>/dev/null || true
        fi
        sleep 0.2
    done
    wait "$CLIENT_PID" 2>/dev/null || true
    CLIENT_PID=""
    srv_wait1=$(spinner_wait_ns "$SERVER_PID")
    stop_server
    case "$tool" in
        sockperf) res=$(parse_sockperf "$out.client") ;;
        latlab*) res=$(parse_latlab "$out.client") ;;
    esac
    if [ -z "$res" ]; then
        echo "vs-sockperf: $tool client failed ($path $proto round $round):" >&2
        tail -5 "$out.client" "$out.client.err" 2>/dev/null >&2 || true
        return 0
    fi
    local srv_ms cli_ms
    srv_ms=$(awk -v a="$srv_wait0" -v b="$srv_wait1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
    cli_ms=$(awk -v a="$cli_wait" 'BEGIN { printf "%.2f", a / 1e6 }')
    printf '%-8s %-3s %-8s round %d  p50 %8s  p99 %8s  p99.9 %9s µs  rq-wait server %s ms client %s ms\n' \
        "$path" "$proto" "$tool" "$round" $res "$srv_ms" "$cli_ms" >&2
    echo "$path,$proto,$tool,$round,${res// /,},$srv_ms,$cli_ms" >>"$WORK/results.csv"
}

IFS=, read -r -a PATH_LIST <<<"$PATHS"
IFS=, read -r -a PROTO_LIST <<<"$PROTOS"
for p in "${PATH_LIST[@]}"; do
    case "$p" in
        loopback) ;;
        veth)
            if [ "$(id -u)" != 0 ]; then
                echo "vs-sockperf: veth needs root (network namespaces); skipping it" >&2
                continue
            fi
            command -v ip >/dev/null || die "ip not found (iproute2)"
            [ "$NETNS_MADE" = 1 ] || setup_veth
            ;;
        *) die "unknown path '$p' (loopback, veth)" ;;
    esac
done
for p in "${PROTO_LIST[@]}"; do
    case "$p" in udp|tcp) ;; *) die "unknown protocol '$p' (udp, tcp)" ;; esac
done
IFS=, read -r -a DP_LIST <<<"$DATAPATHS"
LATLAB_TOOLS=""
for d in "${DP_LIST[@]}"; do
    case "$d" in
        kernel) LATLAB_TOOLS="$LATLAB_TOOLS latlab" ;;
        io-uring|af-xdp) LATLAB_TOOLS="$LATLAB_TOOLS latlab/$d" ;;
        *) die "unknown datapath '$d' (kernel, io-uring, af-xdp)" ;;
    esac
done

# applies PATH PROTO TOOL: whether TOOL runs on that path and protocol.
applies() {
    case "$3" in
        latlab/af-xdp) [ "$1" = veth ] && [ "$2" = udp ] ;;
        latlab/io-uring) [ "$2" = udp ] || [ "$2" = tcp ] ;;
        *) true ;;
    esac
}

echo "path,proto,tool,round,p50_us,p99_us,p99.9_us,server_rq_wait_ms,client_rq_wait_ms" \
    >"$WORK/results.csv"
{
    echo "vs-sockperf: $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -r), $(nproc) CPUs," \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "vs-sockperf: $ROUNDS rounds x ${SECONDS_PER_RUN} s per tool, $SIZE B," \
        "server on cpu $SERVER_CPU, client on cpu $CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "vs-sockperf: $("$LATLAB" --version); $(sockperf --version 2>&1 | head -1)"
} >&2

for round in $(seq 1 "$ROUNDS"); do
    # Alternate which tool goes first, so neither always runs on a warmer (or busier) machine.
    if [ $((round % 2)) = 1 ]; then order="sockperf$LATLAB_TOOLS"; else order="${LATLAB_TOOLS# } sockperf"; fi
    for path in "${PATH_LIST[@]}"; do
        if [ "$path" = veth ] && [ "$NETNS_MADE" != 1 ]; then continue; fi
        for proto in "${PROTO_LIST[@]}"; do
            for tool in $order; do
                applies "$path" "$proto" "$tool" || continue
                wait_quiet
                run_one "$path" "$proto" "$tool" "$round"
            done
        done
    done
done

echo "vs-sockperf: done; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
[ -z "$CSV" ] || cp "$WORK/results.csv" "$CSV"

print_table "$WORK/results.csv"
