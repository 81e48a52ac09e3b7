"""The pendulum comparison over several seeds: FMVAE variants against VHP-VAE.

    python -m tools.bench.pendulum_seeds [--seeds 0 1 2 3 4] [--steps 6000] [--kappa2 0.3]
        [--variant vhp-vae:scaled:nu0.05 fmvae:1:relative:scaled:nu0.05 ...] [--jobs 2]
        [--work data/pendulum-seeds]

One pendulum model varies a lot with its seed: at 3000 steps the median condition number of
one VHP-VAE seed was 31.7, of the next 11.5. A single pair of runs says little, so every variant
trains on the same seeds. Each (variant, seed) is one `track train` plus one `track geometry`
run in WORK/<variant>/seed<k>/. A finished run is reused, so the script resumes after an
interruption; a run whose training fails (a diverged loss) is recorded in its failed.txt and
listed under the table. Per variant it prints the mean and sd over seeds of the median
condition number, the IQRs of the normalised MF, of log10 MF and of the normalised MF^(1/d),
and the Riemannian ratio (Table 1), with the seeds on which the variant beats the first one, and the final C_hat.
Variants: `vhp-vae[:scaled][:nuX]` or `fmvae:ETA[:relative][:encoder][:scaled][:nuX][:startN]`:
relative is the scale-free penalty (`--flatness relative`), encoder lets it move the codes
(`--flat-encoder`), scaled divides the loss by max(lambda, 1) (`--loss-scale lambda`), nuX sets
the lambda update's gain (`--nu X`), startN trains N steps as the VHP-VAE of the same seed
before the penalty joins (`--flat-start N`).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from appearance.model.kinds import VAE_KINDS
from tools.io.atomic import atomic_write_text

NETWORK = ["--arch", "mlp", "--latent-dim", "2", "--mlp-hidden", "256", "256", "--prior-hidden", "128", "128",
           "--no-flip", "--threads", "1", "--quiet"]
# (key in geometry.json, column title, lower is better?) ; the Riemannian ratio: closer to 1.
METRICS = (("cond", "median cond(G)"), ("mf_iqr", "IQR norm. MF"), ("log_mf_iqr", "IQR log10 MF"),
           ("mf_dim_iqr", "IQR norm. MF^(1/d)"), ("riemannian", "Riemannian ratio"))


def variant_args(variant: str) -> list[str]:
    """`vhp-vae[:OPT...]` or `fmvae:ETA[:OPT...]` as `track train` options.

    OPT: scaled, nuX (both models); relative, encoder, startN (fmvae only).
    """
    parts = variant.split(":")
    fmvae = parts[0] == "fmvae"
    flags = {"scaled": ["--loss-scale", "lambda"]}
    if fmvae:
        flags.update(relative=["--flatness", "relative"], encoder=["--flat-encoder"])
    options = []
    try:
        if parts[0] not in VAE_KINDS:
            raise ValueError
        if fmvae:
            if not (math.isfinite(float(parts[1])) and float(parts[1]) >= 0):
                raise ValueError
            options += ["--eta", parts[1]]
        for p in parts[2 if fmvae else 1:]:
            if fmvae and p.startswith("start") and p[5:].isdigit():
                options += ["--flat-start", p[5:]]
            elif p.startswith("nu") and math.isfinite(float(p[2:])) and float(p[2:]) > 0:
                options += ["--nu", p[2:]]
            elif p in flags:
                options += flags[p]
            else:
                raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"variant {variant!r}: expected vhp-vae[:scaled][:nuX] or "
                         f"fmvae:ETA[:relative][:encoder][:scaled][:nuX][:startN]") from None
    return ["--model", parts[0]] + options


class Mismatch(Exception):
    """A finished run in WORK was made with other settings than asked for."""


def run_one(track: str, crops: Path, work: Path, variant: str, seed: int, steps: int, kappa2: float) -> dict:
    """Train and measure one model unless its geometry.json exists; return its figures."""
    folder = work / variant.replace(":", "-") / f"seed{seed}"
    report = folder / "geometry" / "geometry.json"
    stored = folder / "model" / "config.json"
    if stored.exists():
        train_cfg = json.loads(stored.read_text())["train"]
        if float(train_cfg["kappa2"]) != kappa2:
            raise Mismatch(f"{stored}: trained with kappa^2 {train_cfg['kappa2']}, not {kappa2}; "
                           f"use another --work or --kappa2 {train_cfg['kappa2']}")
    measured = json.loads(report.read_text())["models"][0] if report.exists() else None
    if measured is not None and measured["step"] != steps:
        raise Mismatch(f"{report}: measures a model of {measured['step']} steps, not {steps}; use another --work")
    failed = folder / "failed.txt"
    if failed.exists():   # a run that diverged stays a failure (resume is exact); delete it to retry
        return {"variant": variant, "seed": seed, "failed": failed.read_text().strip()}
    if not report.exists():
        train = [track, "train", *variant_args(variant), "--crops", str(crops), "--out", str(folder / "model"),
                 "--steps", str(steps), "--kappa2", str(kappa2), "--seed", str(seed), *NETWORK]
        if (folder / "model" / "checkpoint.pt").exists():
            train = [track, "train", "--resume", "--out", str(folder / "model"), "--steps", str(steps), "--quiet"]
        measure = [track, "geometry", "--checkpoint", str(folder / "model" / "checkpoint.pt"),
                   "--label", f"{variant} seed {seed}", "--crops", str(crops),
                   "--out", str(folder / "geometry"), "--threads", "1"]
        try:
            subprocess.run(train, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            subprocess.run(measure, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except subprocess.CalledProcessError as exc:
            lines = (exc.stderr or "").strip().splitlines()
            why = lines[-1] if lines else f"exit {exc.returncode} from track {exc.cmd[1]}"
            atomic_write_text(failed, why + "\n")
            return {"variant": variant, "seed": seed, "failed": why}
    m = measured or json.loads(report.read_text())["models"][0]
    with (folder / "model" / "log.csv").open() as fh:
        last = list(csv.DictReader(fh))[-1]
    return {"variant": variant, "seed": seed, "c_hat": float(last["C_hat"]), "lambda": float(last["lambda"]),
            "cond": m["condition_number"]["median"],
            "mf_iqr": m["normalised_mf"]["iqr"], "log_mf_iqr": m["log10_mf"]["iqr"],
            # absent from reports written before the statistic existed
            "mf_dim_iqr": m.get("normalised_mf_per_dim", {}).get("iqr", math.nan),
            "riemannian": m["table1"]["riemannian"]["mean"], "latent_std": m["latent_std"]}


def better(key: str, a: float, b: float) -> bool:
    """Is value a better than b? Smaller, except the Riemannian ratio: closer to 1."""
    return abs(a - 1.0) < abs(b - 1.0) if key == "riemannian" else a < b


def _table(by: dict[str, dict[int, dict]], variants: list[str], kappa2: float) -> list[str]:
    baseline = variants[0]
    head = "| variant | seeds | " + " | ".join(t for _, t in METRICS) + " | final C_hat | over kappa^2 | latent sd |"
    lines = [head, "|" + "---|" * (len(METRICS) + 5)]
    for v in variants:
        if not by[v]:
            lines.append(f"| {v} | 0 |" + " |" * (len(METRICS) + 3))
            continue
        cells = []
        for key, _ in METRICS:
            value = lambda variant, seed: by[variant][seed].get(key, math.nan)  # noqa: E731
            vals = [x for x in (value(v, s) for s in by[v]) if math.isfinite(x)]
            if not vals:   # reports older than the statistic
                cells.append("n/a")
                continue
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cell = f"{statistics.mean(vals):.3g} +- {sd:.2g}"
            if v != baseline:
                seeds = [s for s in sorted(set(by[v]) & set(by[baseline]))
                         if math.isfinite(value(v, s)) and math.isfinite(value(baseline, s))]
                wins = sum(better(key, value(v, s), value(baseline, s)) for s in seeds)
                cell += f" ({wins}/{len(seeds)})"
            cells.append(cell)
        c_hat = [r["c_hat"] for r in by[v].values()]
        cells += [f"{statistics.mean(c_hat):.3g}", f"{sum(c > kappa2 for c in c_hat)}/{len(c_hat)}",
                  f"{statistics.mean(r['latent_std'] for r in by[v].values()):.3g}"]
        lines.append(f"| {v} | {len(by[v])} | " + " | ".join(cells) + " |")
    return lines


def summarise(rows: list[dict], variants: list[str], kappa2: float) -> str:
    """The table over all seeds; then, if some run broke the bound, over the seeds where none did."""
    failed = [r for r in rows if "failed" in r]
    rows = [r for r in rows if "failed" not in r]
    by = {v: {r["seed"]: r for r in rows if r["variant"] == v} for v in variants}
    lines = _table(by, variants, kappa2)
    lines += ["", f"Mean +- sd over seeds; (w/n): seeds on which the variant beats {variants[0]} "
                  "(lower, or for the Riemannian ratio closer to 1). final C_hat: the running reconstruction "
                  "error at the last step; a seed over kappa^2 broke the constraint, and its flatness may "
                  "come from a decoder that no longer reconstructs."]
    if failed:
        lines += ["", "Failed runs, left out (win counts use the seeds both variants finished): " +
                  "; ".join(f"{r['variant']} seed {r['seed']}: {r['failed']}" for r in failed)]
    seeds = set.intersection(*(set(by[v]) for v in variants))
    kept = sorted(s for s in seeds if all(by[v][s]["c_hat"] <= kappa2 for v in variants))
    if kept and len(kept) < len(seeds):
        lines += ["", f"Only the seeds on which every variant kept C_hat <= kappa^2 ({' '.join(map(str, kept))}):",
                  ""]
        lines += _table({v: {s: by[v][s] for s in kept} for v in variants}, variants, kappa2)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=6000,
                    help="with nu 0.05 lambda settles after about 3000 steps (default: %(default)s)")
    ap.add_argument("--kappa2", type=float, default=0.3,
                    help="reconstruction bound (default: %(default)s)")
    ap.add_argument("--variant", nargs="+", default=["vhp-vae:scaled:nu0.05", "fmvae:1:relative:scaled:nu0.05"],
                    help="the first is the baseline (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
    ap.add_argument("--work", type=Path, default=Path("data/pendulum-seeds"))
    ap.add_argument("--out", type=Path, help="Markdown table (default: WORK/table.md)")
    args = ap.parse_args(argv)
    try:
        for v in args.variant:
            variant_args(v)
    except ValueError as exc:
        ap.error(str(exc))
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    track = str(Path(sys.executable).with_name("track"))
    crops = args.work / "pendulum"
    if not (crops / "meta.npz").exists():
        subprocess.run([track, "pendulum", "--out", str(crops)], check=True, stdout=subprocess.DEVNULL)
    jobs = [(v, s) for s in args.seeds for v in args.variant]
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda j: run_one(track, crops, args.work, j[0], j[1], args.steps, args.kappa2),
                                 jobs))
    except Mismatch as exc:
        print(f"pendulum_seeds: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"pendulum_seeds: error: exit {exc.returncode} from: {' '.join(exc.cmd)}", file=sys.stderr)
        return 1
    table = summarise(rows, args.variant, args.kappa2)
    text = (f"Pendulum, {args.steps} steps, kappa^2 {args.kappa2}, seeds {' '.join(map(str, args.seeds))}; "
            f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}\n\n{table}\n")
    out = args.out or args.work / "table.md"
    atomic_write_text(out, text)
    atomic_write_text(out.with_suffix(".json"), json.dumps(rows, indent=1) + "\n")
    print(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
