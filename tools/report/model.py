"""The report as data: everything the HTML and the Markdown page show, collected from a results
folder (see tools/report/report.py for its layout) into one `Report`."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tools.io.errors import InputError
from tools.eval.evaluation import COMBINED
from tools.report.convergence import convergence_warnings
from tools.report.figures import Image, bar_chart, moment_images, training_curves
from tools.report.formatting import Row, leader_line
from tools.report.inputs import (MANIFEST, Model, Run, combined_metrics, geometry_figures, load_models,
                                 load_runs, locate_sequences, read_json, resolve)

FILES = "report-files"   # the PNGs the Markdown page links, next to report.md
# "reference-geometry": the project's docs/geometry figures, shown (folded away) only for context
# Shared by both pages. "person N" is always a ground-truth person, "ID N" a track of one run.
DISAGREEMENT_INTRO = ("Moments where a run switches a person's track ID while {reference} follows that "
                      "person with one ID. Rows: runs; columns: frames. \"person N\" numbers the "
                      "ground-truth people, \"ID N\" the tracks of a run; the dashed black-and-white "
                      "box is the person's ground-truth box, coloured boxes are tracks with their ID; "
                      "red frame: the switch; green frame: the run that keeps its ID.")
REFERENCE_GEOMETRY = ("{n} figure(s) from the project's docs/geometry, made on other models: this run "
                      "made no geometry figures of its own (`track geometry --out RESULTS/geometry`)")
IMAGE_GROUPS = ("chart", "curves", "calibration", "geometry", "reference-geometry", "moments")


@dataclass
class Report:
    """One results folder's report, ready to be written as a page."""

    root: Path
    title: str
    runs: list[Run]
    models: list[Model]
    reference: str | None                 # the run the others are compared with
    reference_label: str | None
    sequences: list[str]                  # the metrics table is combined over these
    rows: list[Row]                       # (run, label, COMBINED row over `sequences`), run order
    other_rows: list[Row] = field(default_factory=list)   # runs' own COMBINED over more sequences
    per_sequence: list[tuple[str, list[Row]]] = field(default_factory=list)
    calibration: list[dict] = field(default_factory=list)  # the manifest's threshold records
    images: dict[str, list[Image]] = field(default_factory=lambda: {g: [] for g in IMAGE_GROUPS})
    moment_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)     # models that did not converge
    lead: str | None = None                               # which run leads on IDF1, by how much
    notes: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)         # description, command, timing, date
    commands: list[str] = field(default_factory=list)

    @property
    def covered(self) -> str:
        """'1 sequence', '3 sequences'."""
        n = len(self.sequences)
        return f"{n} sequence{'s' if n != 1 else ''}"


def collect(results_dir: str | Path, data_root: str | Path | None = None, title: str | None = None,
            progress: bool = False) -> Report:
    """Read RESULTS_DIR: runs, models, manifest, metrics, and render every image of the report."""
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(root, "results folder not found")
    manifest = read_json(root / MANIFEST)
    m = manifest or {}
    runs = load_runs(root, manifest)
    if not runs:
        raise InputError(root, "no runs found: expected runs/<run>/data/<seq>.txt (or <run>/data/<seq>.txt)")
    models = load_models(root, manifest)
    seqs = locate_sequences(root, manifest, runs, data_root)
    title = title or m.get("title") or f"Tracking report: {root.resolve().name}"
    common, combined = combined_metrics(runs, seqs, progress)
    labelled = [(r.name, r.label, combined.get(r.name, {})) for r in runs]
    reference = m.get("reference")
    if reference not in {r.name for r in runs}:
        scored = [(v.get("IDF1", -1), n) for n, _, v in labelled if v]
        reference = max(scored)[1] if scored else None
    report = Report(root, title, runs, models, reference,
                    next((r.label for r in runs if r.name == reference), None), common, labelled,
                    notes=list(m.get("notes") or []), calibration=list(m.get("calibration", [])))

    images = report.images
    where = f"{report.covered}: {', '.join(common)}"
    images["chart"].append(Image("metrics.png", bar_chart([r.label for r in runs], [v for _, _, v in labelled],
                                                          f"combined over {where}"),
                                 f"IDF1, MOTA, HOTA and ID switches of every run, combined over {where}.",
                                 "bar chart of IDF1, MOTA, HOTA and IDs per run"))
    for model in models:
        png = training_curves(model)
        if png is not None:
            images["curves"].append(Image(f"curves-{model.name}.png", png, f"Training curves of {model.label} "
                                          f"({model.folder.name}/log.csv).", f"training curves of {model.label}"))
    for c in report.calibration:
        png = resolve(c.get("plot"), root)
        if png is not None and png.is_file():
            images["calibration"].append(Image(f"calibration-{c['model']}.png", png.read_bytes(),
                                               f"Label-free distance distributions of {c.get('label', c['model'])}: "
                                               f"positives from IoU tracklets, negatives from one frame.",
                                               f"calibration histograms of {c['model']}"))
    geo_folder, geo_pngs = geometry_figures(root)
    own = geo_folder == root / "geometry"
    source = "this results folder" if own else "the project's reference figures in docs/geometry, not this report's models"
    for p in geo_pngs:
        rel = p.relative_to(geo_folder)
        images["geometry" if own else "reference-geometry"].append(
            Image("geometry-" + "-".join(rel.with_suffix("").parts) + ".png", p.read_bytes(),
                  f"{rel.with_suffix('')} ({source}).", f"latent geometry figure {rel}"))
    images["moments"], report.moment_notes = moment_images(runs, seqs, reference, progress)

    report.warnings = [w for model in models for w in convergence_warnings(model)]
    report.lead = leader_line(report.rows)
    report.per_sequence = _per_sequence(runs)
    report.other_rows = [(r.name, f"{r.label} ({len(r.sequences)} sequences)", r.summary[COMBINED])
                         for r in runs if sorted(r.sequences) != common and r.summary and COMBINED in r.summary]
    report.meta = _meta_lines(m)
    report.commands = _commands(m, runs)
    return report


def _per_sequence(runs: list[Run]) -> list[tuple[str, list[Row]]]:
    seqs = sorted({s for r in runs if r.summary for s in r.summary if s != COMBINED})
    out = []
    for s in seqs:
        rows = [(r.name, r.label, r.summary[s]) for r in runs if r.summary and s in r.summary]
        out.append((s, rows))
    return out


def _commands(manifest: dict, runs: list[Run]) -> list[str]:
    cmds = list(manifest.get("commands") or [])
    if not cmds:
        for r in runs:
            cmd = r.config.get("command")
            if cmd:
                cmds.append(shlex.join(cmd))
    return cmds


def _meta_lines(m: dict) -> list[str]:
    lines = []
    if m.get("description"):
        lines.append(m["description"])
    if m.get("command"):
        lines.append(f"made by: {m['command']}")
    if m.get("seconds") is not None:
        cpu = f", CPU time {m['cpu_seconds'] / 60:.1f} min" if m.get("cpu_seconds") is not None else ""
        lines.append(f"wall time up to the report: {m['seconds'] / 60:.1f} min{cpu}"
                     + (f" on {m['machine']}" if m.get("machine") else ""))
    if m.get("created"):
        lines.append(f"created: {m['created']}")
    return lines
