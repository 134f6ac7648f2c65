#!/usr/bin/env bash
# Installs the third-party programs aleph's tests talk to over real sockets.
#
# Idempotent and quick when everything is present: each peer is checked first, and
# apt-get (after one `apt-get update`) or pip runs only for what is missing.
# Uses apt and pip only, and sudo only when not root and sudo exists.
#
# To add a peer, append to APT_PEERS ("command:debian-package") or to PIP_PEERS
# ("python-import-name:pip-requirement").
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

APT_PEERS=(
    "curl:curl"
    "openssl:openssl"
    "python3:python3"
    "nc:netcat-openbsd"
    "socat:socat"
    "nginx:nginx"
    "h2load:nghttp2-client"
    "wrk:wrk"
    "gzip:gzip"
    "zstd:zstd"
    "brotli:brotli"
    "script:bsdutils"
)

# For example "websockets:websockets", "httpx:httpx[http2]", "h2:h2".
PIP_PEERS=(
    "httpx:httpx[http2]"
    "h2:h2"
    "hypercorn:hypercorn"
)

SUDO=()
if [[ "$(id -u)" -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
fi

as_root() {
    ${SUDO[@]+"${SUDO[@]}"} "$@"
}

apt_updated=no
apt_install() {
    if [[ "$apt_updated" == no ]]; then
        as_root apt-get update -qq
        apt_updated=yes
    fi
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---- programs, from apt ---------------------------------------------------------------
missing_cmds=()
missing_pkgs=()
for entry in "${APT_PEERS[@]}"; do
    cmd="${entry%%:*}"
    pkg="${entry#*:}"
    if command -v "$cmd" >/dev/null 2>&1; then
        echo "peer $cmd: present"
    else
        missing_cmds+=("$cmd")
        missing_pkgs+=("$pkg")
    fi
done

if ((${#missing_pkgs[@]} > 0)); then
    echo "apt-get install ${missing_pkgs[*]}"
    apt_install "${missing_pkgs[@]}"
    for cmd in "${missing_cmds[@]}"; do
        if command -v "$cmd" >/dev/null 2>&1; then
            echo "peer $cmd: installed"
        else
            echo "peer $cmd: still missing after apt-get install" >&2
            exit 1
        fi
    done
fi

# ---- Python modules, from pip -------------------------------------------------------
missing_mods=()
missing_reqs=()
for entry in ${PIP_PEERS[@]+"${PIP_PEERS[@]}"}; do
    mod="${entry%%:*}"
    req="${entry#*:}"
    if python3 -c "import $mod" >/dev/null 2>&1; then
        echo "peer python $mod: present"
    else
        missing_mods+=("$mod")
        missing_reqs+=("$req")
    fi
done

if ((${#missing_reqs[@]} > 0)); then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        echo "apt-get install python3-pip"
        apt_install python3-pip
    fi
    pip_flags=(--quiet --disable-pip-version-check)
    # A Debian system python refuses a plain `pip install` (PEP 668); pips too old to
    # know the override flag have no such guard, so pass it only where pip has it.
    if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
        pip_flags+=(--break-system-packages)
    fi
    echo "pip install ${missing_reqs[*]}"
    python3 -m pip install "${pip_flags[@]}" "${missing_reqs[@]}"
    for mod in "${missing_mods[@]}"; do
        if python3 -c "import $mod" >/dev/null 2>&1; then
            echo "peer python $mod: installed"
        else
            echo "peer python $mod: still missing after pip install" >&2
            exit 1
        fi
    done
fi
