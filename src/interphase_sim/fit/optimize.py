"""Least-squares and global fits of Objectives, with covariance from the Fisher information."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.optimize

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameters
from interphase_sim.fit.budget import correlated_pair_check, error_budget, prior_residuals
from interphase_sim.fit.objective import FitError, Objective, as_objectives, free_parameters
from interphase_sim.fit.result import FitResult

__all__ = ["fit", "fisher_covariance", "fisher_matrix", "Evaluator"]

METHODS = ("least_squares", "differential_evolution", "lbfgsb")


class Evaluator:
    """Sets the free Parameters from a vector and evaluates every objective.

    Counts evaluations; a model failure (NaN, an invalid value) becomes a
    :class:`FitError` naming the parameter values where it happened.
    """

    def __init__(self, objectives: list[Objective], params: Parameters, priors: bool = True) -> None:
        self.objectives = objectives
        self.params = params
        self.names = list(params)
        self.nfev = 0
        self.priors = bool(priors)  # the explicit priors as residuals (budget module)
        # each objective's Parameters (fixed objects during a fit) and its last prediction:
        # a step that moves none of an objective's Parameters (a Jacobian column of another
        # instrument's calibration) reuses it instead of re-running that model
        self._inputs = [list(o.parameters().values()) for o in objectives]
        self._last: list[tuple[tuple[float, ...], np.ndarray] | None] = [None] * len(objectives)

    def set(self, x: np.ndarray) -> None:
        for p, v in zip(self.params.values(), x, strict=True):
            lo, hi = p.bounds
            p.value = min(max(float(v), lo), hi)  # optimizers may step a hair outside

    def where(self) -> str:
        return ", ".join(f"{n} = {p.value:.6g}" for n, p in self.params.items())

    def expected(self, x: np.ndarray) -> list[np.ndarray]:
        self.set(x)
        self.nfev += 1
        try:
            return [self._expected(k) for k in range(len(self.objectives))]
        except FitError as exc:
            raise FitError(f"{exc} at {self.where()}") from None
        except InterphaseInputError as exc:
            raise FitError(f"the model rejected the parameters ({exc}) at {self.where()}") from None

    def _expected(self, k: int) -> np.ndarray:
        key = tuple(p.value for p in self._inputs[k])
        last = self._last[k]
        if last is not None and last[0] == key:
            return last[1]
        mu = self.objectives[k].expected()
        self._last[k] = (key, mu)
        return mu

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Every objective's residuals, then one per explicit prior."""
        mus = self.expected(x)
        parts = [o.residuals(m) for o, m in zip(self.objectives, mus)]
        if self.priors:
            parts.append(prior_residuals(list(self.params.values()), np.asarray(x, dtype=float)))
        return np.concatenate(parts)

    def statistic(self, x: np.ndarray) -> float:
        r = self.residuals(x)
        return float(r @ r)


def fisher_matrix(ev: Evaluator, x: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """The data's Fisher information about the free parameters at ``x``.

    ``I = sum_objectives J^T diag(w) J`` with ``J = d mu / d theta`` by central differences
    (so the deviance's kinks at zero counts do not matter) and ``w = 1/mu`` (Poisson) or
    ``1/sigma^2`` (Gaussian). The priors are added by :func:`~interphase_sim.fit.budget.error_budget`.
    """
    n = x.size
    lo = np.array([p.bounds[0] for p in ev.params.values()])
    hi = np.array([p.bounds[1] for p in ev.params.values()])
    mus0 = ev.expected(x)
    jac = [np.empty((m.size, n)) for m in mus0]
    for i in range(n):
        scale = max(abs(x[i]), 1e-3 * (hi[i] - lo[i]) if math.isfinite(hi[i] - lo[i]) else 1.0, 1e-12)
        h = rel_step * scale
        up, dn = x.copy(), x.copy()
        up[i] = min(x[i] + h, hi[i])
        dn[i] = max(x[i] - h, lo[i])
        mu_up, mu_dn = ev.expected(up), ev.expected(dn)
        for k in range(len(mus0)):
            jac[k][:, i] = (mu_up[k] - mu_dn[k]) / (up[i] - dn[i])
    ev.set(x)
    fisher = np.zeros((n, n))
    for o, m, j in zip(ev.objectives, mus0, jac):
        w = o.fisher_weights(m)
        fisher += j.T @ (j * w[:, None])
    return fisher


def fisher_covariance(ev: Evaluator, x: np.ndarray, rel_step: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """(total covariance, Fisher matrix) of the free parameters at ``x``.

    The covariance is the inverse of the Fisher information plus the priors' precisions:
    an explicit prior's ``1 / std^2``, else finite bounds' uniform ``12 / width^2``. That
    changes nothing for a well-constrained parameter (sigma << width) and keeps the
    inverse finite along a direction the data cannot see (e.g. thickness x density),
    where it then shows the prior's width and a correlation near -1/+1.
    """
    fisher = fisher_matrix(ev, x, rel_step)
    return error_budget(ev.names, list(ev.params.values()), fisher).covariance, fisher


def fit(
    objectives: Objective | Iterable[Objective],
    method: str = "least_squares",
    *,
    seed: Any = None,
    max_nfev: int | None = None,
    scale_covar: bool = False,
    **options: Any,
) -> FitResult:
    """Refine the free Parameters of one or several Objectives.

    Parameters
    ----------
    objectives : Objective or list of Objective
        Fitted jointly; a Parameter shared by several models is one variable.
    method : {"least_squares", "differential_evolution", "lbfgsb"}
        ``least_squares``: scipy's trust-region reflective on the residuals, within the
        bounds. ``differential_evolution``: global search (needs finite bounds on every
        free parameter), polished by least squares. ``lbfgsb``: scipy.optimize.minimize.
    seed : int or Generator, optional
        For the stochastic method.
    max_nfev : int, optional
        Cap on model evaluations.
    scale_covar : bool
        Multiply the covariance by the reduced statistic (lmfit's default). Off by
        default: with counts (or correct sigmas) the likelihood already sets the scale.
    **options
        Passed to the scipy routine.

    Returns
    -------
    FitResult
        The Parameters are left at the best values.
    """
    objs = as_objectives(objectives)
    if method not in METHODS:
        raise InterphaseInputError("method", f"choose one of {', '.join(METHODS)}, got {method!r}")
    params = free_parameters(objs)
    bounds = params.bounds_array()
    x0 = params.get_values()
    _check_start(params, bounds, x0, method)
    ev = Evaluator(objs, params)
    # Fail early and clearly if the start point itself cannot be evaluated.
    ev.residuals(x0)
    t0 = time.perf_counter()
    x, success, message = _minimize(ev, method, x0, bounds, seed, max_nfev, options)
    ev.set(x)
    mus = ev.expected(x)
    stats = [o.statistic(m) for o, m in zip(objs, mus)]
    fisher = fisher_matrix(ev, x)
    # degrees of freedom: informative points (a channel that can never have counts is none)
    dof = sum(o.n_informative(m) for o, m in zip(objs, mus)) - x.size
    reduced = sum(stats) / dof if dof > 0 else math.nan
    if scale_covar and dof > 0:
        fisher = fisher / reduced
    budget = error_budget(list(params), list(params.values()), fisher)
    wall = time.perf_counter() - t0
    result = FitResult.build(
        objectives=objs, params=params, x=x, budget=budget, fisher=fisher, statistics=stats, dof=dof,
        success=success, message=message, nfev=ev.nfev, wall_time_s=wall, method=method,
        prior_penalty=float(np.sum(prior_residuals(list(params.values()), x) ** 2)),
    )
    result.pair_check = correlated_pair_check(ev.statistic, x, bounds, result.names, result.covariance,
                                              result.correlation)
    ev.set(x)
    for name in result.at_bounds:
        warnings.warn(f"{name} ended at a bound ({result.values[name]:.6g}); its error is unreliable",
                      UserWarning, stacklevel=2)
    return result


def _check_start(params: Parameters, bounds: np.ndarray, x0: np.ndarray, method: str) -> None:
    """Start values inside their bounds; finite bounds everywhere for the global method."""
    for (name, p), x in zip(params.items(), x0):
        lo, hi = p.bounds
        if not lo <= x <= hi:
            raise InterphaseInputError(name, f"start value {x} is outside its bounds [{lo}, {hi}]")
    if method == "differential_evolution":
        unbounded = [n for n, (lo, hi) in zip(params, bounds) if not (math.isfinite(lo) and math.isfinite(hi))]
        if unbounded:
            raise InterphaseInputError(
                unbounded[0], "differential_evolution needs finite min and max on every free parameter"
            )


def _minimize(
    ev: Evaluator, method: str, x0: np.ndarray, bounds: np.ndarray, seed: Any, max_nfev: int | None,
    options: dict[str, Any],
) -> tuple[np.ndarray, bool, str]:
    """Run one of :data:`METHODS` from ``x0`` within ``bounds`` (P, 2): (best x, success, message)."""
    if method == "least_squares":
        res = scipy.optimize.least_squares(
            ev.residuals, x0, bounds=(bounds[:, 0], bounds[:, 1]), x_scale="jac",
            max_nfev=max_nfev, **options,
        )
        return res.x, bool(res.success), str(res.message)
    if method == "lbfgsb":
        res = scipy.optimize.minimize(
            ev.statistic, x0, method="L-BFGS-B", bounds=[tuple(b) for b in bounds],
            options={"maxfun": max_nfev or 15000, **options},
        )
        return res.x, bool(res.success), str(res.message)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    res = scipy.optimize.differential_evolution(
        ev.statistic, [tuple(b) for b in bounds], seed=rng, polish=False,
        maxiter=options.pop("maxiter", 200), **options,
    )
    polish = scipy.optimize.least_squares(
        ev.residuals, res.x, bounds=(bounds[:, 0], bounds[:, 1]), x_scale="jac", max_nfev=max_nfev,
    )
    better = polish.cost * 2 <= res.fun
    x = polish.x if better else res.x
    return x, bool(res.success or polish.success), f"{res.message}; polish: {polish.message}"
