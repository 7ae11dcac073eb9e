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
from interphase_sim.fit.budget import (FixedSystematics, correlated_pair_check, error_budget, prior_residuals,
                                      prior_terms)
from interphase_sim.fit.objective import FitError, Objective, as_objectives, free_parameters, held_systematics
from interphase_sim.fit.result import FitResult

__all__ = ["fit", "fisher_covariance", "fisher_matrix", "jacobians", "Evaluator"]

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
        self.on_evaluation: Any = None  # called after each evaluation (a progress bar's update)
        self.priors = bool(priors)  # the explicit priors as residuals (budget module)
        # each objective's Parameters (fixed objects during a fit) and its last prediction:
        # a step that moves none of an objective's Parameters (a Jacobian column of another
        # instrument's calibration) reuses it instead of re-running that model
        self._inputs = [list(o.parameters().values()) for o in objectives]
        self._last: list[tuple[tuple[float, ...], np.ndarray] | None] = [None] * len(objectives)
        self._last_residuals: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(objectives)
        self.last_jacobian: tuple[np.ndarray, list[np.ndarray], list[np.ndarray]] | None = None

    def set(self, x: np.ndarray) -> None:
        for p, v in zip(self.params.values(), x, strict=True):
            lo, hi = p.bounds
            p.value = min(max(float(v), lo), hi)  # optimizers may step a hair outside

    def where(self) -> str:
        return ", ".join(f"{n} = {p.value:.6g}" for n, p in self.params.items())

    def expected(self, x: np.ndarray) -> list[np.ndarray]:
        self.set(x)
        self.nfev += 1
        if self.on_evaluation is not None:
            self.on_evaluation()
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

    def _residuals(self, k: int, mu: np.ndarray) -> np.ndarray:
        """Objective k's residuals at its prediction ``mu`` (the last ones again for a reused prediction)."""
        last = self._last_residuals[k]
        if last is not None and last[0] is mu:
            return last[1]
        r = self.objectives[k].residuals(mu)
        self._last_residuals[k] = (mu, r)
        return r

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Every objective's residuals, then one per explicit prior."""
        mus = self.expected(x)
        parts = [self._residuals(k, m) for k, m in enumerate(mus)]
        if self.priors:
            parts.append(prior_residuals(list(self.params.values()), np.asarray(x, dtype=float)))
        return np.concatenate(parts)

    def statistic(self, x: np.ndarray) -> float:
        r = self.residuals(x)
        return float(r @ r)

    def residual_jacobian(self, x: np.ndarray) -> np.ndarray:
        """d residuals / d x (the rows of :meth:`residuals`): the predictions' Jacobians
        (:func:`jacobians`, forward differences) through each objective's
        :meth:`~interphase_sim.fit.objective.Objective.residual_derivative`, and the priors'
        ``1 / std``. Kept (:attr:`last_jacobian`) for the Fisher information at the optimum."""
        x = np.asarray(x, dtype=float)
        jac, mus = jacobians(self, x, central=False)
        self.last_jacobian = (x.copy(), jac, mus)
        _, std, explicit = prior_terms(list(self.params.values()))
        n_prior = int(explicit.sum()) if self.priors else 0
        out = np.zeros((sum(m.size for m in mus) + n_prior, x.size), order="F")
        start = 0
        for o, m, j in zip(self.objectives, mus, jac):
            np.multiply(j, o.residual_derivative(m)[:, None], out=out[start:start + m.size])
            start += m.size
        if n_prior:
            out[start + np.arange(n_prior), np.flatnonzero(explicit)] = 1.0 / std[explicit]
        return out


def fisher_matrix(ev: Evaluator, x: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """The data's Fisher information about the free parameters at ``x``.

    ``I = sum_objectives J^T diag(w) J`` with ``J = d mu / d theta`` (:func:`jacobians`: the
    predictions are smooth, so the deviance's kinks at zero counts do not matter) and
    ``w = 1/mu`` (Poisson) or ``1/sigma^2`` (Gaussian). The priors are added by
    :func:`~interphase_sim.fit.budget.error_budget`.
    """
    jac, mus0 = jacobians(ev, x, rel_step)
    return information(ev, mus0, jac, jac)


def information(ev: Evaluator, mus: list[np.ndarray], jac_a: list[np.ndarray], jac_b: list[np.ndarray]) -> np.ndarray:
    """``sum over objectives of A^T diag(w) B`` (w the Fisher weights at ``mus``): the Fisher
    matrix for A = B = the free parameters' Jacobians, the cross information otherwise."""
    out = np.zeros((jac_a[0].shape[1], jac_b[0].shape[1]))
    for o, m, a, b in zip(ev.objectives, mus, jac_a, jac_b):
        out += a.T @ (b * o.fisher_weights(m)[:, None])
    return out


def propagate_held(ev: Evaluator, x: np.ndarray, mus: list[np.ndarray], jac: list[np.ndarray],
                   rel_step: float = 1e-4) -> FixedSystematics | None:
    """The held systematics of the objectives (:func:`~interphase_sim.fit.objective.held_systematics`:
    the 6Li abundance, an amorphous density) with their cross information with the free
    parameters, for :func:`~interphase_sim.fit.budget.error_budget`; None if there are none.
    Their Jacobian columns are central differences of ``rel_step`` x value (or prior width)."""
    free = {id(p) for p in ev.params.values()}
    names: dict[int, str] = {}
    for o in ev.objectives:
        for n, p in o.parameters().items():
            names.setdefault(id(p), n)
    held = {id(p): (names[id(p)], p) for p in held_systematics(ev.objectives) if id(p) not in free}
    if not held:
        return None
    cols = [np.empty((m.size, len(held))) for m in mus]
    for j, (_, p) in enumerate(held.values()):
        v = p.value
        h = rel_step * max(abs(v), float(p.prior.std()), 1e-12)
        lo, hi = p.bounds
        up, dn = min(v + h, hi), max(v - h, lo)
        p.value = up
        mu_up = ev.expected(x)
        p.value = dn
        mu_dn = ev.expected(x)
        p.value = v
        for k in range(len(mus)):
            cols[k][:, j] = (mu_up[k] - mu_dn[k]) / (up - dn)
    ev.expected(x)
    return FixedSystematics(names=[n for n, _ in held.values()],
                            prior_std=np.array([float(p.prior.std()) for _, p in held.values()]),
                            cross=information(ev, mus, jac, cols))


def _correlation(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(cov / np.outer(sd, sd), nan=0.0)
    return np.clip(corr, -1.0, 1.0)


def jacobians(ev: Evaluator, x: np.ndarray, rel_step: float = 1e-4, central: bool = True,
              forward: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(d mu / d theta per objective (points x free parameters), mu per objective) at ``x``.

    Central differences of ``rel_step`` times the parameter's scale (its value, or 1e-3 of
    its bound span if larger), within the bounds; forward ones (backward at an upper
    bound) with ``central=False``, as the least squares take them; ``forward``, such
    forward differences already taken at ``x``, spares the forward half of the central
    ones. Central differences matter along a direction the data hardly see: there a
    forward difference's O(step) error is information the data do not have. An objective
    that a parameter does not touch reuses its prediction (:class:`Evaluator`): a column
    costs only the models that parameter enters. The model is left at ``x``.
    """
    n = x.size
    lo = np.array([p.bounds[0] for p in ev.params.values()])
    hi = np.array([p.bounds[1] for p in ev.params.values()])
    mus0 = ev.expected(x)
    jac = [np.empty((m.size, n), order="F") for m in mus0]  # columns contiguous: filled one by one
    for i in range(n):
        scale = max(abs(x[i]), 1e-3 * (hi[i] - lo[i]) if math.isfinite(hi[i] - lo[i]) else 1.0, 1e-12)
        h = rel_step * scale
        up, dn = x.copy(), x.copy()
        up[i] = min(x[i] + h, hi[i])
        dn[i] = max(x[i] - h, lo[i]) if central or up[i] == x[i] else x[i]
        if up[i] == x[i]:
            mu_up = mus0
        elif forward is not None:  # the forward column, taken with this very step
            mu_up = [m + f[:, i] * (up[i] - x[i]) for m, f in zip(mus0, forward)]
        else:
            mu_up = ev.expected(up)
        mu_dn = ev.expected(dn) if dn[i] != x[i] else mus0
        for k in range(len(mus0)):
            jac[k][:, i] = (mu_up[k] - mu_dn[k]) / (up[i] - dn[i])
    ev.expected(x)  # leave the models (and the cache) at x
    return jac, mus0


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
    progress: bool = False,
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
    progress : bool
        A progress bar (tqdm, on stderr): over differential evolution's generations, or a
        count of model evaluations for the local methods.
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
    from interphase_sim.core.progress import bar

    with bar(None, "fit", "evaluation", progress and method != "differential_evolution") as evaluations:
        ev.on_evaluation = evaluations.update  # a count and a rate (the local methods' length is unknown)
        x, success, message = _minimize(ev, method, x0, bounds, seed, max_nfev, options, progress)
        ev.on_evaluation = None
    ev.set(x)
    mus = ev.expected(x)
    stats = [o.statistic(m) for o, m in zip(objs, mus)]
    last = ev.last_jacobian
    # the information at the optimum, by central differences: the least squares' last
    # (forward) Jacobian gives their forward half when it was taken there
    forward = last[1] if last is not None and np.array_equal(last[0], x) else None
    jac = jacobians(ev, x, forward=forward)[0]
    fisher = information(ev, mus, jac, jac)
    # degrees of freedom: informative points (a channel that can never have counts is none)
    dof = sum(o.n_informative(m) for o, m in zip(objs, mus)) - x.size
    reduced = sum(stats) / dof if dof > 0 else math.nan
    held = propagate_held(ev, x, mus, jac)
    if scale_covar and dof > 0:
        fisher = fisher / reduced
        if held is not None:
            held = FixedSystematics(held.names, held.prior_std, held.cross / reduced)
    budget = error_budget(list(params), list(params.values()), fisher, held)
    wall = time.perf_counter() - t0
    result = FitResult.build(
        objectives=objs, params=params, x=x, budget=budget, fisher=fisher, statistics=stats, dof=dof,
        success=success, message=message, nfev=ev.nfev, wall_time_s=wall, method=method,
        prior_penalty=float(np.sum(prior_residuals(list(params.values()), x) ** 2)),
    )
    result.pair_check = correlated_pair_check(ev.statistic, x, bounds, result.names, budget.free_covariance,
                                              _correlation(budget.free_covariance))
    ev.set(x)
    for name in result.at_bounds:
        warnings.warn(f"{name} ended at a bound ({result.values[name]:.6g}); its error is unreliable",
                      UserWarning, stacklevel=2)
    if result.poor_fit:
        warnings.warn(result.misfit_text(), UserWarning, stacklevel=2)
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


#: Residuals above which the trust-region steps are solved iteratively (LSMR) rather than by an
#: SVD of the whole Jacobian: a 200 x 2048 line scan has 409,600 residuals, whose SVD costs
#: ~0.1 s an iteration; LSMR needs a few Jacobian products and reaches the same minimum.
LSMR_RESIDUALS = 100_000


def _trust_region_solver(ev: Evaluator, x0: np.ndarray) -> str:
    """scipy's ``tr_solver``: "lsmr" for long residual vectors, "exact" otherwise."""
    n_residuals = sum(o.n_data for o in ev.objectives) + x0.size
    return "lsmr" if n_residuals > LSMR_RESIDUALS else "exact"


#: The least squares stop once an accepted step lowers the statistic (chi-square or
#: deviance) by less than this: 1 is one standard error, so the parameters sit within ~0.1
#: standard error of the minimum. scipy's relative ``ftol`` of 1e-8 alone means 0.004 on a
#: 409,600-channel line scan, and two or three more Jacobians for nothing.
STATISTIC_TOL = 0.01


class _SmallImprovement:
    """least_squares callback: stop after an accepted step that gained < STATISTIC_TOL."""

    def __init__(self) -> None:
        self.cost: float | None = None
        self.last = math.inf
        self.stopped = False

    def __call__(self, intermediate_result: Any) -> None:
        cost = float(intermediate_result["cost"])
        if self.cost is not None and cost < self.cost:
            self.last = 2.0 * (self.cost - cost)  # cost = statistic / 2
            if self.last < STATISTIC_TOL:
                self.stopped = True
                raise StopIteration
        self.cost = cost


def _minimize(
    ev: Evaluator, method: str, x0: np.ndarray, bounds: np.ndarray, seed: Any, max_nfev: int | None,
    options: dict[str, Any],
    progress: bool = False,
) -> tuple[np.ndarray, bool, str]:
    """Run one of :data:`METHODS` from ``x0`` within ``bounds`` (P, 2): (best x, success, message)."""
    if method == "least_squares":
        stop = _SmallImprovement()
        res = scipy.optimize.least_squares(
            ev.residuals, x0, jac=ev.residual_jacobian, bounds=(bounds[:, 0], bounds[:, 1]), x_scale="jac",
            max_nfev=max_nfev, **{"tr_solver": _trust_region_solver(ev, x0), "callback": stop, **options},
        )
        if stop.stopped:
            return res.x, True, f"the last step lowered the statistic by {stop.last:.2g} < {STATISTIC_TOL}"
        return res.x, bool(res.success), str(res.message)
    if method == "lbfgsb":
        res = scipy.optimize.minimize(
            ev.statistic, x0, method="L-BFGS-B", bounds=[tuple(b) for b in bounds],
            options={"maxfun": max_nfev or 15000, **options},
        )
        return res.x, bool(res.success), str(res.message)
    from interphase_sim.core.progress import bar

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    maxiter = options.pop("maxiter", 200)
    with bar(maxiter, "differential evolution", "generation", progress) as generations:

        def one_generation(*_args: Any, **_kw: Any) -> None:  # None: never asks scipy to stop
            generations.update(1)

        res = scipy.optimize.differential_evolution(
            ev.statistic, [tuple(b) for b in bounds], seed=rng, polish=False, maxiter=maxiter,
            callback=one_generation, **options,
        )
    polish = scipy.optimize.least_squares(
        ev.residuals, res.x, bounds=(bounds[:, 0], bounds[:, 1]), x_scale="jac", max_nfev=max_nfev,
    )
    better = polish.cost * 2 <= res.fun
    x = polish.x if better else res.x
    return x, bool(res.success or polish.success), f"{res.message}; polish: {polish.message}"
