"""analysis/ as a pip package (pyproject.toml): installed offline, as analysis/README.md
says, into a virtual environment that uses the system's packages, it imports from the
environment, carries ioca's version (CMakeLists.txt) and puts `ioca-analysis` on PATH.

The package is built from a copy of analysis/ (and CMakeLists.txt beside it), so that the
build leaves nothing in the source tree."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ANALYSIS_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = ANALYSIS_DIR.parent


def cmake_version() -> str:
    text = (REPO_DIR / "CMakeLists.txt").read_text(encoding="utf-8")
    return re.search(r"project\(\s*ioca\s+VERSION\s+([0-9][0-9A-Za-z.+-]*)", text).group(1)


def test_offline_pip_install_into_a_system_site_venv(tmp_path):
    src = tmp_path / "repo" / "analysis"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ANALYSIS_DIR / name, src / name)
    shutil.copytree(ANALYSIS_DIR / "ioca_analysis", src / "ioca_analysis",
                    ignore=shutil.ignore_patterns("__pycache__", "_version.py"))
    shutil.copy(REPO_DIR / "CMakeLists.txt", src.parent / "CMakeLists.txt")
    venv = tmp_path / "venv"
    # Only the system's packages: no PYTHONPATH, no pip settings (find-links, indexes).
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith("PIP_")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull)

    def run(*cmd, cwd=tmp_path):
        done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--no-build-isolation", "--no-index",
        src)
    out = run(venv / "bin" / "python", "-c",
              "import ioca_analysis, pandas; print(ioca_analysis.__version__); "
              "print(ioca_analysis.__file__); print(callable(ioca_analysis.open))")
    version, where, has_open = out.split()
    assert version == cmake_version()
    assert Path(where).resolve().is_relative_to(venv.resolve())   # not the source tree
    assert has_open == "True"
    assert run(venv / "bin" / "ioca-analysis", "--version").strip() == \
        f"ioca_analysis {cmake_version()}"
    # The source tree's copy reads the same version from CMakeLists.txt.
    out = run(sys.executable, "-c", "import ioca_analysis; print(ioca_analysis.__version__)",
              cwd=ANALYSIS_DIR)
    assert out.strip() == cmake_version()
