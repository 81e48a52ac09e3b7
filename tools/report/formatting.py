"""How the report shows metric values: the headline columns, number formats, the best value of
a column and the one-line lead, and the rows of the label-free threshold table. The columns themselves are
tools/eval/evaluation.py's COLUMNS and COUNT_COLUMNS."""
from __future__ import annotations

import math

from tools.eval.evaluation import COUNT_COLUMNS

HEADLINE = ("IDF1", "MOTA", "HOTA", "IDs", "IDP", "IDR", "FP", "FN", "FM", "AssA", "DetA")
LOWER_IS_BETTER = frozenset({"IDs", "FP", "FN", "FM", "FAR", "ML"})
# PT (partly tracked) has no direction: a track moved from MT or to ML changes it either way.
NO_DIRECTION = frozenset({"PT"})

Row = tuple[str, str, dict]   # (run name, label shown, {column: value})


def format_value(column: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if column in COUNT_COLUMNS:
        return str(int(value))
    return f"{value:.2f}" if column == "FAR" else f"{value:.1f}"


def best(rows: dict[str, dict], column: str) -> set[str]:
    """The runs holding the best value of `column`; none when the column has no direction,
    fewer than two runs have a value, or every run ties (nothing stands out)."""
    if column in NO_DIRECTION:
        return set()
    values = {n: v.get(column) for n, v in rows.items() if v.get(column) is not None
              and math.isfinite(v.get(column))}
    if len(values) < 2 or len(set(values.values())) == 1:
        return set()
    pick = min if column in LOWER_IS_BETTER else max
    target = pick(values.values())
    return {n for n, v in values.items() if v == target}


def calibration_rows(calib: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["descriptor", "metric", "AUC (label-free)", "proposal", "default", "used", "why"]
    body = []
    for c in calib:
        body.append([c.get("label", c.get("model", "")), c.get("metric", ""),
                     "-" if c.get("auc") is None else f"{c['auc']:.3f}",
                     "-" if c.get("proposal") is None else f"{c['proposal']:.4g}",
                     f"{c.get('default', 0.2):.4g}", f"{c.get('used', 0.2):.4g}", c.get("why", "")])
    return head, body


def leader_line(rows: list[Row], column: str = "IDF1") -> str | None:
    """'X leads on IDF1 with 62.3, 1.8 ahead of Y (60.5).' over the table's runs; None with
    fewer than two values."""
    scored = sorted(((v[column], label) for _, label, v in rows
                     if v.get(column) is not None and math.isfinite(v[column])), reverse=True)
    if len(scored) < 2:
        return None
    (best, first), (second, runner_up) = scored[:2]
    best, second = round(best, 1), round(second, 1)   # the margin of the values as the table shows them
    if best == second:
        return f"{first} and {runner_up} tie on {column} at {best:.1f}."
    return (f"{first} leads on {column} with {best:.1f}, {best - second:.1f} ahead of "
            f"{runner_up} ({second:.1f}).")
