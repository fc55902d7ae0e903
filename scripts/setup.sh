#!/usr/bin/env bash
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
# Sets up everything gr-issc needs, idempotently:
#   1. a Python that has GNU Radio 3.10 ($ISSC_PYTHON, python3 on PATH, /usr/bin/python3;
#      Debian's `gnuradio` package is installed if none has it),
#   2. cmake and python3-venv from Debian if missing,
#   3. .venv/ with --system-site-packages (so it sees GNU Radio) and requirements.txt,
#   4. the package itself (gnuradio.issc + the `issc` console script).
# A second run with everything present only compares two hashes and takes about a second.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
log() { echo "[setup] $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "need root to run: $*"; exit 1; fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || { log "apt-get not found: install $* by hand"; exit 1; }
    if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

has_gnuradio_310() {
    "$1" -c 'import sys; from gnuradio import gr; sys.exit(0 if gr.version().startswith("3.10") else 1)' \
        >/dev/null 2>&1
}

find_gr_python() {
    local candidate
    for candidate in "${ISSC_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        if has_gnuradio_310 "$candidate"; then echo "$candidate"; return 0; fi
    done
    return 1
}

if [ -x "$VENV/bin/python" ] && has_gnuradio_310 "$VENV/bin/python"; then
    GR_PYTHON="$VENV/bin/python"
else
    if ! GR_PYTHON="$(find_gr_python)"; then
        apt_install gnuradio
        GR_PYTHON=/usr/bin/python3
        has_gnuradio_310 "$GR_PYTHON" || { log "GNU Radio 3.10 still not importable by $GR_PYTHON"; exit 1; }
    fi
    log "GNU Radio python: $GR_PYTHON"
    if ! "$GR_PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then apt_install python3-venv; fi
    rm -rf "$VENV"
    "$GR_PYTHON" -m venv --system-site-packages "$VENV"
fi
command -v cmake >/dev/null || apt_install cmake
command -v make >/dev/null || apt_install make

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# Some machines' global pip config lists local index folders that do not exist; pip then prints a
# warning per package. Drop those lines, keep everything else pip says.
pip_install() {
    "${PIP[@]}" install "$@" 2> >(grep -v "^WARNING: Location 'file://" >&2)
}
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

REQ_STAMP="$VENV/.issc-requirements"
req_hash="$(hash_of "$ROOT/requirements.txt" "$ROOT/constraints.txt")"
if [ "$(cat "$REQ_STAMP" 2>/dev/null)" != "$req_hash" ]; then
    log "installing requirements (first run: a few minutes)"
    pip_install -r "$ROOT/requirements.txt" -c "$ROOT/constraints.txt"
    "$VENV/bin/python" -W ignore::FutureWarning -c 'from gnuradio import gr; import torch, compressai, cvxpy' \
        || { log "dependency check failed"; exit 1; }
    # the HEVC operating points need the x265 encoder the pillow-heif wheel bundles (docs/install.md)
    "$VENV/bin/python" -c 'import pillow_heif, sys; sys.exit("x265" not in pillow_heif.libheif_info()["HEIF"])' \
        || { log "pillow-heif has no x265 HEVC encoder (docs/install.md)"; exit 1; }
    echo "$req_hash" > "$REQ_STAMP"
fi

PKG_STAMP="$VENV/.issc-package"
pkg_hash="$(cd "$ROOT" && find python grc pyproject.toml setup.py -type f ! -name '*.pyc' -print0 | sort -z \
            | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ "$(cat "$PKG_STAMP" 2>/dev/null)" != "$pkg_hash" ]; then
    log "installing gr-issc into .venv"
    pip_install --no-deps --no-build-isolation --force-reinstall "$ROOT" >/dev/null
    echo "$pkg_hash" > "$PKG_STAMP"
fi
