# Sourced by the scripts: creates .venv on first use and reinstalls when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "incident-bot needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
stamp="$(sha256sum pyproject.toml | cut -c1-16)-$1"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.installed 2>/dev/null)" != "$stamp" ]; then
    echo "setting up .venv (first run takes a minute)..." >&2
    "$PYTHON" -m venv .venv
    if ! { .venv/bin/python -m pip install --upgrade pip \
            && .venv/bin/python -m pip install -e ".[$1]"; } > .venv/install.log 2>&1; then
        tail -n 30 .venv/install.log >&2
        echo "installing into .venv failed; the whole log is .venv/install.log" >&2
        exit 1
    fi
    echo "$stamp" > .venv/.installed
fi
