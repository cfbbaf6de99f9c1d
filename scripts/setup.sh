#!/usr/bin/env bash
# Create .venv and install aliasfree with everything the tests, notebooks and kernels need.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: on these machines 2.13.0 is the CPU wheel that lies on disk, while an
# unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q -e ".[torch,gpu,dev,data]"
