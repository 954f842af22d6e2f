"""The worked example of analysis/README.md ("Python API"), run as it stands on a small
generated study: the documented API must work as documented."""

import os
import re
import subprocess
import sys
from pathlib import Path

from ioca_results_factory import write_results

ANALYSIS_DIR = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ANALYSIS_DIR / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- worked-example:begin -->\s*```python\n(.*?)```\s*"
                  r"<!-- worked-example:end -->", text, re.S)
    assert m, "README.md has no worked example between its markers"
    return m.group(1)


def test_readme_worked_example_runs(tmp_path):
    write_results(tmp_path / "results.h5", quantities=("entropy", "mutual_information"),
                  scopes=["layer0", "network"], repeats=2,
                  measure_names=("entropy", "mutual_information"))
    (tmp_path / "example.py").write_text(readme_example(), encoding="utf-8")
    # A headless test: the example itself leaves the backend to matplotlib (a notebook's
    # inline backend); here no display exists, so Agg is chosen explicitly.
    env = dict(os.environ, MPLBACKEND="agg",
               PYTHONPATH=os.pathsep.join([str(ANALYSIS_DIR)] + [
                   p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    run = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("study | synthetic-relu-8x6, synthetic-tanh-8x6\n")
    # summary rows: 2 conditions x 2 quantities, n = 3 seeds, the exact sign-flip floor
    rows = [line.split() for line in out.splitlines() if line.startswith(" synthetic-")
            or line.startswith("synthetic-")]
    assert any(r[:3] == ["synthetic-relu-8x6", "mutual_information", "3"] for r in rows)
    assert "0.25" in out                      # p of 3 seeds all one sign: 2/2^3
    assert "accuracy" in out and "layer" in out
    svg = (tmp_path / "curves.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    print(out)  # (shown with pytest -s: the example's output)
