#!/usr/bin/env bash
# A 3-member etcd cluster on one machine: network namespaces NAME-m1, NAME-m2, NAME-m3, each
# joined by a veth pair to a bridge in namespace NAME-br, with an optional delay line
# (scripts/delay-proxy.py) in front of every member's peer port.
#
#   scripts/etcd-lab.sh up NAME DIR [options]    net, then start
#   scripts/etcd-lab.sh net NAME DIR [--subnet X]  create the namespaces and the bridge only
#   scripts/etcd-lab.sh start NAME DIR [options] start the members (and delay lines) in them
#   scripts/etcd-lab.sh status NAME DIR          the leader as the members see it (exit 1: none)
#   scripts/etcd-lab.sh count NAME DIR           campaigns and elections in the members' logs
#   scripts/etcd-lab.sh show NAME DIR            the lab's namespaces and addresses
#   scripts/etcd-lab.sh stop NAME DIR            stop what `start` started, delete the data dirs
#   scripts/etcd-lab.sh down NAME DIR            stop, then remove the namespaces
#
# Options of `start` (and `up`):
#   --heartbeat MS    etcd --heartbeat-interval (default: etcd's, 100)
#   --election MS     etcd --election-timeout (default: etcd's, 1000)
#   --flags-file F    append the flags in F (latlab calibrate --export etcd-flags; lines
#                     starting with # are comments) to every member's command line
#   --delay MS        put a delay line of MS ms (each direction) on every member's peer port;
#                     a message between two members crosses one delay line, so this is the
#                     one-way delay added between members (client ports are not delayed)
#   --jitter MS       uniform +- jitter of the delay line (needs --delay)
#   --data-root DIR   where the members' data directories go (default DIR/data; each member
#                     preallocates a 64 MB WAL: a tmpfs such as /dev/shm keeps fsync cheap)
#   --subnet X        (net, up) members are 10.78.X.1-3/24, the bridge namespace 10.78.X.254
#                     (default 1)
#
# DIR keeps the members' logs (m1.log …, the delay lines' in m1-proxy.log …) and the process ids
# `stop` stops; nothing else is stopped. `start` returns once every member is started (it does
# not wait for a leader: poll `status`); a member that rejects its flags makes it fail with
# etcd's message. Between a `stop` and the next `start` the namespaces stay, so a test can probe
# the path first (a reflector in one member's namespace, a probe in another's) and then start
# etcd with what latlab calibrated from it. Member i serves clients on 10.78.X.i:2379 and peers on
# 10.78.X.i:2380 (with a delay line: the peers are told 10.78.X.i:2480, where the line listens).
#
# `status` prints `leader=mK term=T agree=N answered=M` (N of the M members that answered name
# mK as leader) and exits 1 when no member knows a leader. `count` prints
# `campaigns=C leaders=L max_term=T`: C lines "became candidate at term" (each campaign), L lines
# "became leader at term" (each won election), over all members' logs since `start`.
#
# Needs root, iproute2 and etcd/etcdctl 3.4 (Debian: etcd-server, etcd-client); python3 for
# the delay line and for `status`. A failing `up` removes what it created. Example:
#   scripts/etcd-lab.sh up lab1 /tmp/lab1 --heartbeat 100 --election 1000 --delay 60
#   until scripts/etcd-lab.sh status lab1 /tmp/lab1; do sleep 0.2; done
#   sleep 10; scripts/etcd-lab.sh count lab1 /tmp/lab1
#   scripts/etcd-lab.sh down lab1 /tmp/lab1
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
members=(m1 m2 m3)

die() {
  echo "etcd-lab: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 up|status|count|show|down NAME DIR [options]   (see the top of $0)" >&2
  exit 2
}

[ $# -ge 3 ] || usage
cmd=$1
name=$2
dir=$3
shift 3
[[ $name =~ ^[A-Za-z0-9_-]{1,40}$ ]] || die "bad lab name '$name': use letters, digits, '-' and '_' (at most 40)"
ns_br="$name-br"

ns_exists() {
  [ -e "/run/netns/$1" ]
}

need_root() {
  command -v ip >/dev/null 2>&1 || die "ip (iproute2) not found: apt-get install iproute2"
  [ "$(id -u)" = 0 ] || die "network namespaces need root (run with sudo)"
}

subnet() {
  [ -f "$dir/subnet" ] || die "lab $name is not up (no $dir/subnet)"
  cat "$dir/subnet"
}

addr() { # addr INDEX(1..3|254)
  echo "10.78.$(subnet).$1"
}

endpoints() {
  local i eps=()
  for i in 1 2 3; do eps+=("http://$(addr "$i"):2379"); done
  (IFS=,; echo "${eps[*]}")
}

# True while process PID exists and has not exited (a zombie waiting for its parent has).
running() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}

# Stops the processes whose ids are in DIR/*.pid (ours only) and deletes the members' data
# directories. Idempotent.
stop() {
  local f pid pids=() i sig
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    # Only a process of ours: the id names an etcd or a delay line (ids are reused). etcd gets
    # SIGKILL: on SIGTERM a leader first tries to hand its leadership over, which takes seconds
    # when its peers are stopping too, and the data is deleted anyway.
    if [[ $pid =~ ^[0-9]+$ ]] && grep -qaE 'etcd|delay-proxy' "/proc/$pid/cmdline" 2>/dev/null; then
      if [[ $f == *-proxy.pid ]]; then sig=TERM; else sig=KILL; fi
      kill -"$sig" "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  for i in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do running "$pid" && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do running "$pid" && kill -KILL "$pid" 2>/dev/null; done
  rm -f "$dir"/*.pid
  if [ -f "$dir/data-root" ]; then
    local root
    root=$(cat "$dir/data-root")
    for i in "${members[@]}"; do rm -rf "${root:?}/$name-$i.etcd"; done
    rm -f "$dir/data-root"
  fi
}

# stop, then remove the namespaces (and with them the veth pairs and the bridge). Idempotent.
down() {
  local ns
  stop
  for ns in "$name-m1" "$name-m2" "$name-m3" "$ns_br"; do
    if ns_exists "$ns"; then ip netns del "$ns" 2>/dev/null || true; fi
  done
  for ns in "$name-m1" "$name-m2" "$name-m3" "$ns_br"; do
    if ns_exists "$ns"; then die "could not remove namespace $ns"; fi
  done
}

net() {
  local x=1
  while [ $# -gt 0 ]; do
    case $1 in
      --subnet) x=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  if ! [[ $x =~ ^[0-9]{1,3}$ ]] || [ "$x" -gt 255 ]; then die "bad subnet index '$x': 0..255"; fi
  for ns in "$name-m1" "$name-m2" "$name-m3" "$ns_br"; do
    if ns_exists "$ns"; then die "lab $name exists already (namespace $ns); run '$0 down $name $dir' first"; fi
  done
  mkdir -p "$dir"
  echo "$x" >"$dir/subnet"
  trap 'echo "etcd-lab: net $name failed: $BASH_COMMAND; removing what was created" >&2; down; exit 1' ERR
  network "$x"
  trap - ERR
}

network() {
  local x=$1 i
  ip netns add "$ns_br"
  ip -n "$ns_br" link set lo up
  ip -n "$ns_br" link add br0 type bridge
  ip -n "$ns_br" addr add "10.78.$x.254/24" dev br0
  ip -n "$ns_br" link set br0 up
  for i in 1 2 3; do
    local ns="$name-m$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Each pair is created with its ends already in place: no names in the root namespace.
    ip link add name "m$i" netns "$ns_br" type veth peer name eth0 netns "$ns"
    ip -n "$ns_br" link set "m$i" master br0
    ip -n "$ns_br" link set "m$i" up
    ip -n "$ns" addr add "10.78.$x.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

start_proxy() { # start_proxy I DELAY JITTER
  local i=$1 a
  a=$(addr "$i")
  ip netns exec "$name-m$i" python3 "$here/delay-proxy.py" --listen "$a:2480" --connect "$a:2380" \
    --delay "$2" --jitter "$3" --seed "$i" </dev/null >"$dir/m$i-proxy.log" 2>&1 &
  echo $! >"$dir/m$i-proxy.pid"
}

wait_proxy() {
  local i=$1 t
  for t in $(seq 100); do
    grep -q '^listening on' "$dir/m$i-proxy.log" 2>/dev/null && return 0
    kill -0 "$(cat "$dir/m$i-proxy.pid")" 2>/dev/null || break
    sleep 0.05
  done
  die "delay line of m$i did not start: $(cat "$dir/m$i-proxy.log" 2>/dev/null)"
}

start_failed() {
  local rc=$?
  trap - EXIT
  if [ "$rc" != 0 ]; then
    echo "etcd-lab: start $name failed; removing what was started" >&2
    ${undo:-stop}
  fi
  exit "$rc"
}

start() {
  local heartbeat="" election="" flags_file="" delay="" jitter=0 data_root=""
  while [ $# -gt 0 ]; do
    case $1 in
      --heartbeat) heartbeat=$2; shift 2 ;;
      --election) election=$2; shift 2 ;;
      --flags-file) flags_file=$2; shift 2 ;;
      --delay) delay=$2; shift 2 ;;
      --jitter) jitter=$2; shift 2 ;;
      --data-root) data_root=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  local v
  for v in "$heartbeat" "$election"; do
    [ -z "$v" ] || [[ $v =~ ^[0-9]+$ ]] || die "heartbeat and election are whole ms, not '$v'"
  done
  [ -z "$delay" ] || [[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad delay '$delay' (ms)"
  [[ $jitter =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad jitter '$jitter' (ms)"
  command -v etcd >/dev/null 2>&1 || die "etcd not found: apt-get install etcd-server"
  command -v etcdctl >/dev/null 2>&1 || die "etcdctl not found: apt-get install etcd-client"
  [ -z "$delay" ] || command -v python3 >/dev/null 2>&1 || die "the delay line needs python3"
  local extra=()
  if [ -n "$flags_file" ]; then
    [ -r "$flags_file" ] || die "cannot read $flags_file"
    # shellcheck disable=SC2207 # the file holds flags separated by blanks, as etcd takes them
    extra=($(grep -v '^[[:space:]]*#' "$flags_file"))
  fi
  ns_exists "$ns_br" || die "lab $name has no network: run '$0 net $name $dir' first"
  ! ls "$dir"/m*.pid >/dev/null 2>&1 || die "lab $name is running: run '$0 stop $name $dir' first"
  local x
  x=$(subnet)
  data_root=${data_root:-$dir/data}
  mkdir -p "$data_root"
  data_root=$(cd "$data_root" && pwd)
  echo "$data_root" >"$dir/data-root"
  rm -f "$dir"/m*.log

  # On any failure (a command, or die), undo: `stop`, or `down` when called from `up`.
  trap start_failed EXIT
  local peer_port=2380 i cluster=()
  [ -z "$delay" ] || peer_port=2480
  for i in 1 2 3; do cluster+=("m$i=http://10.78.$x.$i:$peer_port"); done
  local initial
  initial=$(IFS=,; echo "${cluster[*]}")
  if [ -n "$delay" ]; then
    for i in 1 2 3; do start_proxy "$i" "$delay" "$jitter"; done
    for i in 1 2 3; do wait_proxy "$i"; done
  fi
  local timing=()
  [ -z "$heartbeat" ] || timing+=("--heartbeat-interval=$heartbeat")
  [ -z "$election" ] || timing+=("--election-timeout=$election")
  for i in 1 2 3; do
    local a="10.78.$x.$i"
    ip netns exec "$name-m$i" etcd --name "m$i" --data-dir "$data_root/$name-m$i.etcd" \
      --listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:$peer_port" \
      --listen-client-urls "http://$a:2379,http://127.0.0.1:2379" \
      --advertise-client-urls "http://$a:2379" \
      --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "$name" \
      "${timing[@]}" "${extra[@]}" </dev/null >"$dir/m$i.log" 2>&1 &
    echo $! >"$dir/m$i.pid"
  done
  # A member that rejects its flags exits at once: report it rather than wait for a leader.
  sleep 0.3
  for i in 1 2 3; do
    if ! kill -0 "$(cat "$dir/m$i.pid")" 2>/dev/null; then
      local why
      why=$(grep -m1 -E ' (E|C) \| ' "$dir/m$i.log" || tail -n 3 "$dir/m$i.log")
      die "member m$i exited at start: $why"
    fi
  done
  trap - EXIT
  show
}

up() {
  local x=1 args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --subnet) x=$2; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  net --subnet "$x"
  undo=down
  start "${args[@]}"
}

show() {
  local i
  echo "NS_BR=$ns_br"
  for i in 1 2 3; do
    echo "NS_$i=$name-m$i"
    echo "ADDR_$i=$(addr "$i")"
  done
  echo "ADDR_BR=$(addr 254)"
  echo "ENDPOINTS=$(endpoints)"
}

status() {
  ns_exists "$ns_br" || die "lab $name is not up"
  local out
  # Each endpoint answers for itself; one that does not answer is left out (stderr).
  out=$(ip netns exec "$ns_br" etcdctl --endpoints="$(endpoints)" --dial-timeout=500ms \
    --command-timeout=1s endpoint status -w json 2>/dev/null) || true
  [ -n "$out" ] || out="[]"
  python3 -c '
import json, sys
eps = sys.argv[1].split(",")
st = json.loads(sys.stdin.read() or "[]")
me = {}
lead = {}
term = 0
for s in st:
    i = eps.index(s["Endpoint"]) + 1
    me[s["Status"]["header"]["member_id"]] = "m%d" % i
    lead[i] = s["Status"]["leader"]
    term = max(term, s["Status"]["raftTerm"])
votes = {}
for l in lead.values():
    if l:
        votes[l] = votes.get(l, 0) + 1
if not votes:
    print("leader=none term=%d agree=0 answered=%d" % (term, len(st)))
    sys.exit(1)
l, n = max(votes.items(), key=lambda kv: kv[1])
print("leader=%s term=%d agree=%d answered=%d" % (me.get(l, "%x" % l), term, n, len(st)))
' "$(endpoints)" <<<"$out"
}

count() {
  local c=0 l=0 t=0 i n
  for i in "${members[@]}"; do
    local f="$dir/$i.log"
    [ -f "$f" ] || continue
    n=$(grep -c 'became candidate at term' "$f" || true)
    c=$((c + n))
    n=$(grep -c 'became leader at term' "$f" || true)
    l=$((l + n))
    n=$(grep -o 'at term [0-9]*' "$f" | awk '{ if ($3 > m) m = $3 } END { print m + 0 }' || true)
    [ "$n" -gt "$t" ] && t=$n
  done
  echo "campaigns=$c leaders=$l max_term=$t"
}

case $cmd in
  up) need_root; up "$@" ;;
  net) need_root; net "$@" ;;
  start) need_root; start "$@" ;;
  stop) [ $# -eq 0 ] || usage; stop ;;
  down) [ $# -eq 0 ] || usage; need_root; down ;;
  status) [ $# -eq 0 ] || usage; need_root; status ;;
  count) [ $# -eq 0 ] || usage; count ;;
  show) [ $# -eq 0 ] || usage; show ;;
  *) usage ;;
esac
