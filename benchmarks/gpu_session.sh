#!/usr/bin/env bash
# Every GPU measurement the open issues need, in one call that fits a short device session.
#
#   OUT=$OUT bash benchmarks/gpu_session.sh            # from the repository root, on the GPU
#   SESSION_BUDGET_S=500 OUT=... bash benchmarks/gpu_session.sh
#
# Stages, in priority order (a later stage gets whatever time the earlier ones left; none starts
# with less time left than it needs to finish one case, and each runs under `timeout` so the
# whole call ends inside the budget):
#   1. benchmarks/gpu_ops.py --compare      (issue 3: kernel variants, ~125 s) → best_variant.txt
#   2. benchmarks/gpu_generator.py          (issue 4: T and R at 256, batch 16, Triton path with
#      cudnn.benchmark on × grouped and batched modulated convolutions: the plain reference
#      path was timed on 2026-11-28) → the faster order for config T (_pick.py)
#   3. benchmarks/gpu_profile.py            (issue 4: where T's and R's fwd+bwd time goes, per
#      kernel category: convolutions, fused ops, elementwise; device busy vs wall time)
#   4. benchmarks/train_step.py --cycles 1  (issue 5: T and R at 256, batch 32; cudnn.benchmark
#      on, as aliasfree train runs on a GPU; the modulated convolutions in stage 2's order)
#   5. benchmarks/gpu_generator.py          (issue 4: T and R at 1024, batch 4, cudnn.benchmark
#      on, both orders)
#   6. aliasfree train --device cuda        (issue 5: the command end to end on the GPU: bf16
#      autocast, Triton ops, snapshot with metrics; tiny config T, 0.2 kimg)
#   7. benchmarks/gpu_generator.py          (issue 4: stage 2 with cudnn.benchmark off, grouped
#      order, in its own process: cuDNN keeps the first setting's plans for the life of a
#      process, so off and on cannot share one; session 9's figures were off)
#   8. benchmarks/data_loading.py           (issue 5: how long a step waits for its reals from
#      a 256 px PNG zip, batch 32, read on the main thread vs 4 loader threads)
#   9. benchmarks/gpu_generator.py          (issues 3, 4: stage 2's Triton rows again with the
#      half-precision kernels of b64_r168_yve, which plans with a heavier epilogue weight: its
#      plans differ from b64_r168_yv's only in layers that stage 1's four shapes do not have,
#      so only the whole generator can tell; gpu_ops_NOTES.md, "Session 13"; last, since
#      it matters only if a b64_r168_yv* variant won stage 1: it runs only with time to spare)
# (torch.compile of the generators on the GPU was measured on 2026-11-28 by hand:
# benchmarks/generator_compile.py --device cuda; RESULTS.md, "Session 9".)
# Stages 2–6 run with ALIASFREE_TRITON_VARIANT set to the variant stage 1 ranked first when that
# is not the half-precision default already (gpu_ops.py writes best_variant.txt after every case
# once two variants are complete, so a comparison cut short still names one), so the generator
# and training figures use the best kernels.
# Each stage's log (<stage>.log) and JSON (see each script's docstring) go to a work folder that
# is packed into $OUT/results.tgz after every stage (checkpoints left out): the device tool
# brings back at most 8 files from $OUT, and a run stopped half-way still returns what it had.
# $OUT/session.log is the summary. Read them with `tar xzf results.tgz`. Afterwards: copy the
# figures into benchmarks/RESULTS.md and, if stage 1 picked a variant other than the current
# half-precision default, update DEFAULT_VARIANTS in gan/ops/_triton/_launch.py.
set -u
FINAL=${OUT:?set OUT to a folder for the logs and JSON}
mkdir -p "$FINAL"
OUT=$(mktemp -d "${TMPDIR:-/tmp}/gpu_session.XXXXXX")
export OUT PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$(pwd)" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
BUDGET=${SESSION_BUDGET_S:-520}
T0=$(date +%s)

pack() {  # everything so far into $FINAL/results.tgz, atomically; the summary beside it
    tar czf "$FINAL/.results.tgz" --exclude='*.safetensors' -C "$OUT" . &&
        mv -f "$FINAL/.results.tgz" "$FINAL/results.tgz"
    cp -f "$OUT/session.log" "$FINAL/session.log"
}

left() { echo $((BUDGET - ($(date +%s) - T0))); }

stage() {  # stage NAME MIN_SECONDS MAX_SECONDS COMMAND...
    local name=$1 need=$2 max=$3
    shift 3
    local avail
    avail=$(left)
    if ((avail < need)); then
        echo "== $name: skipped, ${avail} s left" | tee -a "$OUT/session.log"
        return
    fi
    ((max > avail - 5)) && max=$((avail - 5))
    echo "== $name: up to ${max} s ($(date -u +%T))" | tee -a "$OUT/session.log"
    # The scripts stop starting cases after --budget-s; timeout is the backstop.
    timeout --kill-after=5 "$max" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: exit $? after $(($(date +%s) - T0)) s" | tee -a "$OUT/session.log"
    tail -n 25 "$OUT/$name.log"
    pack
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    "$PY" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
} 2>&1 | tee "$OUT/session.log"

GPU_OPS_BUDGET_S=120 stage ops_compare 60 170 "$PY" benchmarks/gpu_ops.py --compare
if [[ -s "$OUT/best_variant.txt" ]]; then
    export ALIASFREE_TRITON_VARIANT=$(cat "$OUT/best_variant.txt")
fi
echo "== variant for the rest: ${ALIASFREE_TRITON_VARIANT:-default}" | tee -a "$OUT/session.log"

budget() {  # budget CASE_SECONDS STAGE_MAX: the scripts' own "no case starts after" limit,
    # the stage's time (its cap, or what the session has left) less one case's time, so that a
    # case it starts finishes before the stage's timeout kills the whole script
    local cap=$(($(left) - 5))
    ((cap > $2)) && cap=$2
    local b=$((cap - $1))
    echo $((b > 1 ? b : 1))
}
# cudnn.benchmark on (as training runs); off in its own process at the end (cuDNN keeps the
# plans of the first setting for the life of a process).
stage generator_256 90 170 "$PY" benchmarks/gpu_generator.py --cases t:256:16 r:256:16 \
    --impls auto --cudnn-benchmark on --modconv grouped batched --budget-s "$(budget 60 170)"
mv -f "$OUT/gpu_generator.json" "$OUT/gpu_generator_256.json" 2>/dev/null
MODCONV=$("$PY" benchmarks/_pick.py modconv "$OUT/gpu_generator_256.json")
MODCONV=${MODCONV:-grouped}
echo "== modulated convolutions for the rest: $MODCONV" | tee -a "$OUT/session.log"
stage profile 60 80 "$PY" benchmarks/gpu_profile.py --cases t:256:16 r:256:16 \
    --modconv "$MODCONV" --cudnn-benchmark --budget-s 50
stage train_step 100 220 "$PY" benchmarks/train_step.py --cases t:256:32 r:256:32 --cycles 1 \
    --modconv "$MODCONV" --budget-s "$(budget 115 220)" --case-timeout-s 110
stage generator_1024 90 200 "$PY" benchmarks/gpu_generator.py --cases t:1024:4 r:1024:4 \
    --impls auto --cudnn-benchmark on --modconv grouped batched --budget-s "$(budget 60 200)"
mv -f "$OUT/gpu_generator.json" "$OUT/gpu_generator_1024.json" 2>/dev/null
stage train_cli 60 120 "$PY" -m aliasfree train --device cuda --kimg 0.2 --snap-kimg 0.2 \
    --out "$OUT/train_cli_run"
stage generator_256_off 60 100 "$PY" benchmarks/gpu_generator.py --cases t:256:16 r:256:16 \
    --impls auto --cudnn-benchmark off --modconv grouped --budget-s "$(budget 50 100)"
mv -f "$OUT/gpu_generator.json" "$OUT/gpu_generator_256_off.json" 2>/dev/null
stage data_loading 30 45 "$PY" benchmarks/data_loading.py --device cuda --images 128 --steps 8 \
    --threads 0 4
ALIASFREE_TRITON_VARIANT=b64_r168_yve stage generator_256_yve 60 90 "$PY" \
    benchmarks/gpu_generator.py --cases t:256:16 r:256:16 --impls auto --cudnn-benchmark on \
    --modconv "$MODCONV" --budget-s "$(budget 50 90)"
mv -f "$OUT/gpu_generator.json" "$OUT/gpu_generator_256_yve.json" 2>/dev/null
echo "== done after $(($(date +%s) - T0)) s" | tee -a "$OUT/session.log"
pack
