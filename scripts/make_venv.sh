#!/bin/sh
# Create the virtualenv $1 with the interpreter $2 and install mmload into it, editable, with
# its test tools.  Called by `make`; on Debian, root gets python3-venv installed when missing.
set -eu
cd "$(dirname "$0")/.."
venv=$1
python=${2:-python3}

if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then  # there already: only reinstall
    exec "$venv/bin/python" -m pip install --disable-pip-version-check -q -e '.[test]'
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "make_venv: $python not found; install Python 3.11 or newer (apt-get install python3)" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "make_venv: mmload needs Python 3.11 or newer (Locust 2.47 does); $python is $("$python" -V 2>&1)" >&2
    exit 1
fi

if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"  # a failed attempt leaves a venv without pip behind
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "make_venv: '$python -m venv' failed; installing python3-venv python3-pip with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends python3-venv python3-pip
    else
        echo "make_venv: '$python -m venv' failed: install the venv module and pip, e.g." >&2
        echo "    sudo apt-get install python3-venv python3-pip" >&2
        exit 1
    fi
    "$python" -m venv "$venv"
fi

"$venv/bin/python" -m pip install --disable-pip-version-check -q -e '.[test]'
