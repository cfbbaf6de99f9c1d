"""Every notebook under notebooks/ is executed top to bottom and must finish without error."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Notebooks read ALIASFREE_NOTEBOOK_FAST to pick small sizes under test.
    monkeypatch.setenv("ALIASFREE_NOTEBOOK_FAST", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors


BUILDERS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("build_*.py"))


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda p: p.name)
def test_committed_notebook_matches_its_builder(builder, monkeypatch):
    import runpy

    # The builders import their shared helper as a sibling module.
    monkeypatch.syspath_prepend(str(builder.parent))
    cells = runpy.run_path(str(builder))["_nb"].build().cells
    name = builder.stem.replace("build_", "")
    (committed,) = builder.parent.glob(f"{name}_*.ipynb")
    want = nbformat.read(committed, as_version=4).cells
    assert [(c.cell_type, c.source) for c in cells] == [(c.cell_type, c.source) for c in want]
    assert all(not c.get("outputs") for c in want if c.cell_type == "code")
