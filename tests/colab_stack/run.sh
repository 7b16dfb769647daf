#!/usr/bin/env bash
# `make test-colab-stack`: run the unit tests and a solution notebook on the library versions
# that Google Colab ships, in a separate virtual environment (.venv-colab), so that the course
# keeps working for learners who open it there.
#
# Colab's versions live in tests/colab_stack/constraints.txt. They are installed first and
# then used as pip *constraints* while the course package is installed, so pip can neither
# upgrade nor downgrade them.
#
# Python: Colab runs Python 3.13. The script uses $COLAB_PYTHON when set, else python3.13
# when it is on PATH (or installed with pyenv), else python3 -- and says so, since a
# different Python can hide (or cause) differences.
#
# Environment:
#   COLAB_PYTHON      interpreter for the venv (default: see above)
#   COLAB_VENV        venv folder (default .venv-colab)
#   COLAB_NOTEBOOKS   solution notebooks to run with nbval
#                     (default: solutions/01_graph_tasks.ipynb solutions/02_recommendation_as_link_prediction.ipynb)
#   GNNREC_DATA_DIR   MovieLens folder; defaults to ../shared/data/movielens where it exists
set -euo pipefail
cd "$(dirname "$0")/../.."

HERE=tests/colab_stack
VENV=${COLAB_VENV:-.venv-colab}
CONSTRAINTS=$HERE/constraints.txt

pick_python() {
    if [ -n "${COLAB_PYTHON:-}" ]; then
        echo "$COLAB_PYTHON"
        return
    fi
    if python3.13 -c 'pass' >/dev/null 2>&1; then
        echo python3.13
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local candidate
        for candidate in "$(pyenv root)"/versions/3.13*/bin/python3.13; do
            if [ -x "$candidate" ]; then
                echo "$candidate"
                return
            fi
        done
    fi
    echo python3
}

PY=$(pick_python)
PY_VERSION=$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
echo "== Colab stack: Python $PY_VERSION ($PY) in $VENV"
case "$PY_VERSION" in
    3.13.*) ;;
    *) echo "   note: Colab runs Python 3.13; this run uses $PY_VERSION (set COLAB_PYTHON to change)" ;;
esac

if [ -z "${GNNREC_DATA_DIR:-}" ] && [ -d ../shared/data/movielens ]; then
    GNNREC_DATA_DIR="$(cd ../shared/data/movielens && pwd)"
    export GNNREC_DATA_DIR
fi
echo "   GNNREC_DATA_DIR=${GNNREC_DATA_DIR:-<unset>}"

# (Re)create the venv when the interpreter version changed.
if [ -x "$VENV/bin/python" ]; then
    VENV_VERSION=$("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    if [ "$VENV_VERSION" != "$PY_VERSION" ]; then
        echo "   $VENV has Python $VENV_VERSION: recreating it"
        rm -rf "$VENV"
    fi
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
BIN=$VENV/bin

# Install only when the pins or the package's metadata changed since the last install.
STAMP=$VENV/.colab-installed
WANT=$(cat "$CONSTRAINTS" pyproject.toml | "$BIN/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    "$BIN/python" -m pip install --upgrade pip
    "$BIN/python" -m pip install -r "$CONSTRAINTS"
    "$BIN/python" -m pip install -c "$CONSTRAINTS" -e ".[test]"
    echo "$WANT" >"$STAMP"
fi

echo "== versions"
"$BIN/python" - <<'EOF'
import sys
from importlib import metadata

print(f"python      {sys.version.split()[0]}")
for name in ["jax", "jaxlib", "flax", "optax", "jraph", "numpy", "pandas", "matplotlib",
             "networkx", "nbval", "ipykernel", "pytest"]:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        version = "not installed"
    print(f"{name:<11} {version}")
EOF

# Fail loudly if anything moved a pinned version (e.g. a later manual install).
"$BIN/python" - "$CONSTRAINTS" <<'EOF'
import sys
from importlib import metadata

bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, version = line.partition("==")
    have = metadata.version(name)
    if have != version:
        bad.append(f"{name} {have} (Colab: {version})")
if bad:
    sys.exit("versions differ from Colab's: " + ", ".join(bad))
print("all pinned versions match Colab's")
EOF

# Run both stages even when the first fails, so one run shows everything; fail at the end.
FAILED=()
echo "== unit tests"
if ! "$BIN/python" -m pytest tests -q -p no:cacheprovider; then
    FAILED+=("unit tests")
fi

NOTEBOOKS=${COLAB_NOTEBOOKS:-solutions/01_graph_tasks.ipynb solutions/02_recommendation_as_link_prediction.ipynb}
RUN=()
for nb in $NOTEBOOKS; do
    if [ -f "$nb" ]; then
        RUN+=("$nb")
    else
        echo "   (skipping $nb: not in the repository yet)"
    fi
done
if [ ${#RUN[@]} -gt 0 ]; then
    echo "== notebooks with nbval: ${RUN[*]}"
    if ! "$BIN/python" -m pytest --nbval-lax --nbval-current-env \
        --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider -p no:randomly -q "${RUN[@]}"; then
        FAILED+=("notebooks")
    fi
fi
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "== Colab stack: FAILED: ${FAILED[*]} (Python $PY_VERSION)"
    exit 1
fi
echo "== Colab stack: all passed (Python $PY_VERSION)"
