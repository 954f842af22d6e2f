"""Post-hoc analysis of ioca files: a study's results (`ioca run --out results.h5`), or a
single measures (`ioca measure --out`) or ablation (`ioca ablate --out`) file.

    import ioca_analysis
    r = ioca_analysis.open("results.h5")      # a results.Results
    r.curves_df(), r.measures_df(), r.summary_df()   # tidy pandas tables

Modules:
    results  -- reading a file, format 1 or 2 (class `Results`, error `ResultsError`)
    single   -- a single measures or ablation file seen as a one-network study
    packed   -- format 2 (packed arrays + index tables) seen as h5py-like groups and datasets
    frames   -- tidy pandas DataFrames: networks, curves, measures, AUCs, summary statistics
    stats    -- small statistics: AUC of a curve, Spearman, paired tests, bands
    tables   -- the tables of a report (Spearman vs damage, AUCs, ascending vs descending)
    figures  -- the figures: plot_* functions draw into an `ax` and return the Figure
    report   -- assembling index.html, summary.md, tables.json and the terminal summary
    cli      -- the command line (`python -m ioca_analysis report|summary FILE`)
"""

import io as _io
import os as _os
import re as _re


def _version() -> str:
    """ioca's one version number, `project(ioca VERSION ...)` in CMakeLists.txt: written
    into _version.py when the package is built (setup.py), read from the source tree
    otherwise."""
    try:
        from ._version import version
        return version
    except ImportError:
        pass
    cmake = _os.path.join(_os.path.dirname(__file__), "..", "..", "CMakeLists.txt")
    try:
        with _io.open(cmake, encoding="utf-8") as f:
            m = _re.search(r"project\(\s*ioca\s+VERSION\s+([0-9][0-9A-Za-z.+-]*)", f.read())
        if m:
            return m.group(1)
    except OSError:
        pass
    return "unknown"


__version__ = _version()

from .results import Results, ResultsError  # noqa: E402  (re-exported)

__all__ = ["open", "Results", "ResultsError", "__version__"]


def open(path, measures=None) -> Results:  # noqa: A001  (ioca_analysis.open, like h5py.File)
    """Open any ioca file for analysis: a study results file (format 1 or 2), a measures
    file (`ioca measure --out`) or an ablation file (`ioca ablate --out`; `measures`: its
    measures file, else the one it names, when found). Returns a `Results` (`kind` says
    which); use it as a context manager or call close(). Raises `ResultsError` with a
    one-line message for anything else."""
    return Results(path, measures=measures)
