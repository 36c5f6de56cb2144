#!/usr/bin/env bash
# setup.sh - from a fresh clone to a working `wirespeed`, in one command.
#
#   ./setup.sh            as root: Debian packages, then .venv and the native build
#                         as a user: .venv and the native build; prints the
#                         packages to install with sudo
#
# Environment: PYTHON=python3.12 picks the interpreter (default python3);
# WIRESPEED_SANITIZE=address / WIRESPEED_DEBUG=1 / WIRESPEED_WERROR=1 shape
# the C build (see setup.py). Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
# Build: compiler, kernel UAPI headers, zstd (Parquet pages). Run: iproute2 (ip, for users and
# tests), ethtool. Peers and cross-checks: tshark (pcapng), sockperf (kernel
# UDP latency peer). util-linux gives setpriv, which tests use to drop root.
# dpdk-dev + librte-net-af-xdp23: dpdk-testpmd with the net_af_xdp vdev, the peer of `wirespeed bench capture`
APT_PACKAGES=(gcc libc6-dev linux-libc-dev libzstd-dev pkg-config iproute2 ethtool tshark sockperf util-linux strace netsniff-ng
              dpdk-dev librte-net-af-xdp23)

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }

python_ok() {
    "$PYTHON" - <<'PY' 2>/dev/null
import sysconfig, os, venv, ensurepip  # noqa: F401
raise SystemExit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
}

missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

if ! command -v "$PYTHON" >/dev/null; then
    echo "setup.sh: no $PYTHON on PATH; install Python >= 3.10 (apt-get install python3 python3-venv python3-dev)" >&2
    exit 1
fi

pkgs=("${APT_PACKAGES[@]}")
python_ok || pkgs+=(python3-venv python3-dev)
# Java for PySpark (the Spark check of `wirespeed export`'s datasets), unless one is there
command -v java >/dev/null || pkgs+=(default-jre-headless)
if command -v dpkg-query >/dev/null; then
    mapfile -t need < <(missing_packages "${pkgs[@]}")
else
    need=()
    say "not a Debian system: install the equivalents of ${pkgs[*]} yourself"
fi
if ((${#need[@]})); then
    if [ "$(id -u)" = 0 ]; then
        say "installing system packages: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        say "not root: skipping system packages; to install them: sudo apt-get install ${need[*]}"
    fi
fi

if [ ! -x .venv/bin/python ]; then
    say "making the virtual environment .venv ($("$PYTHON" --version))"
    "$PYTHON" -m venv .venv
fi
say "installing wirespeed and building its native core"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,bench]'
.venv/bin/wirespeed --version
say "ready: . .venv/bin/activate && wirespeed doctor"
