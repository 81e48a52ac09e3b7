"""The Lagrange multiplier of the VHP constraint E[C] <= kappa^2 and its update rule.

The scheme of Klushyn et al.'s group: a running estimate C_hat of the reconstruction error
drives lambda multiplicatively; it grows while the constraint is violated and relaxes towards
1 (the importance-weighted ELBO) once it holds. Its state goes into checkpoints so a resumed
run continues with the same lambda and C_hat.
"""
from __future__ import annotations

import math
from typing import Any


LAMBDA_CLIP = (1e-6, 1e8)   # default bounds of lambda (DESIGN's example values)


class LagrangeMultiplier:
    """lambda <- lambda * exp(-nu f(lambda, delta) delta), delta = C_hat - kappa^2.

    f(lambda, delta) = (1 - H(delta)) tanh(tau (1/lambda - 1)) - H(delta), H(0) = 0; the factor
    exp(...) is clipped to `factor_clip` and lambda to `lambda_clip`.
    """

    def __init__(self, kappa2: float, lambda0: float = 1.0, nu: float = 1.0, tau: float = 100.0,
                 ema: float = 0.99, factor_clip: tuple[float, float] = (0.9, 1.05),
                 lambda_clip: tuple[float, float] = LAMBDA_CLIP):
        self.kappa2 = float(kappa2)
        self.nu = float(nu)
        self.tau = float(tau)
        self.ema = float(ema)
        self.factor_clip = (float(factor_clip[0]), float(factor_clip[1]))
        self.lambda_clip = (float(lambda_clip[0]), float(lambda_clip[1]))
        self.value = min(max(float(lambda0), self.lambda_clip[0]), self.lambda_clip[1])
        self.c_hat: float | None = None   # None until the first batch
        self.steps = 0

    @property
    def delta(self) -> float | None:
        return None if self.c_hat is None else self.c_hat - self.kappa2

    def update(self, c_batch: float) -> float:
        """Fold in one batch's reconstruction error, update lambda, return the new lambda."""
        c_batch = float(c_batch)
        if not math.isfinite(c_batch):
            raise ValueError(f"reconstruction error is not finite: {c_batch}")
        self.c_hat = c_batch if self.c_hat is None else self.ema * self.c_hat + (1 - self.ema) * c_batch
        delta = self.c_hat - self.kappa2
        step = 1.0 if delta > 0 else 0.0
        f = (1.0 - step) * math.tanh(self.tau * (1.0 / self.value - 1.0)) - step
        factor = math.exp(-self.nu * f * delta)
        factor = min(max(factor, self.factor_clip[0]), self.factor_clip[1])
        self.value = min(max(self.value * factor, self.lambda_clip[0]), self.lambda_clip[1])
        self.steps += 1
        return self.value

    def state_dict(self) -> dict[str, Any]:
        return {"value": self.value, "c_hat": self.c_hat, "steps": self.steps, "kappa2": self.kappa2,
                "nu": self.nu, "tau": self.tau, "ema": self.ema, "factor_clip": list(self.factor_clip),
                "lambda_clip": list(self.lambda_clip)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.value = float(state["value"])
        self.c_hat = None if state["c_hat"] is None else float(state["c_hat"])
        self.steps = int(state["steps"])
        self.kappa2 = float(state["kappa2"])
        self.nu = float(state["nu"])
        self.tau = float(state["tau"])
        self.ema = float(state["ema"])
        self.factor_clip = tuple(float(v) for v in state["factor_clip"])
        self.lambda_clip = tuple(float(v) for v in state["lambda_clip"])
