"""Summaries of the pull-back metric G, kept apart from the Jacobians that produce it so they
work on any stack of metrics: the magnification factor sqrt(det G) (through log-det), the
condition number, the normalised MF (MF over its mean across the samples) and robust
descriptive statistics of each."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class MetricSummary:
    """Per sample: eigenvalues of G (ascending), log MF = 0.5 log det G, condition number."""

    eigenvalues: np.ndarray     # (B, d)
    log_mf: np.ndarray          # (B,)
    condition: np.ndarray       # (B,) lambda_max / lambda_min (inf where G is singular)

    @property
    def normalised_mf(self) -> np.ndarray:
        """MF_i / mean_j MF_j, computed from log MF (MF itself under- or overflows in 128-D)."""
        return normalised_mf(self.log_mf)

    @property
    def normalised_mf_per_dim(self) -> np.ndarray:
        """MF^(1/d) normalised by its mean: the geometric-mean singular value of J. In 128-D MF
        spans tens of decades, the mean of MF is set by the largest few samples and the linear
        spread of MF / mean(MF) collapses towards 0 for every model; this one stays comparable."""
        return normalised_mf(self.log_mf / self.eigenvalues.shape[1])

    @property
    def c2(self) -> float:
        """mean tr(G) / d: the scale FMVAE pulls G towards."""
        return float(self.eigenvalues.sum(1).mean() / self.eigenvalues.shape[1])


def metric_summary(metric: torch.Tensor | np.ndarray) -> MetricSummary:
    g = np.asarray(metric, dtype=np.float64)
    g = 0.5 * (g + np.swapaxes(g, 1, 2))
    ev = np.linalg.eigvalsh(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mf = 0.5 * np.where(ev > 0, np.log(np.where(ev > 0, ev, 1.0)), -np.inf).sum(1)
        cond = np.where(ev[:, 0] > 0, ev[:, -1] / ev[:, 0], np.inf)
    return MetricSummary(ev, log_mf, cond)


def magnification_factor(metric) -> np.ndarray:
    """sqrt(det G) per sample, through the log-determinant."""
    return np.exp(metric_summary(metric).log_mf)


def condition_number(metric) -> np.ndarray:
    return metric_summary(metric).condition


def normalised_mf(log_mf: np.ndarray) -> np.ndarray:
    log_mf = np.asarray(log_mf, dtype=np.float64)
    finite = np.isfinite(log_mf)
    if not finite.any():
        return np.full_like(log_mf, np.nan)
    m = log_mf[finite].max()
    log_mean = m + np.log(np.mean(np.exp(np.where(finite, log_mf, -np.inf) - m)))
    return np.exp(log_mf - log_mean)


def describe(values: np.ndarray) -> dict[str, float]:
    """Median, quartiles, IQR, mean and sd of the finite values (count of the others)."""
    v = np.asarray(values, dtype=np.float64)
    ok = v[np.isfinite(v)]
    if not len(ok):
        return {"n": 0, "non_finite": int(len(v))}
    q1, med, q3 = np.percentile(ok, [25, 50, 75])
    return {"n": int(len(ok)), "non_finite": int(len(v) - len(ok)), "median": float(med), "q1": float(q1),
            "q3": float(q3), "iqr": float(q3 - q1), "mean": float(ok.mean()),
            "sd": float(ok.std(ddof=1)) if len(ok) > 1 else 0.0, "min": float(ok.min()), "max": float(ok.max())}
