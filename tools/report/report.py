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
"""
from __future__ import annotations

import base64
import html
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tools.io.atomic import atomic_write_bytes, atomic_write_text
from tools.io.errors import InputError
from tools.io.plotting import figure, png_bytes
from tools.eval.evaluation import COLUMNS, COMBINED, COUNT_COLUMNS, infer_benchmark

MANIFEST = "report.json"
FILES = "report-files"
CHART_COLUMNS = ("IDF1", "MOTA", "HOTA", "IDs")
HEADLINE = ("IDF1", "MOTA", "HOTA", "IDs", "IDP", "IDR", "FP", "FN", "FM", "AssA", "DetA")
LOWER_IS_BETTER = frozenset({"IDs", "FP", "FN", "FM", "FAR", "ML"})
MAX_MOMENTS = 4


@dataclass
class Run:
    name: str
    label: str
    folder: Path
    sequences: list[str]
    summary: dict[str, dict[str, float]] | None   # summary.json: per sequence + COMBINED
    config: dict = field(default_factory=dict)


@dataclass
class Model:
    name: str
    label: str
    folder: Path


@dataclass
class Image:
    """A PNG for both pages: a file under report-files/ for Markdown, base64 for HTML."""

    name: str
    png: bytes
    caption: str
    alt: str


@dataclass
class ReportPaths:
    html: Path
    markdown: Path
    images: list[Path]
    moments: int
    sequences: list[str] = field(default_factory=list)           # the table is combined over these
    table: list[tuple[str, dict]] = field(default_factory=list)  # (run label, COMBINED row)


# --------------------------------------------------------------------------------- inputs


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid JSON: {exc}") from None


def describe_run(config: dict) -> str:
    """A readable label from a run.json config: SORT, DeepSORT motion-only, DeepSORT + X."""
    tracker = config.get("tracker")
    if tracker == "sort":
        return "SORT"
    appearance = config.get("appearance")
    if appearance in (None, "none"):
        return "DeepSORT motion-only" if appearance == "none" else "DeepSORT"
    name, _, arg = str(appearance).partition(":")
    pretty = {"hist": "colour histogram", "fmvae": "FMVAE", "vhp-vae": "VHP-VAE",
              "supervised": "supervised"}.get(name, name)
    return f"DeepSORT + {pretty}"


def _run_folders(root: Path) -> list[Path]:
    base = root / "runs" if (root / "runs").is_dir() else root
    if (root / "data").is_dir() and any((root / "data").glob("*.txt")):
        return [root]
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "data").is_dir() and any((p / "data").glob("*.txt")))


def load_runs(root: Path, manifest: dict | None) -> list[Run]:
    folders = {p.name: p for p in _run_folders(root)}
    listed = (manifest or {}).get("runs") or []
    order = [r["name"] for r in listed if r.get("name") in folders]
    order += [n for n in folders if n not in order]
    labels = {r["name"]: r.get("label") for r in listed}
    runs = []
    for name in order:
        folder = folders[name]
        record = _read_json(folder / "run.json") or {}
        config = record.get("config") or {}
        seqs = sorted(p.stem for p in (folder / "data").glob("*.txt") if not p.name.startswith("."))
        label = labels.get(name) or (describe_run(config) if config else name)
        runs.append(Run(name, label, folder, seqs, _read_json(folder / "summary.json"), record))
    # two runs with the same derived label: tell them apart by folder name
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            r.label = f"{r.label} ({r.name})"
    return runs


def load_models(root: Path, manifest: dict | None) -> list[Model]:
    base = root / "models"
    if not base.is_dir():
        return []
    labels = {m["name"]: m.get("label", m["name"]) for m in (manifest or {}).get("models", [])}
    found = sorted(p for p in base.iterdir() if (p / "log.csv").is_file() or (p / "curves.png").is_file())
    order = [n for n in labels if (base / n) in found] + [p.name for p in found if p.name not in labels]
    return [Model(n, labels.get(n, n), base / n) for n in order]


def _resolve(path: str | None, root: Path) -> Path | None:
    """A path from the manifest: as written (relative to the working directory), else
    relative to the results folder."""
    if not path:
        return None
    p = Path(path)
    for candidate in (p, root / p):
        if candidate.exists():
            return candidate
    return None


def locate_sequences(root: Path, manifest: dict | None, runs: list[Run],
                     data_root: str | Path | None) -> dict[str, "object"]:
    """{sequence name: Sequence} for the runs' sequences that can be found."""
    from tools.io.sequence import Sequence, list_sequences

    found: dict[str, Sequence] = {}
    wanted = {s for r in runs for s in r.sequences}
    for name, path in ((manifest or {}).get("sequences") or {}).items():
        p = _resolve(path, root)
        if p is not None and (p / "seqinfo.ini").is_file():
            found[name] = Sequence.open(p)
    roots: list[Path] = []
    if data_root is not None:
        roots.append(Path(data_root))
    for r in runs:
        cmd = r.config.get("command") or []
        if "--data-root" in cmd and cmd.index("--data-root") + 1 < len(cmd):
            roots.append(Path(cmd[cmd.index("--data-root") + 1]))
    for base in dict.fromkeys(roots):
        if not base.is_dir() or wanted <= set(found):
            continue
        for seq in list_sequences(base):
            if seq.name in wanted and seq.name not in found:
                found[seq.name] = seq
    if data_root is not None:  # an explicit --data-root wins over the manifest
        for seq in list_sequences(Path(data_root)) if Path(data_root).is_dir() else []:
            if seq.name in wanted:
                found[seq.name] = seq
    return found


# -------------------------------------------------------------------------------- metrics


def combined_metrics(runs: list[Run], seqs: dict, progress: bool = False) -> tuple[list[str], dict[str, dict]]:
    """The sequences every run covers, and each run's COMBINED row over exactly those.

    A run's own summary.json is used when it covers just those sequences; otherwise the run is
    re-scored with TrackEval over the common ones (which needs their ground truth).
    """
    from tools.eval.evaluation import evaluate

    common = sorted(set.intersection(*(set(r.sequences) for r in runs))) if runs else []
    out: dict[str, dict] = {}
    for r in runs:
        own = r.summary or {}
        if COMBINED in own and sorted(k for k in own if k != COMBINED) == common:
            out[r.name] = own[COMBINED]
            continue
        with_gt = [s for s in common if s in seqs and seqs[s].has_gt]
        if with_gt and len({seqs[s].root.parent for s in with_gt}) == 1:
            res = evaluate(r.folder / "data", seqs[with_gt[0]].root.parent, seqs=with_gt)
            out[r.name] = res[COMBINED]
            if with_gt != common:
                common = with_gt
        elif own:
            out[r.name] = own.get(COMBINED, {})
    return common, out


def format_value(column: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if column in COUNT_COLUMNS:
        return str(int(value))
    return f"{value:.2f}" if column == "FAR" else f"{value:.1f}"


def _best(rows: dict[str, dict], column: str) -> set[str]:
    values = {n: v.get(column) for n, v in rows.items() if v.get(column) is not None
              and math.isfinite(v.get(column))}
    if len(values) < 2:
        return set()
    pick = min if column in LOWER_IS_BETTER else max
    target = pick(values.values())
    return {n for n, v in values.items() if v == target}


# --------------------------------------------------------------------------------- charts


def bar_chart(labels: list[str], rows: list[dict], title: str) -> bytes:
    """IDF1, MOTA, HOTA and IDs per run as horizontal bars, one panel each (PNG bytes)."""
    n = len(labels)
    fig = figure(13, 1.2 + 0.42 * max(n, 2))
    colours = [f"C{i % 10}" for i in range(n)]
    y = np.arange(n)
    for k, column in enumerate(CHART_COLUMNS):
        ax = fig.add_subplot(1, len(CHART_COLUMNS), k + 1)
        values = [float(r.get(column, np.nan)) if r.get(column) is not None else np.nan for r in rows]
        ax.barh(y, np.nan_to_num(values), color=colours)
        top = max([v for v in values if math.isfinite(v)] + [1.0])
        for yi, v in zip(y, values):
            if math.isfinite(v):
                ax.text(v + top * 0.02, yi, format_value(column, v), va="center", fontsize=8)
        ax.set_xlim(0, top * 1.22)
        ax.set_yticks(y)
        ax.set_yticklabels(labels if k == 0 else [""] * n, fontsize=9)
        ax.invert_yaxis()
        better = "lower is better" if column in LOWER_IS_BETTER else "higher is better"
        ax.set_title(f"{column} ({better})", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=11)
    return png_bytes(fig)


def training_curves(model: Model) -> bytes | None:
    """The run's curves.png, or the curves re-plotted from its log.csv when the PNG is missing."""
    png = model.folder / "curves.png"
    if png.is_file():
        return png.read_bytes()
    log = model.folder / "log.csv"
    if not log.is_file():
        return None
    import tempfile

    from appearance.training.curves import plot_curves

    cfg = _read_json(model.folder / "config.json") or {}
    kappa2 = (cfg.get("train") or {}).get("kappa2")
    with tempfile.TemporaryDirectory() as tmp:
        out = plot_curves(log, Path(tmp) / "curves.png", kappa2=kappa2, title=model.label)
        return out.read_bytes()


# ---------------------------------------------------------------------------- disagreement


def moment_images(runs: list[Run], seqs: dict, reference: str | None, progress: bool = False,
                  max_moments: int = MAX_MOMENTS) -> tuple[list[Image], list[str]]:
    """Strip images at the moments where other runs switch an ID and `reference` does not;
    when there are none, the moments where `reference` switches and another run does not."""
    from tools.io.motformat import read_mot_file
    from tools.report.strip import StripRun, collect_frames, moment_frames, render_moment
    from tools.eval.switches import disagreements, match_sequence, pick_spread

    notes: list[str] = []
    by_name = {r.name: r for r in runs}
    if reference not in by_name or len(runs) < 2:
        return [], ["fewer than two runs, or no reference run: no disagreement strip"]
    usable = [s for s in sorted(set.intersection(*(set(r.sequences) for r in runs)))
              if s in seqs and seqs[s].has_gt]
    if not usable:
        return [], ["no sequence with ground truth that every run covers: no disagreement strip"]
    framed = [s for s in usable if seqs[s].has_frames]
    if not framed:
        return [], ["the sequences have no frames (no img1/ folder or video): no disagreement strip"]
    candidates = []
    data: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    kind = "others switch, reference keeps"
    for s in framed:
        seq = seqs[s]
        gt = seq.ground_truth().data
        rows = {r.name: read_mot_file(r.folder / "data" / f"{s}.txt", "results").data for r in runs}
        bench = infer_benchmark([s])
        matchings = {n: match_sequence(gt, rows[n], bench) for n in rows}
        data[s] = (gt, rows)
        candidates += [(m, "forward") for m in disagreements(matchings, s, reference)]
        candidates += [(m, "reverse") for r in runs if r.name != reference
                       for m in disagreements({reference: matchings[reference], r.name: matchings[r.name]},
                                              s, r.name)]
    forward = [m for m, k in candidates if k == "forward"]
    ordered = sorted(forward, key=lambda m: (-len(m.switched), m.frame - m.first_frame, m.sequence, m.frame))
    picked = pick_spread(ordered, max_moments, min_gap=15)
    if not picked:
        reverse = sorted((m for m, k in candidates if k == "reverse"),
                         key=lambda m: (m.frame - m.first_frame, m.sequence, m.frame))
        picked = pick_spread(reverse, max_moments, min_gap=15)
        kind = "reference switches, another run keeps"
        if picked:
            notes.append(f"{by_name[reference].label} switches no ID that another run keeps; "
                         f"shown instead: moments where it switches and another run does not")
    images = []
    wanted: dict[str, set[int]] = {}
    shown_of = {}
    for m in picked:
        seq = seqs[m.sequence]
        step = max(2, int(round(seq.info.frame_rate * 0.4)))
        shown_of[id(m)] = moment_frames(m, seq.info.length, step)
        wanted.setdefault(m.sequence, set()).update(shown_of[id(m)])
    frames = {s: collect_frames(seqs[s], f) for s, f in wanted.items()}
    for i, m in enumerate(picked):
        gt, rows = data[m.sequence]
        if kind == "others switch, reference keeps":
            names = list(m.switched)[:3] + [reference]
        else:
            names = [reference] + list(m.kept)[:2]
        strip_runs = [StripRun(n, by_name[n].label, rows[n]) for n in names]
        img = render_moment(m, strip_runs, gt, frames[m.sequence], shown_of[id(m)])
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            continue
        switched = "; ".join(f"{by_name[n].label} switches ID {s.old_id} to {s.new_id} at frame {s.frame}"
                             for n, s in m.switched.items())
        kept = ", ".join(by_name[n].label for n in m.kept)
        caption = (f"{m.sequence}, frame {m.frame}, person {m.gt_id} (white box): {switched}"
                   + (f"; {kept} keep{'s' if len(m.kept) == 1 else ''} one ID" if kept else "") + ".")
        images.append(Image(f"moment-{i + 1}.png", buf.tobytes(), caption,
                            f"frames of {m.sequence} around frame {m.frame}"))
    if not images:
        notes.append("the runs make the same identity switches: no disagreement to show")
    return images, notes


# ---------------------------------------------------------------------------------- pages


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1320px;color:#1b1b1b;background:#fff;line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:.92em}table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
th,td{padding:4px 9px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}thead th{background:#f1f3f5;border-bottom:2px solid #bbb}
td.best{font-weight:700;background:#e8f4ea}img{max-width:100%;height:auto;display:block}
figure{margin:1em 0}figcaption{color:#444;font-size:.9em;margin-top:.3em}
pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:.85em}.note{color:#7a4b00}
details{margin:.5em 0}summary{cursor:pointer;color:#0b5cad}
table.calibration td{white-space:normal;text-align:left;max-width:520px}
"""


def _table_html(columns: list[str], rows: list[tuple[str, str, dict]], css_class: str) -> str:
    named = {key: values for key, _, values in rows}
    best = {c: _best(named, c) for c in columns}
    out = [f'<table class="{css_class}"><thead><tr><th>run</th>'
           + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr></thead><tbody>"]
    for key, label, values in rows:
        cells = "".join(f'<td class="best">{format_value(c, values.get(c))}</td>' if key in best[c]
                        else f"<td>{format_value(c, values.get(c))}</td>" for c in columns)
        out.append(f'<tr data-run="{html.escape(key)}"><td>{html.escape(label)}</td>{cells}</tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


def _table_md(columns: list[str], rows: list[tuple[str, str, dict]]) -> str:
    lines = ["| run | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for _, label, values in rows:
        lines.append(f"| {label} | " + " | ".join(format_value(c, values.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _img_html(img: Image, element_id: str | None = None) -> str:
    data = base64.b64encode(img.png).decode("ascii")
    ident = f' id="{element_id}"' if element_id else ""
    return (f'<figure><img{ident} alt="{html.escape(img.alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(img.caption)}</figcaption></figure>")


def _img_md(img: Image) -> str:
    return f"![{img.alt}]({FILES}/{img.name})\n\n*{img.caption}*"


def geometry_figures(root: Path) -> tuple[Path | None, list[Path]]:
    """Latent-geometry PNGs (any depth, as `track geometry --out` writes them): those of
    RESULTS_DIR/geometry/, else the project's reference figures in docs/geometry/."""
    for folder in (root / "geometry", Path(__file__).resolve().parents[2] / "docs" / "geometry"):
        if folder.is_dir():
            pngs = sorted(folder.rglob("*.png"))
            if pngs:
                return folder, pngs
    return None, []


def build_report(results_dir: str | Path, data_root: str | Path | None = None,
                 title: str | None = None, progress: bool = False) -> ReportPaths:
    """Read RESULTS_DIR (see the module docstring) and write report.html, report.md and
    report-files/; returns their paths."""
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(root, "results folder not found")
    manifest = _read_json(root / MANIFEST)
    runs = load_runs(root, manifest)
    if not runs:
        raise InputError(root, "no runs found: expected runs/<run>/data/<seq>.txt (or <run>/data/<seq>.txt)")
    models = load_models(root, manifest)
    seqs = locate_sequences(root, manifest, runs, data_root)
    title = title or (manifest or {}).get("title") or f"Tracking report: {root.resolve().name}"
    common, combined = combined_metrics(runs, seqs, progress)
    labelled = [(r.name, r.label, combined.get(r.name, {})) for r in runs]
    reference = (manifest or {}).get("reference")
    if reference not in {r.name for r in runs}:
        scored = [(v.get("IDF1", -1), n) for n, _, v in labelled if v]
        reference = max(scored)[1] if scored else None
    notes = list((manifest or {}).get("notes") or [])

    images: dict[str, list[Image]] = {"chart": [], "curves": [], "calibration": [], "geometry": [],
                                      "moments": []}
    where = f"{len(common)} sequence{'s' if len(common) != 1 else ''}: {', '.join(common)}"
    images["chart"].append(Image("metrics.png", bar_chart([r.label for r in runs], [v for _, _, v in labelled],
                                                          f"combined over {where}"),
                                 f"IDF1, MOTA, HOTA and ID switches of every run, combined over {where}.",
                                 "bar chart of IDF1, MOTA, HOTA and IDs per run"))
    for m in models:
        png = training_curves(m)
        if png is not None:
            images["curves"].append(Image(f"curves-{m.name}.png", png, f"Training curves of {m.label} "
                                          f"({m.folder.name}/log.csv).", f"training curves of {m.label}"))
    calib_rows = []
    for c in (manifest or {}).get("calibration", []):
        calib_rows.append(c)
        png = _resolve(c.get("plot"), root)
        if png is not None and png.is_file():
            images["calibration"].append(Image(f"calibration-{c['model']}.png", png.read_bytes(),
                                               f"Label-free distance distributions of {c.get('label', c['model'])}: "
                                               f"positives from IoU tracklets, negatives from one frame.",
                                               f"calibration histograms of {c['model']}"))
    geo_folder, geo_pngs = geometry_figures(root)
    for p in geo_pngs:
        rel = p.relative_to(geo_folder)
        own = geo_folder == root / "geometry"
        source = "this results folder" if own else "the project's reference figures in docs/geometry, not this report's models"
        images["geometry"].append(Image("geometry-" + "-".join(rel.with_suffix("").parts) + ".png", p.read_bytes(),
                                        f"{rel.with_suffix('')} ({source}).", f"latent geometry figure {rel}"))
    moment_imgs, moment_notes = moment_images(runs, seqs, reference, progress)
    images["moments"] = moment_imgs

    files = root / FILES
    written = []
    for group in images.values():
        for img in group:
            atomic_write_bytes(files / img.name, img.png)
            written.append(files / img.name)
    for old in files.glob("*.png"):   # left from an earlier build (e.g. more moments then)
        if old not in written:
            old.unlink()

    per_seq = _per_sequence(runs)
    other_sets = [r for r in runs if sorted(r.sequences) != common and r.summary and COMBINED in r.summary]
    ref_label = next((r.label for r in runs if r.name == reference), None)
    html_text = _html(title, manifest, runs, labelled, common, images, calib_rows, moment_notes, notes,
                      per_seq, other_sets, ref_label)
    md_text = _markdown(title, manifest, runs, labelled, common, images, calib_rows, moment_notes, notes,
                        other_sets, ref_label)
    atomic_write_text(root / "report.html", html_text)
    atomic_write_text(root / "report.md", md_text)
    return ReportPaths(root / "report.html", root / "report.md", written, len(moment_imgs), common,
                       [(label, values) for _, label, values in labelled])


def _per_sequence(runs: list[Run]) -> list[tuple[str, list[tuple[str, str, dict]]]]:
    seqs = sorted({s for r in runs if r.summary for s in r.summary if s != COMBINED})
    out = []
    for s in seqs:
        rows = [(r.name, r.label, r.summary[s]) for r in runs if r.summary and s in r.summary]
        out.append((s, rows))
    return out


def _commands(manifest: dict | None, runs: list[Run]) -> list[str]:
    cmds = list((manifest or {}).get("commands") or [])
    if not cmds:
        for r in runs:
            cmd = r.config.get("command")
            if cmd:
                cmds.append(shlex.join(cmd))
    return cmds


def _meta_lines(manifest: dict | None) -> list[str]:
    m = manifest or {}
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


def _calibration_rows(calib: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["descriptor", "metric", "AUC (label-free)", "proposal", "default", "used", "why"]
    body = []
    for c in calib:
        body.append([c.get("label", c.get("model", "")), c.get("metric", ""),
                     "-" if c.get("auc") is None else f"{c['auc']:.3f}",
                     "-" if c.get("proposal") is None else f"{c['proposal']:.4g}",
                     f"{c.get('default', 0.2):.4g}", f"{c.get('used', 0.2):.4g}", c.get("why", "")])
    return head, body


def _html(title, manifest, runs, labelled, common, images, calib, moment_notes, notes, per_seq,
          other_sets, ref_label) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    for line in _meta_lines(manifest):
        parts.append(f'<p class="meta">{e(line)}</p>')
    parts.append('<h2 id="metrics">Metrics</h2>')
    parts.append(f"<p>TrackEval (HOTA, CLEAR, Identity), combined over {len(common)} sequence"
                 f"{'s' if len(common) != 1 else ''}: {e(', '.join(common))}. Best value per column in bold.</p>")
    parts.append(_table_html(list(HEADLINE), labelled, "metrics"))
    parts.append("<details><summary>all columns</summary>" + _table_html(COLUMNS, labelled, "metrics-all")
                 + "</details>")
    if other_sets:
        rows = [(r.name, f"{r.label} ({len(r.sequences)} sequences)", r.summary[COMBINED]) for r in other_sets]
        parts.append(f"<p>Runs that also cover other sequences, combined over all of theirs:</p>"
                     + _table_html(list(HEADLINE), rows, "metrics-other"))
    parts.append('<h2 id="charts">IDF1, MOTA, HOTA and ID switches</h2>')
    for img in images["chart"]:
        parts.append(_img_html(img, "chart-bars"))
    parts.append('<h2 id="disagreements">Where the runs disagree</h2>')
    if ref_label:
        parts.append(f"<p>Moments where a run switches a person's ID while {e(ref_label)} follows "
                     f"that person with one ID (rows: runs; columns: frames; white: the person's "
                     f"ground-truth box; red frame: the switch; green frame: kept).</p>")
    for n in moment_notes:
        parts.append(f'<p class="note">{e(n)}</p>')
    for i, img in enumerate(images["moments"]):
        parts.append(_img_html(img, f"moment-{i + 1}"))
    if images["curves"]:
        parts.append('<h2 id="training">Training curves</h2>')
        for img in images["curves"]:
            parts.append(_img_html(img))
    if calib or images["calibration"]:
        parts.append('<h2 id="calibration">Appearance thresholds (label-free)</h2>')
        head, body = _calibration_rows(calib)
        parts.append("<table class='calibration'><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
                     + "</tr></thead><tbody>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                                                       for row in body) + "</tbody></table>")
        for img in images["calibration"]:
            parts.append(_img_html(img))
    if images["geometry"]:
        parts.append('<h2 id="geometry">Latent geometry</h2>')
        for img in images["geometry"]:
            parts.append(_img_html(img))
    if per_seq:
        parts.append('<h2 id="per-sequence">Per sequence</h2>')
        for s, rows in per_seq:
            parts.append(f"<details><summary>{e(s)}</summary>" + _table_html(list(HEADLINE), rows, "metrics-seq")
                         + "</details>")
    if notes:
        parts.append('<h2 id="notes">Notes</h2><ul>' + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    cmds = _commands(manifest, runs)
    if cmds:
        parts.append('<h2 id="reproduce">Commands</h2><pre>' + e("\n".join(cmds)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _markdown(title, manifest, runs, labelled, common, images, calib, moment_notes, notes, other_sets,
              ref_label) -> str:
    out = [f"# {title}", ""]
    out += [f"{line}  " for line in _meta_lines(manifest)]
    out += ["", "## Metrics", "",
            f"TrackEval, combined over {len(common)} sequence{'s' if len(common) != 1 else ''}: "
            f"{', '.join(common)}.", "", _table_md(list(HEADLINE), labelled), ""]
    if other_sets:
        rows = [(r.name, f"{r.label} ({len(r.sequences)} sequences)", r.summary[COMBINED]) for r in other_sets]
        out += ["Runs that also cover other sequences, combined over all of theirs:", "",
                _table_md(list(HEADLINE), rows), ""]
    out += [_img_md(img) + "\n" for img in images["chart"]]
    out += ["## Where the runs disagree", ""]
    if ref_label:
        out += [f"Moments where a run switches a person's ID while {ref_label} follows that person "
                f"with one ID (white: the person's ground-truth box; red frame: the switch).", ""]
    out += [f"> {n}\n" for n in moment_notes]
    out += [_img_md(img) + "\n" for img in images["moments"]]
    if images["curves"]:
        out += ["## Training curves", ""] + [_img_md(img) + "\n" for img in images["curves"]]
    if calib or images["calibration"]:
        head, body = _calibration_rows(calib)
        out += ["## Appearance thresholds (label-free)", "", "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head)] + ["| " + " | ".join(row) + " |" for row in body] + [""]
        out += [_img_md(img) + "\n" for img in images["calibration"]]
    if images["geometry"]:
        out += ["## Latent geometry", ""] + [_img_md(img) + "\n" for img in images["geometry"]]
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    cmds = _commands(manifest, runs)
    if cmds:
        out += ["## Commands", "", "```"] + cmds + ["```", ""]
    return "\n".join(out).rstrip() + "\n"
