"""What a results folder holds, read: runs, training models, the sequences, geometry figures,
and each run's metrics combined over the sequences every run covers."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from appearance.model.kinds import PRETTY
from tools.io.errors import InputError
from tools.eval.evaluation import COMBINED

MANIFEST = "report.json"


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


def read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid JSON: {exc}") from None


def describe_run(config: dict) -> str:
    """A readable label from a run.json config: SORT, DeepSORT motion-only, ByteTrack, OC-SORT + X
    (interpolated and camera-motion-compensated runs say so)."""
    tracker = config.get("tracker")
    extras = ""
    if config.get("camera_motion", "none") != "none":
        extras += f", camera motion ({config['camera_motion']})"
    if config.get("interpolate"):
        extras += f", gaps <= {config['interpolate']} interpolated"
    if tracker == "sort":
        return "SORT" + extras
    title = TRACKER_TITLES.get(tracker, str(tracker))
    appearance = config.get("appearance")
    if appearance in (None, "none"):
        motion = " motion-only" if tracker == "deepsort" and appearance == "none" else ""
        return title + motion + extras
    name, _, arg = str(appearance).partition(":")
    pretty = {"hist": "colour histogram", **PRETTY}.get(name, name)
    return f"{title} + {pretty}{extras}"


TRACKER_TITLES = {"sort": "SORT", "deepsort": "DeepSORT", "bytetrack": "ByteTrack", "ocsort": "OC-SORT"}


def _run_folders(root: Path) -> list[Path]:
    base = root / "runs" if (root / "runs").is_dir() else root
    if (root / "data").is_dir() and any((root / "data").glob("*.txt")):
        return [root]
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "data").is_dir() and any((p / "data").glob("*.txt")))


def skipped_folders(root: Path) -> list[tuple[Path, str]]:
    """The folders beside the runs that the report leaves out, each with why (hidden folders and
    a `track demo` folder's own models/, calibration/ and geometry/ are not mentioned)."""
    base = root / "runs" if (root / "runs").is_dir() else root
    if not base.is_dir() or _run_folders(root) == [root]:
        return []
    own = {"models", "calibration", "geometry", "report-files", "runs"} if base == root else set()
    out = []
    for p in sorted(base.iterdir()):
        if not p.is_dir() or p.name.startswith(".") or p.name in own or p in _run_folders(root):
            continue
        deeper = next((d.parent for d in sorted(p.rglob("data")) if d.is_dir() and any(d.glob("*.txt"))), None)
        if (p / "data").is_dir():
            why = "its data/ holds no <seq>.txt results"
        elif (p / "runs").is_dir() or (p / MANIFEST).is_file():
            why = f"a results folder of its own: `track report {p}`"
        elif deeper is not None:
            why = (f"no data/ here; results lie deeper, in {deeper} (a run named with a path in it): "
                   "move that folder here to report it")
        else:
            why = "not a `track run` folder (no data/<seq>.txt)"
        out.append((p, why))
    return out


def load_runs(root: Path, manifest: dict | None) -> list[Run]:
    folders = {p.name: p for p in _run_folders(root)}
    listed = (manifest or {}).get("runs") or []
    order = [r["name"] for r in listed if r.get("name") in folders]
    order += [n for n in folders if n not in order]
    labels = {r["name"]: r.get("label") for r in listed}
    runs = []
    for name in order:
        folder = folders[name]
        record = read_json(folder / "run.json") or {}
        config = record.get("config") or {}
        seqs = sorted(p.stem for p in (folder / "data").glob("*.txt") if not p.name.startswith("."))
        if record.get("motion_only") and config.get("appearance") is None:
            config = {**config, "appearance": "none"}  # the default came to motion only: label it so
        label = labels.get(name) or (describe_run(config) if config else name)
        runs.append(Run(name, label, folder, seqs, read_json(folder / "summary.json"), record))
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


def resolve(path: str | None, root: Path) -> Path | None:
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
        p = resolve(path, root)
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


def geometry_figures(root: Path) -> tuple[Path | None, list[Path]]:
    """Latent-geometry PNGs (any depth, as `track geometry --out` writes them): those of
    RESULTS_DIR/geometry/, else the project's reference figures in docs/geometry/."""
    for folder in (root / "geometry", Path(__file__).resolve().parents[2] / "docs" / "geometry"):
        if folder.is_dir():
            pngs = sorted(folder.rglob("*.png"))
            if pngs:
                return folder, pngs
    return None, []


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
