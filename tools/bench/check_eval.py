"""Check that `tools.eval.evaluation` reproduces the official MOTChallenge devkit's figures.

The reference is py-motmetrics' test data (motmetrics/data/<seq>/gt.txt and test.txt for
TUD-Campus and TUD-Stadtmitte), whose expected values py-motmetrics took from the official devkit.
Put the files in FOLDER/<seq>/gt.txt and FOLDER/<seq>/test.txt (default FOLDER:
data/external/motmetrics, git-ignored) and run

    python -m tools.bench.check_eval [FOLDER]

Exit status 0 when every figure matches (or when the files are absent: the check is skipped),
1 on a mismatch, 2 on unreadable input.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tools.io.errors import InputError
from tools.eval.evaluation import evaluate

# Official devkit figures (IDF1 and MOTA in percent to two decimals, ID switches exact).
EXPECTED = {
    "TUD-Campus": {"IDF1": 55.77, "MOTA": 52.65, "IDs": 7},
    "TUD-Stadtmitte": {"IDF1": 64.46, "MOTA": 56.40, "IDs": 7},
}
# Shown for information, not checked.
_SHOWN = ("IDP", "IDR", "Rcll", "Prcn", "FP", "FN", "FM", "MOTP", "HOTA")


def _matches(column: str, measured: float, expected: float) -> bool:
    if column == "IDs":
        return int(measured) == int(expected)
    return abs(measured - expected) <= 0.005 + 1e-9


def check(folder: Path) -> int:
    present = [seq for seq in EXPECTED
               if (folder / seq / "gt.txt").is_file() and (folder / seq / "test.txt").is_file()]
    missing = [seq for seq in EXPECTED if seq not in present]
    if not present:
        print(f"check_eval: skipped, no py-motmetrics reference files under {folder} "
              f"(expected <seq>/gt.txt and <seq>/test.txt for {', '.join(EXPECTED)})")
        return 0
    for seq in missing:
        print(f"check_eval: {seq} skipped, its files are not under {folder}")

    with tempfile.TemporaryDirectory(prefix="check-eval-") as tmp:
        tmp = Path(tmp)
        for seq in present:
            (tmp / "gt" / seq / "gt").mkdir(parents=True)
            shutil.copyfile(folder / seq / "gt.txt", tmp / "gt" / seq / "gt" / "gt.txt")
            (tmp / "results").mkdir(exist_ok=True)
            shutil.copyfile(folder / seq / "test.txt", tmp / "results" / f"{seq}.txt")
        # The py-motmetrics files are MOT15 sequences without seqinfo.ini.
        summary = evaluate(tmp / "results", tmp / "gt", benchmark="MOT15")

    failures = 0
    print(f"{'sequence':<16}{'metric':<8}{'measured':>10}{'official':>10}  result")
    for seq in present:
        for column, expected in EXPECTED[seq].items():
            measured = summary[seq][column]
            ok = _matches(column, measured, expected)
            failures += not ok
            shown = f"{int(measured)}" if column == "IDs" else f"{measured:.2f}"
            wanted = f"{int(expected)}" if column == "IDs" else f"{expected:.2f}"
            print(f"{seq:<16}{column:<8}{shown:>10}{wanted:>10}  {'ok' if ok else 'MISMATCH'}")
        extra = ", ".join(f"{c} {summary[seq][c]:g}" if isinstance(summary[seq][c], int)
                          else f"{c} {summary[seq][c]:.2f}" for c in _SHOWN)
        print(f"{'':<16}(also {extra})")
    if failures:
        print(f"check_eval: {failures} figure(s) differ from the official devkit")
        return 1
    print(f"check_eval: all {sum(len(EXPECTED[s]) for s in present)} figures match the "
          f"official devkit")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.check_eval",
        description="Compare tools.eval.evaluation with the official devkit's figures on "
                    "py-motmetrics' TUD-Campus and TUD-Stadtmitte test files.")
    parser.add_argument("folder", nargs="?", default="data/external/motmetrics",
                        help="folder with <seq>/gt.txt and <seq>/test.txt "
                             "(default: data/external/motmetrics)")
    args = parser.parse_args(argv)
    try:
        return check(Path(args.folder))
    except InputError as exc:
        print(f"check_eval: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
