"""The report of a set of tracking runs: one self-contained HTML page and a Markdown page.

What a results folder holds (what `track demo` writes and `track report RESULTS_DIR` reads):

    RESULTS_DIR/
      report.json          optional manifest: title, run order and labels, the reference run,
                           where the sequences are, training models, notes, commands, timings
      runs/<run>/          `track run` experiment folders: data/<seq>.txt, run.json, summary.json
      models/<model>/      `track train` folders: log.csv (and curves.png, config.json)
      calibration/<model>.json, <model>.png   `track calibrate --json/--plot` outputs
      geometry/*.png       latent-geometry figures (else the project's docs/geometry/*.png)

Without `runs/`, every sub-folder of RESULTS_DIR holding data/*.txt is a run, so
`track report results` also reports the plain `track run` experiments under results/. Without a
manifest, runs are labelled from their run.json and sequences are looked up under the
--data-root their run.json command names (or the one given to `track report`).

Written: RESULTS_DIR/report.html (images inlined as base64 PNG, inline CSS, no script, no
external reference), RESULTS_DIR/report.md and the PNGs it links in RESULTS_DIR/report-files/.

The parts: inputs.py reads the folder, figures.py makes the images, model.py collects both
into one Report, html.py and markdown.py write it as a page each.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.io.atomic import atomic_write_bytes, atomic_write_text
from tools.report import html, markdown
from tools.report.model import FILES, collect


@dataclass
class ReportPaths:
    html: Path
    markdown: Path
    images: list[Path]
    moments: int
    sequences: list[str] = field(default_factory=list)           # the table is combined over these
    table: list[tuple[str, dict]] = field(default_factory=list)  # (run label, COMBINED row)


def build_report(results_dir: str | Path, data_root: str | Path | None = None,
                 title: str | None = None, progress: bool = False) -> ReportPaths:
    """Read RESULTS_DIR (see the module docstring) and write report.html, report.md and
    report-files/; returns their paths."""
    report = collect(results_dir, data_root, title, progress)
    root = report.root
    files = root / FILES
    written = []
    for group in report.images.values():
        for img in group:
            atomic_write_bytes(files / img.name, img.png)
            written.append(files / img.name)
    for old in files.glob("*.png"):   # left from an earlier build (e.g. more moments then)
        if old not in written:
            old.unlink()
    atomic_write_text(root / "report.html", html.render(report))
    atomic_write_text(root / "report.md", markdown.render(report))
    return ReportPaths(root / "report.html", root / "report.md", written, len(report.images["moments"]),
                       report.sequences, [(label, values) for _, label, values in report.rows])
