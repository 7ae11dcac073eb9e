"""The error budget and the diagnostics of a fit: priors, statistical / systematic / total
errors, what the data do not constrain, normalised phase fractions.

A free Parameter's prior enters the least squares as one residual,
``(value - prior mean) / prior std`` (exact for a Gaussian prior, its Gaussian
approximation otherwise), and the Fisher matrix as its precision ``1 / std^2``; finite
bounds without an explicit prior add the precision ``12 / width^2`` of their uniform
prior. With ``H`` the Fisher information plus those precisions:

- the **total** covariance is ``H^-1``: every free parameter moves, the systematic ones
  within their priors;
- the **statistical** covariance holds the systematic parameters (``role="systematic"``:
  a stopping-power or cross-section scale) at their values: the inverse of ``H``
  restricted to the other parameters;
- the **systematic** error is what the systematics add: ``sqrt(total^2 - statistical^2)``.

A systematic Parameter that is *not* free but has an explicit prior (the 6Li abundance,
the density of an amorphous phase: :class:`FixedSystematics`) is propagated linearly: the
fitted values would move by ``G = -H^-1 B`` per unit of it, with ``B = sum J^T W
d mu / d theta`` the cross information, and ``G sigma^2 G^T`` (sigma its prior's width)
joins the total covariance. That is what freeing it would give when the data do not
constrain it better than its prior; free it (``vary = true``) when they might, and
:func:`~interphase_sim.fit.sample` marginalises it either way.

A parameter whose total error is more than :data:`PRIOR_LIMITED` of its prior's width
is *not constrained by the data*: its error is the prior's, not a measurement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ErrorBudget", "FixedSystematics", "prior_terms", "prior_residuals", "error_budget", "phase_fractions", "at_bound",
           "correlated_pair_check", "PRIOR_LIMITED"]

#: Total error above this share of the prior's standard deviation: the data do not constrain it.
PRIOR_LIMITED = 0.7
_PHASE = re.compile(r"^(?P<layer>.+)\.(?P<table>phases|phases_bottom)\.(?P<phase>[^.#]+)(?P<tag>#\d+)?$")


def prior_terms(params: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, std, has an explicit prior) per parameter; std from the bounds' uniform
    prior (``width / sqrt(12)``, inf when unbounded) where there is no explicit prior."""
    mean, std, explicit = [], [], []
    for p in params:
        if p.prior is not None:
            mean.append(float(p.prior.mean()))
            std.append(float(p.prior.std()))
            explicit.append(True)
        else:
            lo, hi = p.bounds
            mean.append(0.5 * (lo + hi) if math.isfinite(hi - lo) else math.nan)
            std.append((hi - lo) / math.sqrt(12.0) if math.isfinite(hi - lo) else math.inf)
            explicit.append(False)
    return np.array(mean), np.array(std), np.array(explicit, dtype=bool)


def prior_residuals(params: Sequence[Any], x: np.ndarray) -> np.ndarray:
    """The least-squares residuals of the explicit priors at ``x`` (one per such parameter)."""
    mean, std, explicit = prior_terms(params)
    return (x[explicit] - mean[explicit]) / std[explicit]


@dataclass(frozen=True)
class ErrorBudget:
    """Errors of a fit's free parameters (1 sigma), in the order of ``names``.

    Attributes
    ----------
    names : list of str
    total, statistical, systematic : ndarray
        Total error (systematics free within their priors), statistical (systematics
        held), and what the systematics add in quadrature; NaN statistical and
        systematic for a systematic parameter itself.
    covariance : ndarray
        The total covariance.
    prior_std : ndarray
        The prior's standard deviation (inf: none).
    prior_limited : list of str
        Parameters the data do not constrain (total error > PRIOR_LIMITED x prior std).
    free_covariance : ndarray
        The covariance of the free parameters alone (without the held systematics): the
        curvature of the statistic, which a profile check tests.
    propagated : dict
        Per held systematic (:class:`FixedSystematics`): its prior width and how far one
        prior standard deviation of it moves each free parameter.
    """

    names: list[str]
    total: np.ndarray
    statistical: np.ndarray
    systematic: np.ndarray
    covariance: np.ndarray
    prior_std: np.ndarray
    prior_limited: list[str]
    free_covariance: np.ndarray | None = None
    propagated: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class FixedSystematics:
    """Systematic Parameters held at their values in a fit, with explicit priors.

    Attributes
    ----------
    names : list of str
    prior_std : ndarray (q,)
        Their priors' standard deviations.
    cross : ndarray (n, q)
        ``sum over objectives of J^T diag(w) (d mu / d theta)``: J the free parameters'
        Jacobian, w the Fisher weights.
    """

    names: list[str]
    prior_std: np.ndarray
    cross: np.ndarray


def _inverse(h: np.ndarray) -> np.ndarray:
    try:
        cov = np.linalg.inv(h)
        if np.all(np.isfinite(cov)) and np.all(np.diag(cov) >= 0):
            return cov
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(h)


def error_budget(names: list[str], params: Sequence[Any], fisher: np.ndarray,
                 fixed: FixedSystematics | None = None) -> ErrorBudget:
    """The :class:`ErrorBudget` of a fit from the data's Fisher matrix, the priors and the
    held systematics (``fixed``, propagated linearly)."""
    _, std, _ = prior_terms(params)
    precision = np.where(np.isfinite(std), 1.0 / np.where(np.isfinite(std), std, 1.0) ** 2, 0.0)
    h = fisher + np.diag(precision)
    free_cov = cov = _inverse(h)
    propagated: dict[str, dict[str, Any]] = {}
    if fixed is not None and fixed.names:
        shifts = -(free_cov @ fixed.cross) * fixed.prior_std[None, :]  # (n, q): per 1 sigma of each
        cov = free_cov + shifts @ shifts.T
        propagated = {f: {"prior_std": float(sd), "shifts": {n: float(v) for n, v in zip(names, shifts[:, j])}}
                      for j, (f, sd) in enumerate(zip(fixed.names, fixed.prior_std))}
    total = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    systematic_role = np.array([p.role == "systematic" for p in params], dtype=bool)
    stat = np.full(len(names), math.nan)
    keep = ~systematic_role
    if keep.any():
        stat[keep] = np.sqrt(np.clip(np.diag(_inverse(h[np.ix_(keep, keep)])), 0.0, None))
    sys_ = np.sqrt(np.clip(total**2 - stat**2, 0.0, None))
    sys_[systematic_role] = math.nan
    free_total = np.sqrt(np.clip(np.diag(free_cov), 0.0, None))  # the held systematics are not this prior
    limited = [n for n, t, s, p in zip(names, free_total, std, params)
               if math.isfinite(s) and t > PRIOR_LIMITED * s and p.role != "systematic"]
    return ErrorBudget(names=list(names), total=total, statistical=stat, systematic=sys_, covariance=cov,
                       prior_std=std, prior_limited=limited, free_covariance=free_cov, propagated=propagated)


def phase_fractions(objectives: Sequence[Any], names: list[str], cov: np.ndarray) -> dict[str, dict[str, float]]:
    """Normalised phase fractions of every layer with a free phase weight, with errors.

    Phase weights (``LAYER.phases.PHASE``) are unnormalised: a layer's volume fractions
    are ``w_i / sum_j w_j`` over all its weights, fixed ones included. Errors propagate
    the covariance through that ratio. Returns ``{"LAYER.phases.PHASE": {"fraction",
    "error"}}`` for every phase of such a layer.
    """
    index = {n: i for i, n in enumerate(names)}
    groups: dict[tuple[str, str], dict[str, tuple[float, int | None]]] = {}
    for obj in objectives:
        for name, p in obj.parameters().items():
            m = _PHASE.match(name)
            if m:
                key = (m["layer"], m["table"])
                groups.setdefault(key, {})[name] = (float(p.value), index.get(name))
    out: dict[str, dict[str, float]] = {}
    for (layer, table), members in groups.items():
        free = [i for _, i in members.values() if i is not None]
        if not free:
            continue
        w = np.array([v for v, _ in members.values()])
        total = w.sum()
        if total <= 0:
            continue
        for k, (name, (v, _)) in enumerate(members.items()):
            grad = np.zeros(len(names))  # d f_k / d w_j = (delta_kj - f_k) / total
            for j, (_, i) in enumerate(members.values()):
                if i is not None:
                    grad[i] = ((k == j) - v / total) / total
            var = float(grad @ cov @ grad)
            out[name] = {"fraction": float(v / total), "error": math.sqrt(max(var, 0.0))}
    return out


def at_bound(names: list[str], params: Sequence[Any], x: np.ndarray, error: np.ndarray,
             fractions: dict[str, dict[str, float]]) -> list[str]:
    """Free parameters that ended on a bound, judged on their own scale (their value and
    error, not the bound span). A phase weight counts only when its normalised fraction
    is 0 or 1 (a weight at its maximum is a scale, not a limit, while others compensate)."""
    out = []
    for name, p, v, e in zip(names, params, x, error):
        lo, hi = p.bounds
        scale = max(abs(v), e if math.isfinite(e) else 0.0, 1e-12)
        tol = 1e-6 * scale
        low, high = math.isfinite(lo) and v - lo <= tol, math.isfinite(hi) and hi - v <= tol
        if name in fractions:
            f = fractions[name]["fraction"]
            low, high = low and f <= 1e-6, high and f >= 1.0 - 1e-6
        if low or high:
            out.append(name)
    return out


def correlated_pair_check(statistic: Any, x: np.ndarray, bounds: np.ndarray, names: list[str],
                          cov: np.ndarray, corr: np.ndarray) -> dict[str, Any] | None:
    """Is the Gaussian error of the most correlated pair right? A step of one standard
    error of the pair's first parameter, along the covariance's regression line (the
    others following), should raise the statistic (with the priors) by 1; the mean rise
    over the two directions is returned (``delta_statistic``; far from 1: the posterior is
    not Gaussian there, sample it). ``statistic(x)`` evaluates the total objective."""
    n = len(names)
    if n < 2:
        return None
    off = np.abs(corr - np.eye(n))
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    sd = math.sqrt(cov[i, i]) if cov[i, i] > 0 else 0.0
    if sd == 0.0:
        return None
    step = cov[:, i] / sd
    base = statistic(x)
    rises = [statistic(np.clip(x + sign * step, bounds[:, 0], bounds[:, 1])) - base for sign in (1.0, -1.0)]
    statistic(x)  # leave the model at the best values
    return {"pair": [names[i], names[j]], "correlation": float(corr[i, j]),
            "delta_statistic": float(np.mean(rises)), "expected": 1.0}
