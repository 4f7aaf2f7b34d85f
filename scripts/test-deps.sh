#!/usr/bin/env bash
# Installs what latlab's tests need beyond the Rust toolchain, when it is missing:
#   iproute2, ethtool   network namespaces and veth pairs for multi-host tests
#   tshark              decodes captured STAMP packets (as TWAMP-Test)
#   sockperf            the peer tool benchmarks compare against
#   libhdrhistogram-java + a JRE   the Java HdrHistogram reader of .hlog files
#   python3 hdrhistogram, scapy    the Python .hlog reader and scapy's STAMP layer
#   python3 jsonschema             validates run directories against results/schema/
#   etcd-server, etcd-client       etcd and etcdctl, the real consumer of `calibrate --for etcd`
#   python3 ciw                    the independent M/M/c simulator queueing/tests/oracles.rs
#                  compares latlab's simulator with (scripts/oracles/ciw_mmc.py)
#   ns3, libns3-dev, libgsl-dev, g++   ns-3, built against by scripts/oracles/build-ns3.sh
#                  (about 3 s) for the CoDel/PIE oracle in queueing/tests/oracles.rs
#   chromium, node + playwright-core   open `latlab report` pages in a real browser: the DOM, a
#                  screenshot, console errors and network requests (scripts/report-browser-check.mjs);
#                  playwright-core goes into $LATLAB_NODE_DIR (default ~/.cache/latlab/node),
#                  outside the tree
# Needs root for apt-get; without root it says what is missing and goes on (tests that need
# a missing tool then skip with the reason, or fail under LATLAB_REQUIRE_TOOLS=1).
set -uo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need_apt+=(iproute2)
have ethtool || need_apt+=(ethtool)
have tshark || need_apt+=(tshark)
have sockperf || need_apt+=(sockperf)
have java || need_apt+=(default-jre-headless)
[ -e /usr/share/java/hdrhistogram.jar ] || need_apt+=(libhdrhistogram-java)
have python3 || need_apt+=(python3 python3-pip)
have etcd || need_apt+=(etcd-server)
have etcdctl || need_apt+=(etcd-client)
have chromium || have chromium-browser || need_apt+=(chromium)
have node || need_apt+=(nodejs)
have npm || need_apt+=(npm)
[ -e /usr/include/ns3/queue-disc.h ] || need_apt+=(ns3 libns3-dev libgsl-dev)
have g++ || need_apt+=(g++)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test-deps: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
      || echo "test-deps: apt-get failed; tests needing ${need_apt[*]} will skip or fail"
  else
    echo "test-deps: not root, cannot install ${need_apt[*]}"
  fi
fi
# Debian's etcd-server enables a system etcd on 2379/2380; the tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl disable --now etcd >/dev/null 2>&1 || true
fi

if have python3; then
  missing_py=()
  python3 -c 'import hdrh' 2>/dev/null || missing_py+=(hdrhistogram)
  python3 -c 'import scapy' 2>/dev/null || missing_py+=(scapy)
  python3 -c 'import jsonschema' 2>/dev/null || missing_py+=(jsonschema)
  python3 -c 'import ciw' 2>/dev/null || missing_py+=(ciw)
  if [ ${#missing_py[@]} -gt 0 ]; then
    echo "test-deps: pip installing ${missing_py[*]}"
    python3 -m pip --version >/dev/null 2>&1 || {
      [ "$(id -u)" = 0 ] && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null 2>&1
    }
    # Debian's own Python refuses pip installs into the system (PEP 668); these are test-only
    # packages on a throw-away CI machine, so override that there.
    python3 -m pip install -q --disable-pip-version-check "${missing_py[@]}" 2>/dev/null \
      || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${missing_py[@]}" \
      || echo "test-deps: pip could not install ${missing_py[*]}; tests needing them will skip or fail"
  fi
fi
# playwright-core 1.62 and later need Node 20; Debian 12's Node 18 gets 1.61, the last release for it.
node_dir="${LATLAB_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/latlab/node}"
if have node && have npm && [ ! -e "$node_dir/node_modules/playwright-core/package.json" ]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -ge 20 ]; then pw=playwright-core@1; else pw=playwright-core@1.61; fi
  echo "test-deps: npm installing $pw into $node_dir"
  mkdir -p "$node_dir" \
    && npm install --prefix "$node_dir" --no-audit --no-fund --no-save --silent "$pw" >/dev/null \
    || echo "test-deps: npm could not install $pw; the report's browser check will skip or fail"
fi
exit 0
