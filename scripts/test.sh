#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: lint, format, unit and property tests,
# notebooks, Triton kernels under the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
