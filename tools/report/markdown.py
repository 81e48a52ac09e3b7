"""The report as a Markdown page that links its PNGs under report-files/."""
from __future__ import annotations

from tools.report.figures import Image
from tools.report.formatting import HEADLINE, Row, calibration_rows, format_value
from tools.report.model import DISAGREEMENT_INTRO, FILES, REFERENCE_GEOMETRY, Report


def table(columns: list[str], rows: list[Row]) -> str:
    lines = ["| run | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for _, label, values in rows:
        lines.append(f"| {label} | " + " | ".join(format_value(c, values.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def image(img: Image) -> str:
    return f"![{img.alt}]({FILES}/{img.name})\n\n*{img.caption}*"


def _images(group: list[Image]) -> list[str]:
    return [image(img) + "\n" for img in group]


def render(report: Report) -> str:
    """The page's text."""
    images = report.images
    out = [f"# {report.title}", ""]
    out += [f"{line}  " for line in report.meta]
    out += [""] + [f"> **Warning:** {w}\n" for w in report.warnings]
    out += ["## Metrics", ""] + ([f"**{report.lead}**", ""] if report.lead else [])
    out += [f"TrackEval, combined over {report.covered}: {', '.join(report.sequences)}.", "",
            table(list(HEADLINE), report.rows), ""]
    if report.other_rows:
        out += ["Runs that also cover other sequences, combined over all of theirs:", "",
                table(list(HEADLINE), report.other_rows), ""]
    out += _images(images["chart"])
    out += ["## Where the runs disagree", ""]
    if report.reference_label:
        out += [DISAGREEMENT_INTRO.format(reference=report.reference_label), ""]
    out += [f"> {n}\n" for n in report.moment_notes]
    out += _images(images["moments"])
    if images["curves"]:
        out += ["## Training curves", ""] + _images(images["curves"])
    if report.calibration or images["calibration"]:
        head, body = calibration_rows(report.calibration)
        out += ["## Appearance thresholds (label-free)", "", "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head)] + ["| " + " | ".join(row) + " |" for row in body] + [""]
        out += _images(images["calibration"])
    if images["geometry"]:
        out += ["## Latent geometry", ""] + _images(images["geometry"])
    if report.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    if report.commands:
        out += ["## Commands", "", "```"] + report.commands + ["```", ""]
    if images["reference-geometry"]:   # context only, so folded away below this run's own results
        out += ["## Reference: latent geometry", "", "<details><summary>"
                + REFERENCE_GEOMETRY.format(n=len(images["reference-geometry"])) + "</summary>", ""]
        out += _images(images["reference-geometry"]) + ["</details>", ""]
    return "\n".join(out).rstrip() + "\n"
