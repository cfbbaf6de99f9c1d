"""Shared by the notebook builders (``build_0N.py``): collect cells, write the notebook.

Each builder describes its cells with ``md(...)`` and ``code(...)`` and calls ``write(name)``;
the notebook is written without outputs and with stable cell ids, so rebuilding an unchanged
builder gives a byte-identical file.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


class NotebookBuilder:
    def __init__(self) -> None:
        self.cells: list[tuple[str, str]] = []

    def md(self, text: str) -> None:
        self.cells.append(("md", text.strip("\n")))

    def code(self, text: str) -> None:
        self.cells.append(("code", text.strip("\n")))

    def build(self) -> nbformat.NotebookNode:
        nb = new_notebook()
        nb.cells = [
            new_markdown_cell(src) if kind == "md" else new_code_cell(src)
            for kind, src in self.cells
        ]
        for i, cell in enumerate(nb.cells):
            cell.id = f"cell-{i:02d}"
        nb.metadata["kernelspec"] = {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        }
        nb.metadata["language_info"] = {"name": "python"}
        return nb

    def write(self, name: str) -> Path:
        path = Path(__file__).resolve().parent / name
        nb = self.build()
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"wrote {path}")
        return path
