"""The README's Python tour runs as written."""

import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_tour_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python tour") :]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    script = tmp_path / "tour.py"
    script.write_text(code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
