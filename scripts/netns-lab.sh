#!/usr/bin/env bash
# Two hosts on one machine: network namespaces NAME-a and NAME-b joined by a veth pair.
#
#   scripts/netns-lab.sh up NAME [X]   create NAME-a (10.77.X.1/24) and NAME-b (10.77.X.2/24)
#   scripts/netns-lab.sh down NAME     remove both (idempotent: absent namespaces are fine)
#   scripts/netns-lab.sh show NAME     print the lab's addresses again
#
# X is 0..255 (default 1). Each end is an interface named veth0 inside its namespace, with one
# TX and one RX queue (no RSS spreading), TX checksum offload off (so packets leave with real
# checksums, as a capture or an AF_XDP/raw-socket peer sees them), and a permanent neighbour
# entry for the other end (the first probe does not wait for ARP). The addresses of different
# labs live in different namespaces, so several labs may use the same X at the same time.
#
# `up` and `show` print shell assignments, one per line, for `eval`:
#   NS_A=NAME-a NS_B=NAME-b ADDR_A=10.77.X.1 ADDR_B=10.77.X.2 DEV=veth0 MAC_A=… MAC_B=…
# Run a command in a namespace with `ip netns exec NAME-a CMD...`.
#
# Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN), iproute2, and ethtool. A failing `up` removes
# what it created. Example:
#   eval "$(sudo scripts/netns-lab.sh up lab1)"
#   sudo ip netns exec "$NS_A" latlab reflect --bind "$ADDR_A:8620" &
#   sudo ip netns exec "$NS_B" latlab probe rtt --target "$ADDR_A:8620" --count 20000
#   sudo scripts/netns-lab.sh down lab1
set -Eeuo pipefail

die() {
  echo "netns-lab: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 up NAME [X] | down NAME | show NAME   (NAME: letters, digits, '-', '_'; X: 0..255)" >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
name=$2
[[ $name =~ ^[A-Za-z0-9_-]{1,48}$ ]] || die "bad lab name '$name': use letters, digits, '-' and '_' (at most 48)"
ns_a="$name-a"
ns_b="$name-b"
dev=veth0

need_tools() {
  command -v ip >/dev/null 2>&1 || die "ip (iproute2) not found: apt-get install iproute2"
  [ "$(id -u)" = 0 ] || die "network namespaces need root (run with sudo)"
}

ns_exists() {
  # ip netns keeps one bind-mounted file per named namespace here.
  [ -e "/run/netns/$1" ]
}

mac_of() {
  ip -n "$1" -o link show dev "$dev" | sed -n 's/.*link\/ether \([0-9a-f:]\{17\}\).*/\1/p'
}

down() {
  local ns
  for ns in "$ns_a" "$ns_b"; do
    # Deleting a namespace destroys its end of the veth pair, and with it the other end.
    if ns_exists "$ns"; then ip netns del "$ns" 2>/dev/null || true; fi
  done
  for ns in "$ns_a" "$ns_b"; do
    if ns_exists "$ns"; then die "could not remove namespace $ns"; fi
  done
}

show() {
  local x=$1 mac_a mac_b
  ns_exists "$ns_a" && ns_exists "$ns_b" || die "lab $name is not up"
  mac_a=$(mac_of "$ns_a")
  mac_b=$(mac_of "$ns_b")
  [ -n "$x" ] || x=$(ip -n "$ns_a" -o -4 addr show dev "$dev" | sed -n 's/.*inet 10\.77\.\([0-9]*\)\.1\/24.*/\1/p')
  echo "NS_A=$ns_a"
  echo "NS_B=$ns_b"
  echo "ADDR_A=10.77.$x.1"
  echo "ADDR_B=10.77.$x.2"
  echo "DEV=$dev"
  echo "MAC_A=$mac_a"
  echo "MAC_B=$mac_b"
}

up() {
  local x=${1:-1}
  [[ $x =~ ^[0-9]{1,3}$ ]] && [ "$x" -le 255 ] || die "bad subnet index '$x': 0..255"
  command -v ethtool >/dev/null 2>&1 || die "ethtool not found: apt-get install ethtool"
  if ns_exists "$ns_a" || ns_exists "$ns_b"; then
    die "lab $name exists already (namespace $ns_a or $ns_b); run '$0 down $name' first"
  fi
  trap 'echo "netns-lab: up $name failed: $BASH_COMMAND; removing what was created" >&2; down; exit 1' ERR
  ip netns add "$ns_a"
  ip netns add "$ns_b"
  # Both ends are created directly inside their namespaces: no name clash in the root
  # namespace, and both named veth0.
  ip link add name "$dev" netns "$ns_a" numtxqueues 1 numrxqueues 1 type veth \
    peer name "$dev" netns "$ns_b" numtxqueues 1 numrxqueues 1
  local ns addr
  for ns in "$ns_a" "$ns_b"; do
    if [ "$ns" = "$ns_a" ]; then addr="10.77.$x.1/24"; else addr="10.77.$x.2/24"; fi
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr" dev "$dev"
    ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null
    ip -n "$ns" link set "$dev" up
  done
  local mac_a mac_b
  mac_a=$(mac_of "$ns_a")
  mac_b=$(mac_of "$ns_b")
  [ -n "$mac_a" ] && [ -n "$mac_b" ] || die "cannot read the veth MAC addresses"
  ip -n "$ns_a" neigh replace "10.77.$x.2" lladdr "$mac_b" dev "$dev" nud permanent
  ip -n "$ns_b" neigh replace "10.77.$x.1" lladdr "$mac_a" dev "$dev" nud permanent
  trap - ERR
  show "$x"
}

case $cmd in
  up)
    [ $# -le 3 ] || usage
    need_tools
    up "${3:-1}"
    ;;
  down)
    [ $# -eq 2 ] || usage
    need_tools
    down
    ;;
  show)
    [ $# -eq 2 ] || usage
    need_tools
    show ""
    ;;
  *) usage ;;
esac
