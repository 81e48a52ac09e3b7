"""The report's images: the bar chart of the headline metrics, a model's training curves, and
strips of frames at the moments where the runs disagree about an identity."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.io.plotting import figure, png_bytes
from tools.eval.evaluation import infer_benchmark
from tools.report.formatting import LOWER_IS_BETTER, format_value
from tools.report.inputs import Model, Run, read_json

CHART_COLUMNS = ("IDF1", "MOTA", "HOTA", "IDs")
MAX_MOMENTS = 4


@dataclass
class Image:
    """A PNG for both pages: a file under report-files/ for Markdown, base64 for HTML."""

    name: str
    png: bytes
    caption: str
    alt: str


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

    cfg = read_json(model.folder / "config.json") or {}
    kappa2 = (cfg.get("train") or {}).get("kappa2")
    with tempfile.TemporaryDirectory() as tmp:
        out = plot_curves(log, Path(tmp) / "curves.png", kappa2=kappa2, title=model.label)
        return out.read_bytes()


def moment_caption(m, by_name: dict[str, Run]) -> str:
    """One sentence per moment: "person N" for the ground-truth person, "ID N" for tracks."""
    switched = "; ".join(f"{by_name[n].label} switches from ID {s.old_id} to ID {s.new_id} at frame {s.frame}"
                         for n, s in m.switched.items())
    kept = "; ".join(f"{by_name[n].label} keeps ID {m.kept_ids[n]}" if n in m.kept_ids
                     else f"{by_name[n].label} keeps one ID" for n in m.kept)
    return (f"{m.sequence}, frame {m.frame}, person {m.gt_id} (dashed box): {switched}"
            + (f"; {kept}" if kept else "") + ".")


def moment_images(runs: list[Run], seqs: dict, reference: str | None, progress: bool = False,
                  max_moments: int = MAX_MOMENTS) -> tuple[list[Image], list[str]]:
    """Strip images at the moments where other runs switch an ID and `reference` does not;
    when there are none, the moments where `reference` switches and another run does not."""
    from tools.io.motformat import read_mot_file
    from tools.report.strip import StripRun, collect_frames, ends_clear, moment_frames, render_moment
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

    def shown(m) -> list[int]:
        seq = seqs[m.sequence]
        return moment_frames(m, seq.info.length, max(2, int(round(seq.info.frame_rate * 0.4))))

    def strip_runs(m, kind: str) -> list:
        names = (list(m.switched)[:3] + [reference] if kind == "forward" else [reference] + list(m.kept)[:2])
        return [StripRun(n, by_name[n].label, data[m.sequence][1][n]) for n in names]

    unclear, considered = 0, 0

    def clear(ms: list, kind: str) -> list:
        """The moments whose last shown frame has no other track on the person's box."""
        nonlocal unclear, considered
        out = [m for m in ms if ends_clear(m, strip_runs(m, kind), data[m.sequence][0], shown(m)[-1])]
        unclear, considered = unclear + len(ms) - len(out), considered + len(ms)
        return out

    forward = [m for m, k in candidates if k == "forward"]
    ordered = sorted(forward, key=lambda m: (-len(m.switched), m.frame - m.first_frame, m.sequence, m.frame))
    picked = pick_spread(clear(ordered, "forward"), max_moments, min_gap=15)
    kind = "forward"
    if not picked:
        reverse = sorted((m for m, k in candidates if k == "reverse"),
                         key=lambda m: (m.frame - m.first_frame, m.sequence, m.frame))
        picked = pick_spread(clear(reverse, "reverse"), max_moments, min_gap=15)
        kind = "reverse"
        if picked:
            notes.append(f"{by_name[reference].label} switches no ID that another run keeps; "
                         f"shown instead: moments where it switches and another run does not")
    if unclear:
        notes.append(f"{unclear} of {considered} candidate moment(s) left out: in their last frame another "
                     f"track lies on the person's box, which would read as a second switch")
    images = []
    wanted: dict[str, set[int]] = {}
    for m in picked:
        wanted.setdefault(m.sequence, set()).update(shown(m))
    frames = {s: collect_frames(seqs[s], f) for s, f in wanted.items()}
    for i, m in enumerate(picked):
        img = render_moment(m, strip_runs(m, kind), data[m.sequence][0], frames[m.sequence], shown(m))
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if ok:
            images.append(Image(f"moment-{i + 1}.png", buf.tobytes(), moment_caption(m, by_name),
                                f"frames of {m.sequence} around frame {m.frame}"))
    if not images and not unclear:
        notes.append("the runs make the same identity switches: no disagreement to show")
    return images, notes
