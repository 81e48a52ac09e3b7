"""Whether a trained model converged, from its training folder (log.csv, config.json): a
reader should know before comparing its descriptor with the others.

A VAE-family model is trained under the constraint E[C] <= kappa^2 with a Lagrange multiplier
lambda. If the running estimate C_hat never reached kappa^2 the model never learned to
reconstruct as asked, and if lambda ends at its cap the constraint was still being pushed when
training stopped; either way its descriptor is not the one the method describes.
"""
from __future__ import annotations

import math

import numpy as np

from appearance.training.lagrangian import LAMBDA_CLIP
from tools.report.inputs import Model, read_json


def _read_log(model: Model) -> dict[str, np.ndarray]:
    from appearance.training.curves import read_log

    log = model.folder / "log.csv"
    try:
        return read_log(log) if log.is_file() else {}
    except (ValueError, OSError):   # a damaged log says nothing about convergence
        return {}


def convergence_warnings(model: Model) -> list[str]:
    """One line naming the signs that `model` did not converge; none for a classifier, a model
    without a log, or one that converged."""
    cols = _read_log(model)
    lam = cols.get("lambda")
    if lam is None or not np.isfinite(lam).any():
        return []
    train = (read_json(model.folder / "config.json") or {}).get("train") or {}
    step = cols.get("step", np.zeros(0))
    steps = int(np.nanmax(step)) if np.isfinite(step).any() else len(lam)
    signs = []
    kappa2 = train.get("kappa2")
    c = cols.get("C_hat") if np.isfinite(cols.get("C_hat", np.zeros(0))).any() else cols.get("C")
    if kappa2 is not None and c is not None and np.isfinite(c).any() and np.nanmin(c) > kappa2:
        signs.append(f"its reconstruction error never met the bound C <= kappa^2 = {kappa2:g} "
                     f"(lowest {np.nanmin(c):.3g})")
    cap = float(train.get("lambda_max") or LAMBDA_CLIP[1])
    if math.isfinite(cap) and lam[np.isfinite(lam)][-1] >= cap * (1 - 1e-6):
        signs.append(f"lambda ended at its cap {cap:g} (--lambda-max), still forcing the constraint")
    if not signs:
        return []
    return [f"{model.label} did not converge in {steps} steps: {' and '.join(signs)}. Train it longer "
            f"(--steps) before trusting its descriptor."]
