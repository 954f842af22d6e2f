"""Command line: `python -m ioca_analysis report|summary FILE`.

Exit status: 0 success, 2 bad input or usage (one line on stderr naming the file and the
problem), 1 internal error.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__, stats
from .report import DEFAULT_PER_CLASS_ORDER, Options, summary_text, write_report
from .results import DIRECTIONS, Results, ResultsError
from .tables import P_FAMILIES, compute

PROG = "ioca_analysis"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, exit 2 (argparse's own default prints the whole usage first).
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def _order(text: str):
    parts = [p for p in text.replace(":", "/").split("/") if p]
    if len(parts) != 3 or parts[2] not in DIRECTIONS:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not SCOPE/QUANTITY/DIRECTION (e.g. network/mutual_information/"
            "descending; DIRECTION ascending or descending)")
    return tuple(parts)


def _formats(text: str):
    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in ("png", "svg", "pdf")]
    if bad:
        raise argparse.ArgumentTypeError(f"'{bad[0]}' is not a figure format (png, svg, pdf)")
    return tuple(["png"] + [f for f in dict.fromkeys(wanted) if f != "png"])


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Figures, tables and a report from an ioca file: a "
                "study's results (ioca run --out), a measures file (ioca measure --out) or an "
                "ablation file (ioca ablate --out).")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def common(sp):
        sp.add_argument("results", help="the file (HDF5): ioca run, measure or ablate --out")
        sp.add_argument("--measures", metavar="FILE", default=None,
                        help="with an ablation file: the measures file of the same model "
                             "(default: the one the ablation file names, when found)")
        sp.add_argument("--exact-max-n", type=int, default=stats.EXACT_MAX_N, metavar="N",
                        help="paired tests: exact sign-flip test up to N seeds, Wilcoxon "
                             f"signed-rank above (default {stats.EXACT_MAX_N})")
        sp.add_argument("--p-family", choices=P_FAMILIES, default="report",
                        help="family for the Holm and Benjamini-Hochberg adjusted p-values: "
                             "all tests of the report (default) or each table")

    r = sub.add_parser("report", help="write the figures (PNG, SVG), index.html, summary.md and "
                       "tables.json into a folder")
    common(r)
    r.add_argument("-o", "--out", default="report", metavar="DIR",
                   help="output folder (created; default ./report)")
    r.add_argument("--per-class", type=_order, default=DEFAULT_PER_CLASS_ORDER,
                   metavar="SCOPE/QUANTITY/DIRECTION",
                   help="order of the per-class accuracy figure (default "
                        + "/".join(DEFAULT_PER_CLASS_ORDER) + ")")
    r.add_argument("--band", choices=stats.BANDS, default="auto",
                   help="band over seeds around the mean curves: 95%% t confidence interval "
                        "(ci), min-max, interquartile range (iqr), none, or auto (default: "
                        f"min-max below {stats.AUTO_MINMAX_BELOW} seeds, ci from there on)")
    r.add_argument("--formats", default="png,svg", type=_formats, metavar="LIST",
                   help="figure files, comma-separated from png, svg, pdf; png is always "
                        "written, for the page (default png,svg)")
    r.add_argument("--per-class-seed", type=int, default=None, metavar="SEED",
                   help="seed of the network shown in the per-class figure (default: the "
                        "first seed of each condition)")
    s = sub.add_parser("summary", help="print the tables in the terminal")
    common(s)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.exact_max_n < 1 or args.exact_max_n > 20:
        sys.stderr.write(f"{PROG}: error: --exact-max-n must be between 1 and 20\n")
        return 2
    try:
        with Results(args.results, measures=args.measures) as results:
            if args.command == "summary":
                options = Options(exact_max_n=args.exact_max_n, p_family=args.p_family)
                sys.stdout.write(summary_text(results, compute(results, args.exact_max_n,
                                                               args.p_family), options))
            else:
                options = Options(per_class_order=args.per_class,
                                  per_class_seed=args.per_class_seed,
                                  exact_max_n=args.exact_max_n, p_family=args.p_family,
                                  band=args.band, formats=args.formats)
                out = write_report(results, args.out, options)
                for note in out["notes"]:
                    sys.stderr.write(f"{PROG}: note: {note}\n")
                sys.stdout.write(f"{args.out}/index.html: {len(out['figures'])} figures; "
                                 f"tables in {args.out}/summary.md and "
                                 f"{args.out}/tables.json\n")
    except ResultsError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"{PROG}: error: {where}{exc.strerror or exc}\n")
        return 2
    return 0


def console_main():
    """The `ioca-analysis` command a pip install puts on PATH."""
    sys.exit(main())
