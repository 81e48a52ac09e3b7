"""The ceiling of appearance: DeepSORT fed identity-oracle features on the MOT15 train sequences.

    python -m tools.bench.oracle_appearance [--noise 0 0.5 1 2] [--seq PETS09-S2L1 TUD-Stadtmitte]

Each detection covering a ground-truth box (IoU >= 0.5, one-to-one per frame) gets the feature
e_{id} + noise * N(0, I/128), a unit direction per identity blurred by Gaussian noise; other
detections get pure noise. With noise 0 the descriptor is perfect, and what DeepSORT still
gets wrong is the share of the error that no descriptor can remove (births, fragmentation,
the cascade's rules). The features travel as DeepSORT .npy files through `track run
--detections`, the path any external descriptor takes. Prints a table combined over the
sequences, next to motion-only DeepSORT, and the label-free AUC of each noise level so it can
be set beside a real descriptor's (`track calibrate`).

Skips cleanly (exit 0, one line) when the data is absent.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from tools.bench.data_root import MOT15_ROOT

DEFAULT_DATA = MOT15_ROOT
DEFAULT_SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")
DIM = 128


def oracle_features(ids: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """(N, DIM) float32: one unit direction per identity (ids >= 0) plus isotropic noise."""
    f = rng.standard_normal((len(ids), DIM)) * (noise / np.sqrt(DIM))
    known = ids >= 0
    # identities get random (nearly orthogonal) directions; ids beyond DIM do not alias
    directions = rng.standard_normal((int(ids.max(initial=0)) + 1, DIM))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    f[known] += directions[ids[known]]
    if (~known).any():
        f[~known] += rng.standard_normal((int((~known).sum()), DIM)) / np.sqrt(DIM)
    return f.astype(np.float32)


def write_oracle_detections(seqs, folder: Path, noise: float = 0.0, seed: int = 0) -> dict[str, Path]:
    """Write folder/<seq>.npy: each sequence's detections with oracle features; returns the files."""
    from tools.io.ground_truth import match_gt_ids
    from tools.io.motformat import write_npy_detections

    rng = np.random.default_rng(seed)
    files = {}
    for s in seqs:
        rows = s.detections().data
        ids = match_gt_ids(rows[:, 0], rows[:, 2:6], s.ground_truth())
        files[s.name] = Path(folder) / f"{s.name}.npy"
        write_npy_detections(files[s.name], rows[:, :10], oracle_features(ids, noise, rng))
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA, help="default: %(default)s")
    ap.add_argument("--seq", nargs="+", default=list(DEFAULT_SEQS))
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0],
                    help="noise levels (0 = perfect identity features)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from tools.io.errors import InputError
    from tools.eval.evaluation import evaluate
    from tools.io.sequence import find_sequence
    from tools.track.experiment import run_experiment
    from tools.track.run_config import resolve

    try:
        seqs = [find_sequence(name, args.data_root) for name in args.seq]
    except InputError as exc:
        print(f"skipped: {exc}")
        return 0
    if not all(s.has_gt for s in seqs):
        print("skipped: the sequences need gt")
        return 0
    gt_root = seqs[0].root.parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # (label, tracker flags, detection files): `track run --appearance none` or `--detections FOLDER`
        runs = [("motion only", {"appearance": "none"}, None)]
        for noise in args.noise:
            files = write_oracle_detections(seqs, work / f"noise-{noise:g}", noise, args.seed)
            runs.append((f"oracle, noise {noise:g}", {}, files))
        print(f"DeepSORT (paper settings) on {', '.join(s.name for s in seqs)}, combined")
        print("| features | IDF1 | MOTA | HOTA | AssA | IDs | FM |")
        print("|---|---|---|---|---|---|---|")
        for i, (label, flags, detections) in enumerate(runs):
            try:
                run_experiment(seqs, resolve(None, flags), work / "results" / f"run{i}", detections=detections,
                               evaluate=False, progress=False)
            except InputError as exc:
                sys.exit(f"track run failed ({exc}) for {label}")
            c = evaluate(work / "results" / f"run{i}" / "data", gt_root, seqs=[s.name for s in seqs])["COMBINED"]
            print(f"| {label} | {c['IDF1']:.1f} | {c['MOTA']:.1f} | {c['HOTA']:.1f} | {c['AssA']:.1f} | "
                  f"{int(c['IDs'])} | {int(c['FM'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
