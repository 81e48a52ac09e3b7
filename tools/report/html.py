"""The report as one self-contained HTML page: inline CSS, images as base64 PNG, no script."""
from __future__ import annotations

import base64
import html

from tools.eval.evaluation import COLUMNS
from tools.report.figures import Image
from tools.report.formatting import HEADLINE, Row, best, calibration_rows, format_value
from tools.report.model import DISAGREEMENT_INTRO, REFERENCE_GEOMETRY, Report

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1320px;color:#1b1b1b;background:#fff;line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:.92em}table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
th,td{padding:4px 9px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}thead th{background:#f1f3f5;border-bottom:2px solid #bbb}
td.best{font-weight:700;background:#e8f4ea}img{max-width:100%;height:auto;display:block}
figure{margin:1em 0}figcaption{color:#444;font-size:.9em;margin-top:.3em}
pre{background:#f6f8fa;padding:10px;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}.note{color:#7a4b00}
details{margin:.5em 0}summary{cursor:pointer;color:#0b5cad}
table.calibration td{white-space:normal;text-align:left;max-width:520px}
.warning{background:#fff4e5;border-left:4px solid #d9822b;padding:6px 12px;margin:.6em 0;color:#5c3300}
.lead{font-weight:600}
"""


def table(columns: list[str], rows: list[Row], css_class: str) -> str:
    named = {key: values for key, _, values in rows}
    best_of = {c: best(named, c) for c in columns}
    out = [f'<table class="{css_class}"><thead><tr><th>run</th>'
           + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr></thead><tbody>"]
    for key, label, values in rows:
        cells = "".join(f'<td class="best">{format_value(c, values.get(c))}</td>' if key in best_of[c]
                        else f"<td>{format_value(c, values.get(c))}</td>" for c in columns)
        out.append(f'<tr data-run="{html.escape(key)}"><td>{html.escape(label)}</td>{cells}</tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


def image(img: Image, element_id: str | None = None) -> str:
    data = base64.b64encode(img.png).decode("ascii")
    ident = f' id="{element_id}"' if element_id else ""
    return (f'<figure><img{ident} alt="{html.escape(img.alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(img.caption)}</figcaption></figure>")


def render(report: Report) -> str:
    """The page's text."""
    e = html.escape
    images = report.images
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(report.title)}</title><style>{CSS}</style></head><body>", f"<h1>{e(report.title)}</h1>"]
    for line in report.meta:
        parts.append(f'<p class="meta">{e(line)}</p>')
    for w in report.warnings:
        parts.append(f'<p class="warning"><strong>Warning:</strong> {e(w)}</p>')
    parts.append('<h2 id="metrics">Metrics</h2>')
    if report.lead:
        parts.append(f'<p class="lead">{e(report.lead)}</p>')
    parts.append(f"<p>TrackEval (HOTA, CLEAR, Identity), combined over {report.covered}: "
                 f"{e(', '.join(report.sequences))}. Best value per column in bold.</p>")
    parts.append(table(list(HEADLINE), report.rows, "metrics"))
    parts.append("<details><summary>all columns</summary>" + table(COLUMNS, report.rows, "metrics-all")
                 + "</details>")
    if report.other_rows:
        parts.append(f"<p>Runs that also cover other sequences, combined over all of theirs:</p>"
                     + table(list(HEADLINE), report.other_rows, "metrics-other"))
    parts.append('<h2 id="charts">IDF1, MOTA, HOTA and ID switches</h2>')
    for img in images["chart"]:
        parts.append(image(img, "chart-bars"))
    parts.append('<h2 id="disagreements">Where the runs disagree</h2>')
    if report.reference_label:
        parts.append(f"<p>{e(DISAGREEMENT_INTRO.format(reference=report.reference_label))}</p>")
    for n in report.moment_notes:
        parts.append(f'<p class="note">{e(n)}</p>')
    for i, img in enumerate(images["moments"]):
        parts.append(image(img, f"moment-{i + 1}"))
    if images["curves"]:
        parts.append('<h2 id="training">Training curves</h2>')
        parts += [image(img) for img in images["curves"]]
    if report.calibration or images["calibration"]:
        parts.append('<h2 id="calibration">Appearance thresholds (label-free)</h2>')
        head, body = calibration_rows(report.calibration)
        parts.append("<table class='calibration'><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
                     + "</tr></thead><tbody>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                                                       for row in body) + "</tbody></table>")
        parts += [image(img) for img in images["calibration"]]
    if images["geometry"]:
        parts.append('<h2 id="geometry">Latent geometry</h2>')
        parts += [image(img) for img in images["geometry"]]
    if report.per_sequence:
        parts.append('<h2 id="per-sequence">Per sequence</h2>')
        for s, rows in report.per_sequence:
            parts.append(f"<details><summary>{e(s)}</summary>" + table(list(HEADLINE), rows, "metrics-seq")
                         + "</details>")
    if report.notes:
        parts.append('<h2 id="notes">Notes</h2><ul>' + "".join(f"<li>{e(n)}</li>" for n in report.notes) + "</ul>")
    if report.commands:
        parts.append('<h2 id="reproduce">Commands</h2><pre>' + e("\n".join(report.commands)) + "</pre>")
    if images["reference-geometry"]:   # context only, so folded away below this run's own results
        parts.append('<h2 id="reference-geometry">Reference: latent geometry</h2>'
                     f"<details><summary>{e(REFERENCE_GEOMETRY.format(n=len(images['reference-geometry'])))}"
                     "</summary>" + "".join(image(img) for img in images["reference-geometry"]) + "</details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
