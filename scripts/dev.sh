#!/usr/bin/env bash
# One entry point for a fresh Debian 12 root shell; every step is idempotent.
#   scripts/dev.sh setup   install apt + pip dependencies, build the extension, fetch the IPVS guest kernel
#   scripts/dev.sh demo    setup, then an HAProxy pair failing over under client traffic (scripts/demo.py)
#   scripts/dev.sh test    setup, then the whole test suite (unit, netns, interop, IPVS guest)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
APT_PACKAGES=(python3 python3-venv python3-dev gcc make iproute2 keepalived ipvsadm tcpdump
              procps kmod psmisc qemu-system-x86 busybox-static xz-utils cpio haproxy frr
              prometheus lintian dpkg-dev man-db git systemd bird2 nftables valgrind)

apt_setup() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "== apt-get install ${missing[*]}"
        apt-get update -qq
        without_service_starts env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# keepalived and haproxy are only peers: the tests and the demo start their own copies inside
# namespaces. Their packages' services must not start at install time, and nothing that already
# runs here is stopped, disabled or killed. A policy-rc.d that exits 101 ("action forbidden")
# holds invoke-rc.d back for the duration of the install only; someone else's is left alone.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_MARK="# fastalived dev.sh: no service starts during its apt-get install"

without_service_starts() {
    if [ -e "$POLICY_RC" ] && ! grep -qxF "$POLICY_RC_MARK" "$POLICY_RC"; then
        "$@"
        return
    fi
    printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_RC_MARK" >"$POLICY_RC"
    chmod 755 "$POLICY_RC"
    trap 'rm -f "$POLICY_RC"' EXIT
    trap 'exit 130' INT TERM
    "$@"
    rm -f "$POLICY_RC"
    trap - EXIT INT TERM
}

py_setup() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local stamp="$VENV/.fastalived-stamp"
    local want
    want=$(cat pyproject.toml setup.py src/fastalived/_vrrp.pyx src/fastalived/vrrp/codec.py src/fastalived/vrrp/codec.pxd 2>/dev/null | sha256sum | cut -c1-16)
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
demo) setup; shift; exec "$VENV/bin/python" scripts/demo.py "$@" ;;
test) setup; exec "$VENV/bin/python" scripts/run_tests.py ;;
*) echo "usage: $0 setup|demo|test" >&2; exit 2 ;;
esac
