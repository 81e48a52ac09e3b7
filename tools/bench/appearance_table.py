"""The appearance table on the MOT15 train sequences: every descriptor tracked with DeepSORT.

Does what the `track` commands crops, train, calibrate and run do, through the library functions
they wrap, skipping steps whose output already exists; logs each step as the command that does the
same, and writes a Markdown table combined over PETS09-S2L1 and TUD-Stadtmitte:

    python -m tools.bench.appearance_table [--steps 800] [--work data/appearance-table]

Protocol: unsupervised models train on the detection crops of both image sequences (no labels),
and also leave-one-sequence-out (trained on the other sequence only); the supervised baseline
trains on the gt identities of the other sequence only.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Callable

from tools.bench.data_root import MOT15_ROOT
from tools.io.atomic import atomic_write_text
from tools.io.errors import exit_status
from tracker.nn_matching import METRICS

SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")
# What a done.json written before it recorded more than the step count was trained with.
LEGACY_RECIPE = {"preset": "cpu", "seed": 0, "kappa2": None, "flatness": None, "loss_scale": None}
COLUMNS = ("IDF1", "IDP", "IDR", "Rcll", "Prcn", "FAR", "MT", "PT", "ML", "FP", "FN", "IDs", "FM",
           "MOTA", "MOTP", "MOTAL", "HOTA", "DetA", "AssA")


def run(cmd: list[str], log: list[str], call: Callable[[], int | None]) -> None:
    """Run `call`, which does what `track CMD` does, with CMD logged and its time printed."""
    line = "track " + shlex.join(cmd)
    print(f"\n$ {line}", flush=True)
    log.append(line)
    t0 = time.perf_counter()
    code = exit_status(call)
    if code != 0:
        sys.exit(f"command failed with status {code}: {line}")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=str(MOT15_ROOT), help="default: %(default)s")
    ap.add_argument("--work", default="data/appearance-table", help="crops, checkpoints and results (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=800, help="training steps per model (default: %(default)s)")
    ap.add_argument("--preset", default="cpu", help="model preset (default: %(default)s)")
    ap.add_argument("--etas", type=float, nargs="+", default=[300.0, 3000.0], help="FMVAE flatness weights")
    ap.add_argument("--metric", default="cosine", choices=METRICS)
    ap.add_argument("--max-distance", type=float, help="appearance gate (default: the metric's default)")
    ap.add_argument("--threads", type=int, help="torch threads for training (default: torch's choice)")
    ap.add_argument("--loo-etas", type=float, nargs="+",
                    help="FMVAE flatness weights of the leave-one-out models (default: --etas)")
    ap.add_argument("--no-loo", action="store_true", help="skip the leave-one-sequence-out models")
    ap.add_argument("--kappa2", type=float, help="reconstruction bound of the VAE models (default: the preset's)")
    ap.add_argument("--flatness", choices=("absolute", "relative"),
                    help="FMVAE penalty: the paper's (default) or the scale-free one")
    ap.add_argument("--loss-scale", choices=("none", "lambda"),
                    help="`track train --loss-scale` of the VAE models (default: track train's, none)")
    ap.add_argument("--seed", type=int, default=0, help="training seed of every model (default: %(default)s)")
    ap.add_argument("--out", default=None, help="Markdown table file (default: WORK/table.md)")
    args = ap.parse_args(argv)

    from tools.io.sequence import find_sequence
    from tools.track.calibration import calibrate_descriptor
    from tools.track.descriptors import cut_crops, train_descriptor
    from tools.track.experiment import run_experiment
    from tools.track.run_config import config_argv, resolve

    loo_etas = args.etas if args.loo_etas is None else args.loo_etas
    root = Path(args.data_root)
    if not all((root / "train" / s).is_dir() or (root / s).is_dir() for s in SEQS):
        print(f"skip: {root} does not hold {', '.join(SEQS)}")
        return 0
    work = Path(args.work)
    crops, models, results = work / "crops", work / "models", work / f"results-{args.metric}"
    log: list[str] = []
    common = ["--data-root", str(root)]

    def sequences(names) -> list:
        return [find_sequence(name, root) for name in names]
    # 1. crops: detections of each sequence (no labels) and gt identities for the supervised one
    for seq in SEQS:
        for source in ("det", "gt"):
            out = crops / f"{source}-{seq}"
            if not (out / "info.json").is_file():
                run(["crops", "--seq", seq, *common, "--source", source, "--out", str(out)], log,
                    lambda: _done(cut_crops(sequences([seq]), out, source=source)))
    # 2. models: (name, kind, eta, training crop folders, sequences it may be used on)
    plans = []
    both = [str(crops / f"det-{s}") for s in SEQS]
    plans.append(("vhp-vae", "vhp-vae", 0.0, both, SEQS))
    for eta in args.etas:
        plans.append((f"fmvae-eta{eta:g}", "fmvae", eta, both, SEQS))
    for held_out in SEQS:
        other = [s for s in SEQS if s != held_out][0]
        plans.append((f"supervised-not-{held_out}", "supervised", 0.0, [str(crops / f"gt-{other}")], (held_out,)))
        if not args.no_loo:
            plans.append((f"vhp-vae-not-{held_out}", "vhp-vae", 0.0, [str(crops / f"det-{other}")], (held_out,)))
            for eta in loo_etas:
                plans.append((f"fmvae-eta{eta:g}-not-{held_out}", "fmvae", eta, [str(crops / f"det-{other}")], (held_out,)))
    recipe = {"steps": args.steps, "preset": args.preset, "seed": args.seed, "kappa2": args.kappa2,
              "flatness": args.flatness, "loss_scale": args.loss_scale}
    for name, kind, eta, train_crops, _ in plans:
        out = models / name
        done = out / "done.json"
        if done.is_file():
            stored = {**LEGACY_RECIPE, **json.loads(done.read_text())}
            differ = [k for k, v in recipe.items() if stored.get(k) != v]
            if differ:
                sys.exit(f"{done}: this model was trained with other {', '.join(differ)}; "
                         f"use another --work")
        else:
            what = {"model": kind, "crops": train_crops}
            changes = {**what, "preset": args.preset, "steps": args.steps, "seed": args.seed}
            if kind != "supervised" and args.kappa2 is not None:
                changes["kappa2"] = float(f"{args.kappa2:g}")
            if kind != "supervised" and args.loss_scale:
                changes["loss_scale"] = args.loss_scale
            if kind == "fmvae":
                changes["eta"] = float(f"{eta:g}")
                if args.flatness:
                    changes["flatness"] = args.flatness
            if args.threads:
                changes["threads"] = args.threads
            resume = (out / "checkpoint.pt").is_file()
            cmd = ["train", *_train_argv(what), "--out", str(out),
                   *_train_argv({k: v for k, v in changes.items() if k not in what})] + (["--resume"] if resume else [])
            run(cmd, log, lambda: train_descriptor(out, changes, resume=resume))
            atomic_write_text(done, json.dumps(recipe))
    # 3. tracking runs: rows of the table. A learned descriptor's threshold is proposed without
    # labels (`track calibrate` on the detections of the sequences it tracks), unless given.
    def gate(spec: str, seqs: tuple[str, ...], name: str) -> dict:
        """`track run` flags (by option name) of the appearance gate of `spec` on `seqs`."""
        flags = {"metric": args.metric}
        if args.max_distance is not None:
            return {**flags, "max_distance": args.max_distance}
        report = work / "calibration" / f"{name}-{args.metric}.json"
        if not report.is_file():
            def calibrate() -> int:
                cal = calibrate_descriptor(sequences(seqs), spec, metric=args.metric, json_path=report,
                                           progress=False)
                return 1 if cal.label_free.proposal is None else 0

            run(["calibrate", "--seq", *seqs, *common, "--appearance", spec, "--metric", args.metric,
                 "--json", str(report), "--quiet"], log, calibrate)
        proposal = json.loads(report.read_text())["label-free"]["proposals"][0]["threshold"]
        thresholds[name] = proposal
        return {**flags, "max_distance": float(f"{proposal:.6g}")}

    thresholds: dict[str, float] = {}
    rows: list[tuple[str, list[tuple]]] = [
        ("SORT", [("sort", {"tracker": "sort"})]),
        ("DeepSORT motion-only", [("motion", {"appearance": "none"})]),
        ("DeepSORT + hist", [("hist", {"appearance": "hist", **gate("hist", SEQS, "hist")})]),
    ]

    def learned(label: str, name: str, kind: str, loo: bool) -> None:
        if loo:
            runs = []
            for s in SEQS:
                spec = f"{kind}:{models / f'{name}-not-{s}' / 'checkpoint.pt'}"
                runs.append((f"{name}-loo-{s}", {"appearance": spec, **gate(spec, (s,), f"{name}-not-{s}")}, (s,)))
            rows.append((label, runs))
        else:
            spec = f"{kind}:{models / name / 'checkpoint.pt'}"
            rows.append((label, [(name, {"appearance": spec, **gate(spec, SEQS, name)})]))

    learned("DeepSORT + VHP-VAE", "vhp-vae", "vhp-vae", False)
    for eta in args.etas:
        learned(f"DeepSORT + FMVAE eta={eta:g}", f"fmvae-eta{eta:g}", "fmvae", False)
    if not args.no_loo:
        learned("DeepSORT + VHP-VAE (leave-one-out)", "vhp-vae", "vhp-vae", True)
        for eta in loo_etas:
            learned(f"DeepSORT + FMVAE eta={eta:g} (leave-one-out)", f"fmvae-eta{eta:g}", "fmvae", True)
    sup_runs = []
    for s in SEQS:
        spec = f"supervised:{models / f'supervised-not-{s}' / 'checkpoint.pt'}"
        sup_runs.append((f"supervised-{s}", {"appearance": spec, **gate(spec, (s,), f"supervised-not-{s}")}, (s,)))
    rows.append(("DeepSORT + supervised (other sequence's gt)", sup_runs))
    table = []
    for label, runs in rows:
        exp_names = []
        for entry in runs:
            exp, flags = entry[0], entry[1]
            seqs = entry[2] if len(entry) > 2 else SEQS
            exp_names.append(exp)
            run(["run", "--seq", *seqs, *common, *config_argv(flags), "--experiment", exp, "--results-root",
                 str(results), "--quiet", "--no-eval"], log,
                lambda: _done(run_experiment(sequences(seqs), resolve(None, flags), results / exp, evaluate=False,
                                             progress=False)))
        table.append((label, exp_names))
    # 4. evaluation: every row over both sequences combined (split runs are merged into one folder)
    from tools.eval.evaluation import evaluate

    gt_root = root / "train" if (root / "train").is_dir() else root
    lines = ["| tracker | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    summary = {}
    for label, exps in table:
        merged = results / "combined" / exps[0] / "data"
        merged.mkdir(parents=True, exist_ok=True)
        for exp in exps:
            for f in (results / exp / "data").glob("*.txt"):
                atomic_write_text(merged / f.name, f.read_text())
        s = evaluate(merged, gt_root, seqs=list(SEQS))["COMBINED"]
        summary[label] = s
        lines.append(f"| {label} | " + " | ".join(_fmt(c, s[c]) for c in COLUMNS) + " |")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    out = Path(args.out) if args.out else work / f"table-{args.metric}.md"
    atomic_write_text(out, text)
    atomic_write_text(work / f"table-{args.metric}.json", json.dumps({"summary": summary, "thresholds": thresholds,
                                                       "commands": log}, indent=2))
    atomic_write_text(work / f"commands-{args.metric}.sh", "\n".join(log) + "\n")
    print(f"wrote {out}, {work / f'table-{args.metric}.json'} and {work / f'commands-{args.metric}.sh'}")
    return 0


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


COUNTS = {"MT", "PT", "ML", "FP", "FN", "IDs", "FM"}


def _fmt(column: str, v: float) -> str:
    return f"{int(v)}" if column in COUNTS else (f"{v:.2f}" if column == "FAR" else f"{v:.1f}")


if __name__ == "__main__":
    sys.exit(main())
