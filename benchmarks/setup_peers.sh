#!/usr/bin/env bash
# Create the virtual environment that holds upliftree's benchmark peers.
#
# Peers (causalml, scikit-uplift, EconML, LightGBM) are never runtime dependencies of upliftree: they
# live in their own venv together with an editable install of upliftree, so the benchmarks time every
# library in one process on one machine.
#
# Usage: bash benchmarks/setup_peers.sh [VENV_DIR]      (default VENV_DIR: /opt/upliftree-peers)
#        PYTHON=python3.11 bash benchmarks/setup_peers.sh  (choose the interpreter; causalml 0.18 needs >= 3.11)
set -euo pipefail

venv_dir="${1:-/opt/upliftree-peers}"
python_bin="${PYTHON:-python3}"
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The peer versions the issues measure against. They co-install without extra constraints; the
# shared scientific stack is pinned to the versions verified together (benchmarks/README.md, "Peer
# pins") so that re-running the set-up later times the same code.
peers=(
    "causalml==0.18.0"
    "scikit-uplift==0.5.1"
    "econml==0.17.0"
    "lightgbm==4.7.0"
)
pins=(
    "numpy==2.4.6"
    "scipy==1.17.1"
    "scikit-learn==1.9.1"
    "pandas==3.1.1"
    "numba==0.68.1"
)

"$python_bin" -c 'import sys; assert sys.version_info >= (3, 11), "causalml 0.18 needs Python >= 3.11"'
"$python_bin" -m venv "$venv_dir"
"$venv_dir/bin/python" -m pip install --upgrade pip setuptools wheel
"$venv_dir/bin/python" -m pip install "${peers[@]}" "${pins[@]}"
# compat mode puts the repository on sys.path through a .pth file, so modules added to upliftree
# after this install are importable without reinstalling.
"$venv_dir/bin/python" -m pip install --no-build-isolation -e "$repo_dir" --config-settings editable_mode=compat

"$venv_dir/bin/python" "$repo_dir/benchmarks/check_peers.py"
echo "peers ready: $venv_dir/bin/python benchmarks/bench_tree.py"
