#!/usr/bin/env bash
# One entry point for a fresh Debian 12 root shell; every step is idempotent.
#   scripts/dev.sh setup   install apt + pip dependencies, build the extension, fetch the IPVS guest kernel
#   scripts/dev.sh demo    setup, then the two-node VRRP failover demo in network namespaces
#   scripts/dev.sh test    setup, then the whole test suite (unit, netns, interop, IPVS guest)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
APT_PACKAGES=(python3 python3-venv python3-dev gcc make iproute2 keepalived ipvsadm tcpdump
              procps kmod psmisc qemu-system-x86 busybox-static xz-utils cpio haproxy)

apt_setup() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "== apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # keepalived is an interop peer only: never let the package's own service run.
    systemctl disable --now keepalived >/dev/null 2>&1 || true
    pkill -x keepalived 2>/dev/null || true
}

py_setup() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local stamp="$VENV/.fastalived-stamp"
    local want
    want=$(cat pyproject.toml setup.py src/fastalived/_vrrp.pyx 2>/dev/null | sha256sum | cut -c1-16)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "== pip install -e .[test]"
        "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel "Cython>=3.0"
        FASTALIVED_REQUIRE_EXTENSIONS=1 "$VENV/bin/python" -m pip install -q --no-build-isolation -e ".[test]"
        echo "$want" >"$stamp"
    fi
}

vm_setup() {
    if [ -x tests/vm/vmrun ]; then
        tests/vm/vmrun --setup >/dev/null
    fi
}

setup() {
    apt_setup
    py_setup
    vm_setup
}

case "${1:-}" in
setup) setup ;;
demo) setup; exec "$VENV/bin/python" -m fastalived.demo ;;
test) setup; exec "$VENV/bin/python" scripts/run_tests.py ;;
*) echo "usage: $0 setup|demo|test" >&2; exit 2 ;;
esac
