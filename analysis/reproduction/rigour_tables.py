"""The tables of REPRODUCTION.md's section "Rigour", printed from reports' tables.json.

Usage (from analysis/, after `python3 -m ioca_analysis report FILE -o DIR` for each study):
    /usr/bin/python3 reproduction/rigour_tables.py DIR [DIR ...]

For every report: the Spearman ρ of the binned quantities with single-neuron damage, and the
ascending − descending AUC differences and gaps to random of the quantities the paper's
claims are about, each with its raw, Holm and Benjamini–Hochberg p (the report's family), its
value over the first 25% of the ablations and, for studies of several measure settings, in how
many of them it holds.
"""
import json
import os
import sys

QUANTITIES = ("entropy", "mutual_information", "kl_selectivity", "kl_selectivity_corrected",
              "selectivity_index", "single_damage")


def fmt(x, signed=True, digits=3):
    if x is None:
        return "n/a"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def fmt_p(p):
    return "n/a" if p is None else f"{p:.3g}"


def holds_index(t, kind):
    return {tuple(e["key"]): e["k"] for e in t.get("holds", {}).get(kind, [])}


def main(dirs):
    for d in dirs:
        t = json.load(open(os.path.join(d, "tables.json"), encoding="utf-8"))
        k_settings = len(t.get("holds", {}).get("settings", [])) or 1
        print(f"## {os.path.basename(os.path.normpath(d))}  (K = {k_settings} setting(s))\n")
        print("| condition | scope | quantity | ρ with damage |")
        print("| --- | --- | --- | --- |")
        for r in t["spearman"]:
            if r["quantity"] in QUANTITIES[:5]:
                rho = r["rho"]
                print(f"| {r['condition']} | {r['scope']} | {r['quantity']} | "
                      f"{fmt(rho['mean'], digits=2)} ± {fmt(rho['sd'], False, 2)} ({rho['n']}) |")
        holds = holds_index(t, "asc_desc")
        print("\n| condition | scope | quantity | asc − desc | p | Holm | BH | 0–25% | holds |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in t["asc_desc"]:
            if r["quantity"] not in QUANTITIES:
                continue
            d_ = r["difference"]
            part = r.get("partial", {}).get("0.25", {}).get("difference", {})
            k = holds.get((r["condition"], r["scope"], r["quantity"]))
            print(f"| {r['condition']} | {r['scope']} | {r['quantity']} | "
                  f"{fmt(d_['mean'])} ± {fmt(d_['sd'], False)} | {fmt_p(r['test'].get('p'))} | "
                  f"{fmt_p(r['test'].get('p_holm'))} | {fmt_p(r['test'].get('p_bh'))} | "
                  f"{fmt(part.get('mean'))} | {'' if k is None else f'{k}/{k_settings}'} |")
        holds = holds_index(t, "gap")
        print("\n| condition | scope | quantity | direction | gap to random | p | Holm | BH | 0–25% | holds |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in t["auc"]:
            if r["quantity"] not in QUANTITIES:
                continue
            g = r["gap"]
            part = r.get("partial", {}).get("0.25", {}).get("gap", {})
            k = holds.get((r["condition"], r["scope"], r["quantity"], r["direction"]))
            print(f"| {r['condition']} | {r['scope']} | {r['quantity']} | {r['direction']} | "
                  f"{fmt(g['mean'])} ± {fmt(g['sd'], False)} | {fmt_p(r['gap_test'].get('p'))} | "
                  f"{fmt_p(r['gap_test'].get('p_holm'))} | {fmt_p(r['gap_test'].get('p_bh'))} | "
                  f"{fmt(part.get('mean'))} | {'' if k is None else f'{k}/{k_settings}'} |")
        print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
