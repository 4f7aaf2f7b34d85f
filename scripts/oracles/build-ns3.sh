#!/usr/bin/env bash
# Builds the ns-3 oracle program scripts/oracles/aqm_bottleneck.cc against the system ns-3
# (Debian: apt-get install ns3 libns3-dev libgsl-dev g++), into target/oracles/ by default.
#
#   scripts/oracles/build-ns3.sh [OUTPUT]
#
# Debian 12's ns3-*.pc files are unusable here (their Cflags carry a stray "-I/usr;" and
# ns3-core's Libs name libgsl by absolute path), so the libraries are named explicitly; the
# program only needs the traffic-control, network and core modules. It prints the path of the
# binary on success. Rebuilds only when the source or this script is newer than the binary.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SRC="$ROOT/scripts/oracles/aqm_bottleneck.cc"
OUT="${1:-$ROOT/target/oracles/aqm_bottleneck}"
CXX="${CXX:-g++}"

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "build-ns3: no C++ compiler ($CXX); install g++" >&2
  exit 3
fi
if [ ! -e /usr/include/ns3/queue-disc.h ] && [ ! -e "${NS3_INCLUDE:-/nonexistent}/ns3/queue-disc.h" ]; then
  echo "build-ns3: ns-3 headers not found (apt-get install ns3 libns3-dev libgsl-dev, or set NS3_INCLUDE and NS3_LIB)" >&2
  exit 3
fi
version="$(dpkg-query -W -f='${Version}' libns3-dev 2>/dev/null || echo unknown)"
if [ -x "$OUT" ] && [ "$OUT" -nt "$SRC" ] && [ "$OUT" -nt "$0" ]; then
  echo "$OUT"
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
inc=(); lib=()
[ -n "${NS3_INCLUDE:-}" ] && inc=(-I"$NS3_INCLUDE")
[ -n "${NS3_LIB:-}" ] && lib=(-L"$NS3_LIB" "-Wl,-rpath,$NS3_LIB")
# -O2, no -march=native: the binary and the checked-in output should not depend on the CPU.
"$CXX" -std=c++17 -O2 -Wall -Wextra -DNS3_ORACLE_VERSION="\"$version\"" "${inc[@]}" \
  -o "$OUT.tmp.$$" "$SRC" "${lib[@]}" \
  -lns3-traffic-control -lns3-network -lns3-core
mv -f "$OUT.tmp.$$" "$OUT"
echo "$OUT"
