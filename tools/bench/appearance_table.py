"""The appearance table on the MOT15 train sequences: every descriptor tracked with DeepSORT, or
with ByteTrack's fused cost (--tracker bytetrack).

Does what the `track` commands crops, train, calibrate and run do, through the library functions
they wrap, skipping steps whose output already exists (rerun it to resume); logs every step, run
or reused, as the command that does the same (commands-TAG.sh), and writes a Markdown table
combined over PETS09-S2L1 and TUD-Stadtmitte, each learned row as the mean and spread over --seeds:

    python -m tools.bench.appearance_table [--seeds 0 1 2] [--jobs 2 --threads 1] [--steps 800]
        [--tracker bytetrack --track-thresh 0.8 --appearance-weight 0.1]

Protocol: label-free models train on the detection crops of both image sequences, and the
tracklet classifier also leave-one-sequence-out (trained on the other sequence only); the
supervised baseline trains on the gt identities of the other sequence only. Every learned
threshold is `track calibrate`'s label-free proposal on the sequences the model tracks: DeepSORT's
--max-distance, or ByteTrack's --appearance-thresh (a cosine distance). The oracle
row (DeepSORT fed one exact direction per gt identity) is the ceiling that "gap closed" measures
against: (IDF1 - motion-only's) / (oracle's - motion-only's), and "IDs gap closed" the same for
the ID switches (the share of the oracle's reduction; blank where the two tie). Re-id mAP and
rank-1 score each descriptor on the gt crops of the sequences it tracks (appearance.scoring.reid).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

import numpy as np

from tools.bench.data_root import MOT15_ROOT
from tools.io.atomic import atomic_write_text
from tools.io.errors import exit_status
from tracker.deep_sort import MATCHINGS
from tracker.nn_matching import METRICS

SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")
BUDGET = 800   # the bar's training steps; models of another budget live in folders named for it
ALL_KINDS = ("vhp-vae", "fmvae", "tracklet", "supervised")
# What a done.json written before it recorded more than the step count was trained with.
LEGACY_RECIPE = {"preset": "cpu", "seed": 0, "kappa2": None, "flatness": None, "loss_scale": None}
COLUMNS = ("IDF1", "IDP", "IDR", "Rcll", "Prcn", "FAR", "MT", "PT", "ML", "FP", "FN", "IDs", "FM",
           "MOTA", "MOTP", "MOTAL", "HOTA", "DetA", "AssA")
COUNTS = {"MT", "PT", "ML", "FP", "FN", "IDs", "FM"}
SUMMARY = ("IDF1", "MOTA", "HOTA", "AssA", "IDs")


@dataclass
class Model:
    """One training run of the table: `track train --model KIND --crops ...` with these options."""
    name: str
    kind: str
    crops: list[str]
    options: dict = field(default_factory=dict)     # TrainConfig fields beyond the shared recipe


@dataclass
class Row:
    """A line of the table: tracking runs (experiment, `track run` flags, sequences) per seed."""
    label: str
    runs: Callable[[int], list[tuple[str, dict, tuple[str, ...]]]]
    seeded: bool = True
    reid: Callable[[int], list[tuple[str, tuple[str, ...]]]] | None = None   # (spec, sequences)


def run(cmd: list[str], log: list[str], call: Callable[[], int | None], done: bool = False) -> None:
    """Run `call`, which does what `track CMD` does, with CMD logged and its time printed. With
    done (its output is already there from an earlier run) CMD is logged only, so the commands
    file always holds every command of the table."""
    line = "track " + shlex.join(cmd)
    log.append(line)
    if done:
        return
    print(f"\n$ {line}", flush=True)
    t0 = time.perf_counter()
    code = exit_status(call)
    if code != 0:
        sys.exit(f"command failed with status {code}: {line}")
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


def _train_job(out: str, changes: dict, resume: bool, recipe: dict) -> tuple[str, int, float]:
    """One model, in a worker process: train (or resume) it and mark it done."""
    from tools.track.descriptors import train_descriptor

    t0 = time.perf_counter()
    code = exit_status(lambda: train_descriptor(out, changes, resume=resume))
    if code == 0:
        atomic_write_text(Path(out) / "done.json", json.dumps(recipe))
    return out, code, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=str(MOT15_ROOT), help="default: %(default)s")
    ap.add_argument("--work", default="data/appearance-table", help="crops, checkpoints and results (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=BUDGET,
                    help="training steps per model (default: %(default)s); another budget trains into "
                         "models/sSEED-Nsteps, continuing a shorter finished run of the same recipe")
    ap.add_argument("--preset", default="cpu", help="model preset (default: %(default)s)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds of every learned row (default: 0)")
    ap.add_argument("--kinds", nargs="+", choices=ALL_KINDS, default=list(ALL_KINDS),
                    help="learned descriptors to include (default: all)")
    ap.add_argument("--etas", type=float, nargs="+", default=[300.0], help="FMVAE flatness weights (default: 300)")
    ap.add_argument("--tracklet-weights", type=float, nargs="+", default=[0.0, 1.0],
                    help="`track train --tracklet-weight` of the VAE rows, one row each (0: the paper's "
                         "objective; default: 0 1)")
    ap.add_argument("--tracklet-negatives", nargs="+", choices=("all", "co-occurring"), default=["all", "co-occurring"],
                    help="`track train --tracklet-negatives` of the tracklet-classifier rows, one row each; the "
                         "leave-one-out row uses the first (default: all co-occurring)")
    ap.add_argument("--min-tracklet", type=int, metavar="N",
                    help="`track train --min-tracklet` of the tracklet-classifier rows (default: train's, 8)")
    ap.add_argument("--vae-negatives", choices=("all", "co-occurring"), default="all",
                    help="`track train --tracklet-negatives` of the VAE rows' tracklet term (default: %(default)s)")
    ap.add_argument("--crop-fit", choices=("stretch", "pad"), default="stretch",
                    help="`track crops --fit` of every crop set; pad's models get a -pad suffix (default: %(default)s)")
    ap.add_argument("--vae-loo", action="store_true", help="also train the VAE rows leave-one-sequence-out")
    ap.add_argument("--no-centre", action="store_true",
                    help="leave out the rows whose features are centred on each sequence's own mean "
                         "(`track embed --centre`)")
    ap.add_argument("--metric", default="cosine", choices=METRICS)
    ap.add_argument("--max-distance", type=float, help="appearance gate (default: the label-free proposal)")
    ap.add_argument("--threads", type=int, help="torch threads per training (default: torch's choice)")
    ap.add_argument("--jobs", type=int, default=1, help="models trained at once (default: %(default)s)")
    ap.add_argument("--kappa2", type=float, help="reconstruction bound of the VAE models (default: the preset's)")
    ap.add_argument("--flatness", choices=("absolute", "relative"),
                    help="FMVAE penalty: the paper's (default) or the scale-free one")
    ap.add_argument("--loss-scale", choices=("none", "lambda"),
                    help="`track train --loss-scale` of the VAE models (default: track train's, none)")
    ap.add_argument("--tracker", choices=("deepsort", "bytetrack"), default="deepsort",
                    help="the tracker every row but SORT uses (default: %(default)s)")
    ap.add_argument("--track-thresh", type=float, default=0.8,
                    help="bytetrack: the high/low score split (default: %(default)s, for these detections)")
    ap.add_argument("--appearance-weight", type=float, default=0.1,
                    help="bytetrack: weight of the appearance distance in the fused cost (default: %(default)s)")
    ap.add_argument("--ema-alpha", type=float,
                    help="deepsort: keep an EMA track feature of this alpha in place of the gallery "
                         "(`track run --ema-alpha`; default: the gallery)")
    ap.add_argument("--n-init", type=int,
                    help="deepsort: hits before a track is confirmed, for every DeepSORT row, motion-only "
                         "included (`track run --n-init`; default: the paper's 3)")
    ap.add_argument("--motion-fallback", action="store_true",
                    help="deepsort: match what the appearance cascade leaves on motion alone "
                         "(`track run --motion-fallback`; default: off, the reference)")
    ap.add_argument("--matching", choices=MATCHINGS, default="cascade",
                    help="deepsort: how the appearance stage assigns (`track run --matching`; default: "
                         "%(default)s, the reference)")
    ap.add_argument("--no-loo", action="store_true", help="leave out the leave-one-sequence-out rows")
    ap.add_argument("--out", default=None, help="Markdown table file (default: WORK/table-METRIC.md)")
    args = ap.parse_args(argv)
    if args.tracker == "bytetrack" and args.metric != "cosine":
        ap.error("--tracker bytetrack compares features by cosine distance: leave --metric at cosine")

    from appearance.crops.cache import CropSet
    from tools.bench.oracle_appearance import write_oracle_detections
    from tools.io.sequence import find_sequence
    from tools.track.calibration import calibrate_descriptor
    from tools.track.descriptors import cut_crops
    from tools.track.embedding import embed_sequences
    from tools.track.experiment import run_experiment
    from tools.track.run_config import config_argv, resolve

    root = Path(args.data_root)
    if not all((root / "train" / s).is_dir() or (root / s).is_dir() for s in SEQS):
        print(f"skip: {root} does not hold {', '.join(SEQS)}")
        return 0
    work = Path(args.work)
    if args.ema_alpha is not None and not 0 <= args.ema_alpha <= 1:
        ap.error("--ema-alpha must lie between 0 and 1")
    if args.n_init is not None and args.n_init < 1:
        ap.error("--n-init must be at least 1")
    # DeepSORT's row options that were set: (`track run` flag, value, table-tag piece, title piece)
    options = [("ema_alpha", args.ema_alpha, f"ema{args.ema_alpha:g}-", f"EMA {args.ema_alpha:g}")
               ] if args.ema_alpha is not None else []
    options += [("n_init", args.n_init, f"n{args.n_init}-", f"n_init {args.n_init}")] if args.n_init is not None else []
    options += [("motion_fallback", True, "fb-", "motion fallback")] if args.motion_fallback else []
    options += [("matching", args.matching, f"{args.matching}-", f"{args.matching} matching")
                ] if args.matching != "cascade" else []
    if options and args.tracker != "deepsort":
        ap.error("--ema-alpha, --n-init, --motion-fallback and --matching are DeepSORT row options")
    variant = "".join(tag for _, _, tag, _ in options)
    variant += "vae-cooc-" if args.vae_negatives != "all" else ""
    variant += f"{args.steps}steps-" if args.steps != BUDGET else ""
    variant += f"{args.crop_fit}-" if args.crop_fit != "stretch" else ""
    variant += f"min{args.min_tracklet}-" if args.min_tracklet is not None else ""
    table_tag = f"{variant}{args.metric}" if args.tracker == "deepsort" else f"{args.tracker}-{variant}{args.metric}"
    crops, models, results = work / "crops", work / "models", work / f"results-{table_tag}"
    # the tracker flags of every row but SORT's, and how the rows are named
    row_flags = {} if args.tracker == "deepsort" else {"tracker": "bytetrack", "track_thresh": args.track_thresh}
    row_flags.update({flag: value for flag, value, _, _ in options})
    title = "DeepSORT" if args.tracker == "deepsort" else f"ByteTrack (split {args.track_thresh:g})"
    if options:
        title = f"DeepSORT ({', '.join(name for _, _, _, name in options)})"
    motion_label, oracle_label = f"{title} motion-only", f"{title} + identity oracle (ceiling)"
    log: list[str] = []
    common = ["--data-root", str(root)]

    def sequences(names) -> list:
        return [find_sequence(name, root) for name in names]
    fit_tag = "" if args.crop_fit == "stretch" else f"-{args.crop_fit}"   # crop and model folders

    def crop_dir(source: str, seq: str) -> Path:
        return crops / f"{source}-{seq}{fit_tag}"
    # 1. crops: detections of each sequence (no labels) and gt identities (supervised, re-id)
    for seq in SEQS:
        for source in ("det", "gt"):
            out = crop_dir(source, seq)
            fit = ["--fit", args.crop_fit] if args.crop_fit != "stretch" else []
            run(["crops", "--seq", seq, *common, "--source", source, *fit, "--out", str(out)], log,
                lambda: _done(cut_crops(sequences([seq]), out, source=source, fit=args.crop_fit)),
                done=(out / "info.json").is_file())
    # 2. models, per seed
    both = [str(crop_dir("det", s)) for s in SEQS]
    plans: list[tuple[Model, tuple[str, ...], bool]] = []   # (model, sequences it tracks, leave-one-out)

    def vae_models(kind: str, base: str, options: dict) -> None:
        plans.append((Model(base, kind, both, options), SEQS, False))
        if args.vae_loo and not args.no_loo:
            for held_out in SEQS:
                other = [s for s in SEQS if s != held_out][0]
                plans.append((Model(f"{base}-not-{held_out}", kind, [str(crop_dir("det", other))], options),
                              (held_out,), True))
    for w in args.tracklet_weights:
        # every option spelled out: the table's rows do not move with `track train`'s defaults
        tag, extra = ("", {"tracklet_weight": 0.0}) if w == 0 else (
            f"-tl{w:g}", {"tracklet_weight": w, "tracklet_negatives": args.vae_negatives})
        if w != 0 and args.vae_negatives != "all":
            tag = f"{tag}-cooc"
        if "vhp-vae" in args.kinds:
            vae_models("vhp-vae", f"vhp-vae{tag}{fit_tag}", extra)
        if "fmvae" in args.kinds:
            for eta in args.etas:
                vae_models("fmvae", f"fmvae-eta{eta:g}{tag}{fit_tag}", {"eta": eta, **extra})
    def negatives(choice: str) -> tuple[str, dict]:
        tag = "" if choice == "all" else "-cooc"
        if args.min_tracklet is not None:   # the linker's length rule, a lever of the classifier rows
            return f"{tag}-min{args.min_tracklet}", {"tracklet_negatives": choice, "min_tracklet": args.min_tracklet}
        return tag, {"tracklet_negatives": choice}
    if "tracklet" in args.kinds:
        for choice in args.tracklet_negatives:
            tag, extra = negatives(choice)
            plans.append((Model(f"tracklet{tag}{fit_tag}", "tracklet", both, extra), SEQS, False))
    for held_out in () if args.no_loo else SEQS:
        other = [s for s in SEQS if s != held_out][0]
        if "tracklet" in args.kinds:
            tag, extra = negatives(args.tracklet_negatives[0])
            plans.append((Model(f"tracklet{tag}{fit_tag}-not-{held_out}", "tracklet", [str(crop_dir("det", other))], extra),
                          (held_out,), True))
        if "supervised" in args.kinds:
            plans.append((Model(f"supervised{fit_tag}-not-{held_out}", "supervised", [str(crop_dir("gt", other))]),
                          (held_out,), True))

    def seed_dir(seed: int) -> str:
        return f"s{seed}" if args.steps == BUDGET else f"s{seed}-{args.steps}steps"

    def model_dir(m: Model, seed: int) -> Path:
        return models / seed_dir(seed) / m.name

    jobs = []
    for seed in args.seeds:
        recipe = {"steps": args.steps, "preset": args.preset, "seed": seed, "kappa2": args.kappa2,
                  "flatness": args.flatness, "loss_scale": args.loss_scale}
        for m, _, _ in plans:
            out = model_dir(m, seed)
            done = out / "done.json"
            changes = {"model": m.kind, "crops": m.crops, "preset": args.preset, "steps": args.steps, "seed": seed,
                       **{k: float(f"{v:g}") if isinstance(v, float) else v for k, v in m.options.items()}}
            if m.kind in ("fmvae", "vhp-vae"):
                changes.update({k: v for k, v in (("kappa2", args.kappa2), ("loss_scale", args.loss_scale)) if v})
            if m.kind == "fmvae" and args.flatness:
                changes["flatness"] = args.flatness
            if args.threads:
                changes["threads"] = args.threads
            what = {"model": m.kind, "crops": m.crops}
            cmd = ["train", *_train_argv(what), "--out", str(out),
                   *_train_argv({k: v for k, v in changes.items() if k not in what})]
            if done.is_file():
                stored = {**LEGACY_RECIPE, **json.loads(done.read_text())}
                differ = [k for k, v in recipe.items() if stored.get(k) != v]
                if differ:
                    sys.exit(f"{done}: this model was trained with other {', '.join(differ)}; use another --work")
                log.append("track " + shlex.join(cmd))   # trained earlier; from scratch it gives the same
                continue
            resume = (out / "checkpoint.pt").is_file()
            start = None if resume else _shorter_run(models, seed, m.name, recipe)
            if start is not None:   # resume is exact: continuing it is training from scratch, faster
                shutil.copytree(start, out, ignore=shutil.ignore_patterns("done.json"), dirs_exist_ok=True)
                log.append(shlex.join(["cp", "-r", str(start), str(out)]) + "   # then continue it")
                resume = True
            line = "track " + shlex.join(cmd + (["--resume"] if resume else []))
            log.append(line)
            # the slowest kinds first, so that parallel workers finish together
            jobs.append((("fmvae", "vhp-vae", "tracklet", "supervised").index(m.kind), line, str(out), changes,
                         resume, recipe))
    jobs.sort(key=lambda j: j[0])
    if jobs:
        print(f"training {len(jobs)} model(s), {args.jobs} at a time", flush=True)
        with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=get_context("spawn")) as pool:
            futures = []
            for _, line, out, changes, resume, recipe in jobs:
                print(f"\n$ {line}", flush=True)
                futures.append((line, pool.submit(_train_job, out, changes, resume, recipe)))
            failed = []
            for line, fut in futures:
                out, code, seconds = fut.result()
                print(f"  {out}: {'done' if code == 0 else f'failed with status {code}'} ({seconds:.0f} s)", flush=True)
                if code != 0:
                    failed.append(line)
            if failed:
                sys.exit("training failed: " + "; ".join(failed))

    # 3. tracking runs: rows of the table. A learned descriptor's threshold is proposed without
    # labels (`track calibrate` on the detections of the sequences it tracks), unless given.
    thresholds: dict[str, float] = {}

    def embedded(spec: str, seqs: tuple[str, ...], name: str, centre: bool) -> Path:
        """The `track embed` folder of `spec` on `seqs` (embedded once; calibrate and run read it)."""
        folder = work / "embed" / name
        run(["embed", "--seq", *seqs, *common, "--appearance", spec, "--out", str(folder), "--quiet"], log,
            lambda: _done(embed_sequences(sequences(seqs), spec, folder, progress=False)),
            done=all((folder / f"{s}.npy").is_file() for s in seqs))
        if not centre:
            return folder
        out = work / "embed" / f"{name}-centred"
        # the files `track embed --centre` writes, made from the ones above without embedding twice
        line = ["embed", "--seq", *seqs, *common, "--appearance", spec, "--centre", "--out", str(out), "--quiet"]
        run(line, log, lambda: _done(_centre_files(folder, out, seqs)),
            done=all((out / f"{s}.npy").is_file() for s in seqs))
        return out

    def gate(folder: Path, seqs: tuple[str, ...], name: str) -> dict:
        """`track run` flags (by option name) of the appearance gate of the features in `folder`."""
        flags = {"metric": args.metric, **row_flags}
        if args.tracker == "bytetrack":
            flags = {**row_flags, "appearance_weight": args.appearance_weight}
        gate_key = "max_distance" if args.tracker == "deepsort" else "appearance_thresh"
        if args.max_distance is not None:
            return {**flags, gate_key: args.max_distance}
        report = work / "calibration" / f"{name}-{args.metric}.json"
        detections = {s: folder / f"{s}.npy" for s in seqs}

        def calibrate() -> int:
            cal = calibrate_descriptor(sequences(seqs), None, detections=detections, features_from=str(folder),
                                       metric=args.metric, json_path=report, progress=False)
            return 1 if cal.label_free.proposal is None else 0

        run(["calibrate", "--seq", *seqs, *common, "--detections", str(folder), "--metric", args.metric,
             "--json", str(report), "--quiet"], log, calibrate, done=report.is_file())
        proposal = json.loads(report.read_text())["label-free"]["proposals"][0]["threshold"]
        thresholds[name] = proposal
        return {**flags, gate_key: float(f"{proposal:.6g}")}

    def tracked(spec: str, seqs: tuple[str, ...], name: str, centre: bool) -> tuple[str, dict, tuple[str, ...]]:
        """One tracking run of `spec`: (experiment, `track run` flags, sequences)."""
        name = f"{name}-centred" if centre else name
        folder = embedded(spec, seqs, name.removesuffix("-centred"), centre)
        return name, {"detections": str(folder), **gate(folder, seqs, name)}, seqs

    oracle = work / "oracle"
    rows = [Row("SORT", lambda s: [("sort", {"tracker": "sort"}, SEQS)], seeded=False),
            Row(motion_label, lambda s: [("motion", {"appearance": "none", **row_flags}, SEQS)], seeded=False),
            Row(f"{title} + hist", lambda s: [tracked("hist", SEQS, "hist", False)], seeded=False,
                reid=lambda s: [("hist", SEQS)]),
            # exact directions: same identity at cosine distance 0, any other near 1
            Row(oracle_label, lambda s: [("oracle", {"detections": str(oracle), **row_flags, **(
                {"appearance_weight": args.appearance_weight, "appearance_thresh": 0.5} if args.tracker == "bytetrack" else {})}, SEQS)],
                seeded=False)]
    labels = {"vhp-vae": "VHP-VAE", "fmvae": "FMVAE", "tracklet": "tracklet classifier",
              "supervised": "supervised (other sequence's gt)"}
    grouped: dict[str, list[tuple[Model, tuple[str, ...]]]] = {}
    for m, seqs, loo in plans:
        base = m.name.split("-not-")[0] if loo else m.name
        grouped.setdefault(base + (" (leave-one-out)" if loo and m.kind != "supervised" else ""), []).append((m, seqs))
    for key, members in grouped.items():
        m0 = members[0][0]
        label = f"{title} + {labels[m0.kind]}"
        if m0.kind == "fmvae":
            label += f" eta={m0.options['eta']:g}"
        if m0.options.get("tracklet_weight"):
            label += f" + tracklets (weight {m0.options['tracklet_weight']:g})"
        if m0.options.get("tracklet_negatives"):
            label += f", {m0.options['tracklet_negatives']} negatives"
        if m0.options.get("min_tracklet"):
            label += f", tracklets of {m0.options['min_tracklet']}+ crops"
        if key.endswith("(leave-one-out)"):
            label += " (leave-one-out)"

        def reid(seed: int, members=members) -> list:
            return [(f"{m.kind}:{model_dir(m, seed) / 'checkpoint.pt'}", seqs) for m, seqs in members]
        for centre in (False,) if args.no_centre else (False, True):
            def runs(seed: int, members=members, centre=centre) -> list:
                return [tracked(f"{m.kind}:{model_dir(m, seed) / 'checkpoint.pt'}", seqs, f"{seed_dir(seed)}-{m.name}", centre)
                        for m, seqs in members]
            rows.append(Row(label + (", centred" if centre else ""), runs, reid=None if centre else reid))

    from tools.eval.evaluation import evaluate

    gt_root = root / "train" if (root / "train").is_dir() else root
    if not (oracle / f"{SEQS[0]}.npy").is_file():
        write_oracle_detections(sequences(SEQS), oracle)
    gt_crops = {s: CropSet.load(crop_dir("gt", s)) for s in SEQS}
    per_seed: dict[str, list[dict]] = {}
    for row in rows:
        for seed in (args.seeds if row.seeded else [None]):
            exps = []
            for exp, flags, seqs in row.runs(seed):
                exps.append(exp)
                done = (results / exp / "done").is_file()
                detections = flags.pop("detections", None)
                run(["run", "--seq", *seqs, *common, *config_argv(flags),
                     *(["--detections", detections] if detections else []), "--experiment", exp,
                     "--results-root", str(results), "--quiet", "--no-eval"], log,
                    lambda: _done(run_experiment(
                        sequences(seqs), resolve(None, flags), results / exp, evaluate=False, progress=False,
                        detections={s: Path(detections) / f"{s}.npy" for s in seqs} if detections else None)),
                    done=done)
                if not done:
                    atomic_write_text(results / exp / "done", "")
            merged = results / "combined" / exps[0] / "data"
            merged.mkdir(parents=True, exist_ok=True)
            for exp in exps:
                for f in (results / exp / "data").glob("*.txt"):
                    atomic_write_text(merged / f.name, f.read_text())
            scores = {c: float(v) for c, v in evaluate(merged, gt_root, seqs=list(SEQS))["COMBINED"].items()
                      if c in COLUMNS}
            if row.reid is not None:
                scores.update(_reid(row.reid(seed), gt_crops, args.metric))
            per_seed.setdefault(row.label, []).append(scores)
    motion, oracle = per_seed[motion_label][0], per_seed[oracle_label][0]
    for values in per_seed.values():
        for v in values:
            v["gap"] = _share(v["IDF1"], motion["IDF1"], oracle["IDF1"])
            v["IDs gap"] = _share(v["IDs"], motion["IDs"], oracle["IDs"])
    text = _tables(per_seed, args)
    print("\n" + text)
    out = Path(args.out) if args.out else work / f"table-{table_tag}.md"
    atomic_write_text(out, text)
    atomic_write_text(work / f"table-{table_tag}.json", json.dumps(
        {"per_seed": per_seed, "seeds": args.seeds, "thresholds": thresholds, "commands": log}, indent=2))
    atomic_write_text(work / f"commands-{table_tag}.sh", "\n".join(log) + "\n")
    print(f"wrote {out}, {work / f'table-{table_tag}.json'} and {work / f'commands-{table_tag}.sh'}")
    return 0


def _shorter_run(models: Path, seed: int, name: str, recipe: dict) -> Path | None:
    """The longest finished run of this model, seed and recipe with fewer steps, or None."""
    best, best_steps = None, 0
    for folder in [models / f"s{seed}", *sorted(models.glob(f"s{seed}-*steps"))]:
        done = folder / name / "done.json"
        if not done.is_file():
            continue
        stored = {**LEGACY_RECIPE, **json.loads(done.read_text())}
        steps = stored.get("steps")
        same = all(stored.get(k) == v for k, v in recipe.items() if k != "steps")
        if same and isinstance(steps, int) and best_steps < steps < recipe["steps"]:
            best, best_steps = folder / name, steps
    return best


def _centre_files(src: Path, out: Path, seqs) -> None:
    """out/<seq>.npy: the detections of src/<seq>.npy with their features centred on the sequence's
    own mean, as `track embed --centre` writes them; embed.json says so."""
    from tools.io.motformat import read_npy_detections, write_npy_detections
    from tools.track.embedding import centre_features

    for s in seqs:
        rows = read_npy_detections(src / f"{s}.npy")
        write_npy_detections(out / f"{s}.npy", rows.data[:, :10], centre_features(rows.feature))
    record = json.loads((src / "embed.json").read_text())
    atomic_write_text(out / "embed.json", json.dumps({**record, "centre": True}, indent=2) + "\n")


def _reid(specs: list[tuple[str, tuple[str, ...]]], gt_crops: dict, metric: str) -> dict:
    """Re-id mAP and rank-1 (percent) of each (descriptor, sequences) pair, queries pooled."""
    from appearance.descriptors.registry import create
    from appearance.scoring.reid import embed_crops, evaluate_reid

    aps, firsts = [], []
    for spec, seqs in specs:
        desc = create(spec)
        for s in seqs:
            cs = gt_crops[s]
            if getattr(desc, "fit", cs.fit) != cs.fit:
                raise ValueError(f"{spec} cuts --fit {desc.fit} crops; the gt crops of {s} are --fit {cs.fit}")
            r = evaluate_reid(embed_crops(desc, np.array(cs.crops)), cs.gt_id, cs.frame, None, metric)
            aps.append(r.per_query_ap)
            firsts.append(np.full(r.queries, r.rank1))
    ap, r1 = np.concatenate(aps), np.concatenate(firsts)
    return {"mAP": 100 * float(ap.mean()), "R1": 100 * float(r1.mean())}


def _share(value: float, base: float, ceiling: float) -> float | None:
    """Percent of the way from motion-only (`base`) to the oracle (`ceiling`); None if they tie."""
    return 100 * (value - base) / (ceiling - base) if ceiling != base else None


def _tables(per_seed: dict[str, list[dict]], args) -> str:
    """The summary (mean ± sample sd over seeds) and the full table of seed means, in Markdown."""
    n = len(args.seeds)
    head = ["tracker", "seeds", *SUMMARY, "IDF1 range", "gap closed %", "IDs gap closed %", "re-id mAP",
            "rank-1"]
    lines = [f"Seeds {' '.join(map(str, args.seeds))}; {args.steps} steps, preset {args.preset}, metric "
             f"{args.metric}; a learned row is the mean ± sample sd over the seeds.", "",
             "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label, values in per_seed.items():
        cells = [label, str(len(values))]
        for c in (*SUMMARY, "IDF1 range", "gap", "IDs gap", "mAP", "R1"):
            if c == "IDF1 range":
                xs = [v["IDF1"] for v in values]
                cells.append(f"{min(xs):.1f}-{max(xs):.1f}" if len(xs) > 1 else "")
                continue
            xs = np.array([v[c] for v in values if v.get(c) is not None])
            if not len(xs):
                cells.append("")
                continue
            text = f"{xs.mean():.0f}" if c in COUNTS else f"{xs.mean():.1f}"
            if len(xs) > 1:
                text += f" ± {xs.std(ddof=1):.0f}" if c in COUNTS else f" ± {xs.std(ddof=1):.1f}"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"All columns, mean over {n} seed(s) for the learned rows:", "",
              "| tracker | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for label, values in per_seed.items():
        lines.append(f"| {label} | " + " | ".join(_fmt(c, float(np.mean([v[c] for v in values]))) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _done(_result) -> int:
    """The status of a library call that raised nothing: 0."""
    return 0


def _train_argv(changes: dict) -> list[str]:
    """The `track train` options that set these TrainConfig fields (floats as %g, as they were made)."""
    out: list[str] = []
    for key, value in changes.items():
        out.append(f"--{key.replace('_', '-')}")
        out += [str(v) for v in value] if isinstance(value, list) else [f"{value:g}" if isinstance(value, float)
                                                                          else str(value)]
    return out


def _fmt(column: str, v: float) -> str:
    return f"{v:.0f}" if column in COUNTS else (f"{v:.2f}" if column == "FAR" else f"{v:.1f}")


if __name__ == "__main__":
    sys.exit(main())
