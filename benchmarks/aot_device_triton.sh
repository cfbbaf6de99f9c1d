#!/usr/bin/env bash
# The no-GPU compile checks (benchmarks/aot_kernels.py, gpu_ops.py --regs) with the Triton
# version of the lent GPU machines (3.6.0 with their torch 2.11), which compiles the same kernels
# to different register counts and spills than the newer Triton of a development install.
#
#   bash benchmarks/aot_device_triton.sh                  # every network kernel (≈ 4 min)
#   bash benchmarks/aot_device_triton.sh --nets r --res 256
#   REGS=1 bash benchmarks/aot_device_triton.sh           # gpu_ops.py --regs instead
#
# The side environment (torch CPU wheel + that Triton) lives in $AOT_VENV, created on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AOT_VENV:-${TMPDIR:-/tmp}/aliasfree-device-triton}
TRITON_VERSION=${DEVICE_TRITON:-3.6.0}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import triton, sys; sys.exit(triton.__version__ != '$TRITON_VERSION')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" "triton==$TRITON_VERSION"
    "$VENV/bin/python" -m pip install -q -e ".[torch]"
fi
unset TRITON_INTERPRET
if [ -n "${REGS:-}" ]; then
    exec "$VENV/bin/python" benchmarks/gpu_ops.py --regs "$@"
fi
exec "$VENV/bin/python" benchmarks/aot_kernels.py "$@"
