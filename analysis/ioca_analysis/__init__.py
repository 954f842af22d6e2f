"""Post-hoc analysis of ioca study results files (`ioca run --out results.h5`).

Modules:
    results  -- reading a results file, format 1 or 2 (class `Results`, error `ResultsError`)
    packed   -- format 2 (packed arrays + index tables) seen as h5py-like groups and datasets
    stats    -- small statistics: AUC of a curve, Spearman, paired tests, bands
    tables   -- the tables of a report (Spearman vs damage, AUCs, ascending vs descending)
    figures  -- the PNG figures (matplotlib, Agg backend)
    report   -- assembling index.html, summary.md, tables.json and the terminal summary
    cli      -- the command line (`python -m ioca_analysis report|summary FILE`)
"""

__version__ = "1.0.0"

from .results import Results, ResultsError  # noqa: F401  (re-exported)
