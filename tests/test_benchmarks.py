"""The device-session driver (benchmarks/gpu_session.sh) and the variant choice of
benchmarks/gpu_ops.py, checked without a GPU: a lent device's minutes are too few to debug
scripts there."""

import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FAKE_PY = """#!/usr/bin/env bash
# Stands in for python3: records its arguments and the kernel variant it would run with.
echo "$* | variant=${ALIASFREE_TRITON_VARIANT:-default}" >> "$OUT/calls.txt"
case "$*" in
  *--compare*) [ -n "${FAKE_BEST:-}" ] && echo "$FAKE_BEST" > "$OUT/best_variant.txt"
               [ -n "${FAKE_SLEEP:-}" ] && sleep "$FAKE_SLEEP" ;;
  *gpu_generator.py*) echo '{}' > "$OUT/gpu_generator.json" ;;
  *aliasfree*) mkdir -p "$OUT/train_cli_run" && echo png > "$OUT/train_cli_run/samples.png" &&
               echo weights > "$OUT/train_cli_run/generator.safetensors" ;;
esac
exit 0
"""


def _session(tmp_path: Path, **env: str) -> list[str]:
    fake = tmp_path / "fakepy"
    fake.write_text(FAKE_PY)
    fake.chmod(0o755)
    out = tmp_path / "out"
    run_env = {**os.environ, "PYTHON": str(fake), "OUT": str(out), **env}
    run_env.pop("ALIASFREE_TRITON_VARIANT", None)
    subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_session.sh")],
        cwd=ROOT,
        env=run_env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    # The device tool brings back at most 8 files from $OUT: the script leaves two there.
    assert sorted(p.name for p in out.iterdir()) == ["results.tgz", "session.log"]
    with tarfile.open(out / "results.tgz") as tar:
        tar.extractall(tmp_path / "results", filter="data")
    return (tmp_path / "results" / "calls.txt").read_text().splitlines()


def test_session_runs_every_stage_in_order_with_the_best_variant(tmp_path):
    calls = _session(tmp_path, FAKE_BEST="vmask")
    scripts = [c.split(" | ")[0] for c in calls[1:]]  # calls[0]: the version print
    assert [s.split()[0] if not s.startswith("-m") else s.split()[1] for s in scripts] == [
        "benchmarks/gpu_ops.py",
        "benchmarks/gpu_generator.py",
        "benchmarks/_pick.py",
        "benchmarks/gpu_profile.py",
        "benchmarks/train_step.py",
        "benchmarks/gpu_generator.py",
        "aliasfree",
        "benchmarks/gpu_generator.py",
        "benchmarks/data_loading.py",
        "benchmarks/gpu_generator.py",
    ]
    assert calls[1].endswith("variant=default")
    assert all(c.endswith("variant=vmask") for c in calls[2:-1])
    # The last stage times the generators with the heavier-epilogue plans whatever won.
    assert calls[-1].endswith("variant=b64_r168_yve") and "t:256:16 r:256:16" in calls[-1]
    assert "t:256:16 r:256:16" in calls[2] and "t:1024:4 r:1024:4" in calls[6]
    # One cuDNN setting per process (its plan cache keeps the first setting's plans).
    assert "--cudnn-benchmark on --modconv grouped batched" in calls[2]
    assert "--cudnn-benchmark off --modconv grouped" in calls[8]
    assert "modconv" in calls[3] and "gpu_generator_256.json" in calls[3]
    # The fake pick printed nothing: profile and training take the default order.
    assert "--modconv grouped --cudnn-benchmark" in calls[4]
    assert "--modconv grouped" in calls[5]
    assert "--cudnn-benchmark on --modconv grouped batched" in calls[6]
    res = tmp_path / "results"
    assert (res / "gpu_generator_256.json").exists() and (res / "gpu_generator_1024.json").exists()
    assert (res / "gpu_generator_256_off.json").exists()
    assert (res / "gpu_generator_256_yve.json").exists()
    assert (res / "train_cli_run" / "samples.png").exists()
    assert not (res / "train_cli_run" / "generator.safetensors").exists()  # size: left out


def test_session_without_a_winner_keeps_the_default_and_respects_the_budget(tmp_path):
    # The comparison takes 12 s of a 70 s budget; every later stage needs at least 60 s.
    calls = _session(tmp_path, SESSION_BUDGET_S="70", FAKE_SLEEP="12")
    assert len(calls) == 4 and "gpu_ops.py --compare" in calls[1] and "_pick.py" in calls[2]
    log = (tmp_path / "out" / "session.log").read_text()
    assert "variant for the rest: default" in log
    assert log.count("skipped") == 7  # every later stage but data_loading (30 s)
    assert "data_loading.py" in calls[3]


def _load_script(name: str):
    """A benchmarks/ script as a module (they import their sibling ``_out``)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


@pytest.fixture(scope="module")
def gpu_ops():
    return _load_script("gpu_ops")


def _row(variant, ms, dtype="float16", **kw):
    return {"variant": variant, "dtype": dtype, "fwdbwd_ms": ms, **kw}


def test_best_variant_rule(gpu_ops):
    best = gpu_ops.best_variant
    rows = [
        _row("base", 10.0, ref_of_errors=True),
        _row("vmask", 8.0, ok=True, err_fwd=1e-3),
        _row("fast_but_wrong", 1.0, ok=True, err_dx=1.5e-2),  # inside ok, outside the 1e-2 rule
        _row("incomplete", 1.0, ok=True),  # finished one shape of two
        _row("base", 5.0, ref_of_errors=True),
        _row("vmask", 4.0, ok=True),
        _row("fast_but_wrong", 1.0, ok=True),
    ]
    assert best(rows) == "vmask"
    # A failing fp32 check or a crash disqualifies a variant however fast its fp16 rows are.
    assert best([*rows, _row("vmask", 30.0, dtype="float32", ok=False)]) == "base"
    assert best([*rows, {"variant": "vmask", "dtype": "float16", "error": "OutOfResources"}]) == (
        "base"
    )
    assert best([]) is None


def test_per_direction_best(gpu_ops):
    rows = [
        {"case": "L6", "dtype": "float16", "variant": "a", "fwd_ms": 2.0, "fwdbwd_ms": 9.0},
        {"case": "L6", "dtype": "float16", "variant": "b", "fwd_ms": 3.0, "fwdbwd_ms": 6.0},
        {"case": "L6", "dtype": "float16", "variant": "c", "fwd_ms": 1.0, "fwdbwd_ms": 2.0,
         "ok": False},  # outside tolerance: never the fastest
        {"case": "L6", "dtype": "float32", "variant": "d", "fwd_ms": 0.1, "fwdbwd_ms": 0.2},
    ]  # fmt: skip
    lines = gpu_ops.per_direction_best(rows)
    assert len(lines) == 2
    fields = lines[1].split()
    assert fields[:5] == ["L6", "fwd", "2.00", "a", "bwd"] and fields[5:] == ["3.00", "b"]
    assert gpu_ops.per_direction_best([]) == []


def test_captured_launches_follow_the_split_backward(gpu_ops):
    # --regs and the loop counts of the notes compile what the launcher would launch: with a
    # variant that splits the up-4 backward, its two kernels; else the one fused backward.
    pytest.importorskip("triton")
    split = gpu_ops._captured_launches("L6 84->148 up4", torch.float16, "b64_r168_yvx")
    assert [c[0] for c in split] == ["fwd", "bwd1", "bwd2"]
    assert split[1][3]["IDENT2"] and split[1][3]["MODE"] == 1 and split[2][3]["A"] == 4
    fused = gpu_ops._captured_launches("L6 84->148 up4", torch.float16, "b64_r168_yv")
    assert [c[0] for c in fused] == ["fwd", "bwd"] and not fused[1][3]["IDENT2"]
    up2 = gpu_ops._captured_launches("L8 148->148 up2", torch.float16, "b64_r168_yvx")
    assert [c[0] for c in up2] == ["fwd", "bwd"]


def test_aot_kernels_compiles_every_kernel_of_a_training_step(tmp_path):
    # benchmarks/aot_kernels.py: every Triton kernel config T's generator and the discriminator
    # launch in a bf16-autocast training step (forward, backward, R1's double backward) compiles
    # for sm_90 with this Triton and fits an H100's shared memory. No GPU needed.
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["OUT"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "aot_kernels.py"),
         "--nets", "t", "d", "--res", "32", "--modes", "autocast"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import json

    doc = json.loads((tmp_path / "aot_kernels.json").read_text())
    kernels = doc["kernels"]
    assert doc["run_failures"] == []
    kinds = {(k["kind"], k["MODE"]) for k in kernels}
    assert {("fused", 0), ("fused", 1), ("single", None)} <= kinds
    assert {k["dtype"] for k in kernels} == {"bfloat16"}
    for k in kernels:
        res = k["res"]
        assert "error" not in res, res
        assert 0 < res["regs"] <= 255 and res["smem"] <= 232448, (k, res)
        assert 0 < res["loop_sass"] < res["sass"], (k, res)  # every kernel loops over planes
        assert res["programs_per_sm"] >= 1, (k, res)
    assert {"t32/autocast", "d32/autocast"} <= {w for k in kernels for w in k["where"]}


def test_sass_loop_counts(gpu_ops):
    # A nested loop: the outer back-edge (to .L_x_0) spans 6 instructions, the inner one 2;
    # a forward branch is no loop, and the trailing self-loop after EXIT spans only itself.
    sass = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
.L_x_0:
        /*0010*/                   LDG.E R2, desc[UR4][R4.64] ;
.L_x_1:
        /*0020*/                   FADD R2, R2, 1 ;
        /*0030*/               @P0 BRA `(.L_x_1) ;
        /*0040*/               @P1 BRA `(.L_x_2) ;
        /*0050*/                   STG.E desc[UR4][R4.64], R2 ;
.L_x_2:
        /*0060*/               @P2 BRA `(.L_x_0) ;
        /*0070*/                   EXIT ;
.L_x_3:
        /*0080*/                   BRA `(.L_x_3);
"""
    assert gpu_ops.sass_loop_counts(sass) == {"sass": 9, "loop_sass": 6}
    assert gpu_ops.sass_loop_counts("") == {"sass": 0, "loop_sass": 0}


def test_sass_counts_is_best_effort(gpu_ops):
    # Recorded beside each timed kernel on the device; without a cubin (the interpreter) or with
    # one the disassembler rejects, the row simply has no counts.
    class NoCubin:
        asm: dict = {}

    class Garbage:
        asm = {"cubin": b"not a cubin"}

    assert gpu_ops.sass_counts(NoCubin()) == {}
    assert gpu_ops.sass_counts(Garbage()) == {}
    assert gpu_ops.sass_counts(object()) == {}


SASS_OF_A_KERNEL = """
import json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

sys.path.insert(0, "benchmarks")
import gpu_ops
from gan.ops._triton import _kernels

fn = _kernels._single_kernel
sig = {n: "constexpr" for n in fn.arg_names}
sig |= {"src_ptr": "*fp16", "dst_ptr": "*fp16", "dsum_ptr": "*fp32", "hy_ptr": "*fp32",
        "hx_ptr": "*fp32"}
for n in ("PLANES", "PPB", "SH", "SW", "DH", "DW", "KVPY", "OFFY", "KVPX", "OFFX", "TILES_H",
          "TILES_W"):
    sig[n] = "i32"
sig["gain"] = "fp32"
consts = dict(A=1, B=2, TY=4, TX=4, REV=False, R=1, BI=32, BO=32, TOV_H=16, TOV_W=16,
              DOT_DTYPE=triton.language.float16, PREC="tf32", HAS_DSUM=False, VEC=1)
k = triton.compile(ASTSource(fn, sig, consts), target=GPUTarget("cuda", 90, 32))
print(json.dumps(gpu_ops.sass_counts(k)))
"""


def test_sass_counts_of_a_compiled_kernel():
    # A real sm_90 compile (no GPU needed; in a process of its own, since the suite runs the
    # kernels interpreted) of a kernel with one loop: the counts are there and the loop is a
    # proper part of the whole.
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", SASS_OF_A_KERNEL],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 < counts["loop_sass"] < counts["sass"]


def test_programs_per_sm():
    aot = _load_script("aot_kernels")
    # Registers bind (per thread rounded up to 8, 64 K per SM), then warps, then shared memory.
    assert aot.programs_per_sm(255, 8, 81920) == 1
    assert aot.programs_per_sm(125, 4, 11264) == 4  # 128 x 128 threads = 16 K registers
    assert aot.programs_per_sm(150, 4, 15360) == 3  # 152 x 128 = 19 K
    assert aot.programs_per_sm(64, 4, 0) == 8 and aot.programs_per_sm(32, 1, 0) == 32
    assert aot.programs_per_sm(64, 4, 100 * 1024) == 2  # shared memory binds


def test_comparison_stops_at_a_lost_cuda_context_and_keeps_its_best(gpu_ops, tmp_path, monkeypatch):
    # The H200 comparison of 2026-11-28 hit an illegal memory access in one variant; the CUDA
    # context was then unusable and the run died without naming the best variant it had
    # measured. Now the ranking so far is written after every case and the run stops there.
    import torch

    times = {"base": 10.0, "vmask": 8.0, "crashes": None, "never_run": 1.0}
    ran = []

    def fake_case(prob, device, variant, prec, smoke):
        ran.append(variant)
        if times[variant] is None:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        row = {"case": prob, "dtype": "float16", "variant": variant, "prec": prec}
        return row | {"fwd_ms": 1.0, "fwdbwd_ms": times[variant]}

    monkeypatch.setattr(gpu_ops, "compare_case", fake_case)
    monkeypatch.setattr(gpu_ops, "Ops", lambda: None)
    monkeypatch.setattr(gpu_ops, "_Problem", lambda ops, device, layer, dtype, smoke: layer[0])
    monkeypatch.setattr(gpu_ops, "COMPARE_VARIANTS", list(times))
    monkeypatch.setattr(gpu_ops, "COMPARE_SHAPES", [gpu_ops.LAYERS[0][0]])
    monkeypatch.setattr(gpu_ops, "COMPARE_FP32", [])
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setenv("GPU_OPS_BUDGET_S", "1e9")
    assert gpu_ops.compare_main(torch.device("cpu"), smoke=True) == 1
    assert ran == ["base", "vmask", "crashes"]
    assert (tmp_path / "best_variant.txt").read_text().strip() == "vmask"
    assert gpu_ops._context_lost(RuntimeError("CUDA error: an illegal memory access"))
    assert gpu_ops._context_lost(RuntimeError("CUDA error: device-side assert triggered"))
    assert not gpu_ops._context_lost(RuntimeError("OutOfResources: shared memory"))


def test_best_variant_file_only_overrides_the_default(gpu_ops, tmp_path, monkeypatch):
    # best_variant.txt makes the session run its later stages with that variant in every
    # dtype: it is written only when the ranking rests on two or more complete variants and
    # names one other than the half-precision default.
    from gan.ops._triton import _launch

    monkeypatch.setenv("OUT", str(tmp_path))
    default = _launch.DEFAULT_VARIANTS[__import__("torch").float16]
    path = tmp_path / "best_variant.txt"
    gpu_ops._write_best([_row("base", 9.0), _row("vmask", 8.0)])
    assert path.read_text().strip() == "vmask"
    gpu_ops._write_best([_row("base", 9.0), _row("vmask", 10.0, dtype="float32")])
    assert not path.exists()  # one complete variant: no ranking yet
    gpu_ops._write_best([_row("base", 9.0), _row(default, 8.0)])
    assert not path.exists()  # the default already runs
    # Against the default it must win by more than the noise (2 %).
    gpu_ops._write_best([_row(default, 10.0), _row("b64_r168_stack", 9.9)])
    assert not path.exists()
    gpu_ops._write_best([_row(default, 10.0), _row("b64_r168_stack", 9.7)])
    assert path.read_text().strip() == "b64_r168_stack"


def test_generator_benchmark_paths_on_the_cpu(tmp_path, monkeypatch, capsys):
    # The device session times the generator with cudnn.benchmark on (and, in another process,
    # off) and with both orders of the modulated convolutions: every combination is a row, the
    # table labels them, and the images agree (the two orders compute the same function).
    gen = _load_script("gpu_generator")
    monkeypatch.setenv("OUT", str(tmp_path))
    argv = ["--smoke", "--cases", "t-tiny:32:1", "--impls", "ref", "--rep-ms", "5"]
    argv += ["--cudnn-benchmark", "on", "--modconv", "grouped", "batched"]
    assert gen.main(argv) == 0
    import json

    rows = json.loads((tmp_path / "gpu_generator.json").read_text())["rows"]
    assert [gen._path_label(r) for r in rows] == ["ref+cb", "ref+cb+bm"]
    assert all("error" not in r and r["finite"] for r in rows)
    assert all(r["psnr_db_vs_first_path"] > 100 for r in rows[1:])
    assert "ref+cb+bm" in capsys.readouterr().out
    # Two cuDNN settings cannot share a process: the flag takes one.
    with pytest.raises(SystemExit):
        gen.main(["--smoke", "--cudnn-benchmark", "off", "on"])


def test_modconv_pick(tmp_path):
    pick = _load_script("_pick")

    def row(mc, ms, cb=True, impl="auto", preset="t"):
        return {"preset": preset, "impl": impl, "cudnn_benchmark": cb, "modconv": mc,
                "fwd_bwd_ms": ms}  # fmt: skip

    assert pick.modconv([row("grouped", 180.0), row("batched", 120.0)]) == "batched"
    assert pick.modconv([row("grouped", 120.0), row("batched", 180.0)]) == "grouped"
    # Only the Triton path with cudnn.benchmark on, config T, counts; errors never win.
    assert pick.modconv([row("grouped", 180.0), row("batched", 1.0, cb=False)]) == "grouped"
    assert pick.modconv([row("grouped", 180.0), row("batched", 1.0, preset="r")]) == "grouped"
    assert pick.modconv([row("grouped", 180.0), row("batched", 1.0) | {"error": "x"}]) == "grouped"
    assert pick.modconv([]) == "grouped"
    f = tmp_path / "g.json"
    f.write_text('{"rows": [' + ", ".join(
        __import__("json").dumps(r) for r in (row("grouped", 2.0), row("batched", 1.0))
    ) + "]}")  # fmt: skip
    assert pick.main(["modconv", str(f)]) == 0
    assert pick.main(["modconv", str(tmp_path / "missing.json")]) == 0  # prints grouped


def test_data_loading_smoke(tmp_path, monkeypatch):
    import json

    bench = _load_script("data_loading")
    monkeypatch.setenv("OUT", str(tmp_path))
    argv = ["--res", "16", "--batch", "4", "--images", "8", "--steps", "3", "--step-s", "0.05"]
    assert bench.main([*argv, "--threads", "0", "2"]) == 0
    rows = json.loads((tmp_path / "data_loading.json").read_text())["rows"]
    assert [r["loader_threads"] for r in rows] == [0, 2]
    assert all(r["wait_median_ms"] >= 0 and r["serial_batch_ms"] > 0 for r in rows)


def test_profile_helpers_and_smoke(tmp_path, monkeypatch, capsys):
    prof = _load_script("gpu_profile")
    # Busy time is the union of kernel intervals (overlaps on two streams count once).
    assert prof.busy_union_us([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17
    assert prof.busy_union_us([]) == 0
    assert prof.category("_fused_kernel") == "fused op (Triton)"
    assert prof.category("sm90_xmma_wgrad_implicit_gemm_f16") == "convolution"
    assert prof.category("void at::native::vectorized_elementwise_kernel<4>") == "elementwise"
    assert prof.category("nvjet_hsh_256x128_64x4_1x2_h_bz_coopA_NTT") == "matrix product"
    assert prof.category("fft2d_r2c_32x32<float, false, 1u, false>") == "convolution"
    assert prof.category("something_new") == "other"
    monkeypatch.setenv("OUT", str(tmp_path))
    assert prof.main(["--smoke", "--iters", "1", "--cases", "t-tiny:16:1"]) == 0
    import json

    row = json.loads((tmp_path / "gpu_profile.json").read_text())["rows"][0]
    assert row["wall_ms"] > 0 and row["profiled_wall_ms"] > 0 and row["top_kernels"]
    assert abs(sum(row["by_category_ms"].values()) - row["kernel_sum_ms"]) < 1e-6
    assert "convolution" in capsys.readouterr().out
