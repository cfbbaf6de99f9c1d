"""``import dsp`` (and every dsp submodule, and the DSP subcommands) must never import torch."""

import subprocess
import sys

import pytest

DSP_MODULES = [
    "dsp",
    "dsp.sampling",
    "dsp.signals",
    "dsp.interpolation",
    "dsp.kaiser",
    "dsp.filters",
    "dsp.response",
    "dsp.resample",
    "dsp.aliasing",
    "dsp.spectrum",
    "dsp.imagefiles",
    "dsp.figures",
    "dsp.schedule",
    "dsp.plots.response",
    "dsp.plots.spectrum",
    "dsp.plots.schedule",
    "dsp.plots.signals",
    "dsp.plots.figures",
    "aliasfree.cli",
]


def _imports_torch(code: str) -> bool:
    probe = code + "\nimport sys\nprint('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return out.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("module", DSP_MODULES)
def test_dsp_module_does_not_import_torch(module):
    assert not _imports_torch(f"import {module}")


def test_probe_detects_torch():
    # The probe itself must be able to fail.
    assert _imports_torch("import torch")


def test_dsp_subcommand_help_does_not_import_torch():
    code = (
        "import contextlib, io\n"
        "from aliasfree.cli import main\n"
        "for cmd in ('filter', 'schedule', 'spectrum', 'tour'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main([cmd, '--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
    )
    assert not _imports_torch(code)


def test_dsp_subcommand_filter_run_does_not_import_torch(tmp_path):
    # docs/ARCHITECTURE.md: "`aliasfree filter` never loads torch": the whole command, plots
    # included, not only its --help.
    out = tmp_path / "filter"
    code = (
        "import contextlib, io\n"
        "from aliasfree.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['filter', '--numtaps', '12', '--cutoff', '16', '--width', '20',\n"
        f"               '--fs', '64', '--plots-2d', '--out', {str(out)!r}])\n"
        "assert rc == 0, rc\n"
    )
    assert not _imports_torch(code)
    assert (out / "filter_taps.json").is_file()
    assert list(out.glob("*.png"))  # the plots ran too
