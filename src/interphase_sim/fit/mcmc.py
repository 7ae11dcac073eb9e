"""Bayesian sampling of Objectives with emcee: priors from the Parameters."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.fileio import atomic_write_text
from interphase_sim.core.params import Parameters
from interphase_sim.fit.objective import FitError, Objective, as_objectives, free_parameters, held_systematics
from interphase_sim.fit.optimize import Evaluator, fit
from interphase_sim.fit.result import FitResult

__all__ = ["sample", "SampleResult"]

AUTOCORR_FACTOR = 50  # chains shorter than this many autocorrelation times get a warning


@dataclass
class SampleResult:
    """Posterior samples and their summaries.

    Attributes
    ----------
    names : list of str
        Free parameters, in chain order.
    chain : (nsteps, nwalkers, ndim) ndarray
        Every walker's position at every step.
    log_prob : (nsteps, nwalkers) ndarray
    acceptance_fraction : (nwalkers,) ndarray
    autocorr_time : (ndim,) ndarray
        Integrated autocorrelation times (steps); NaN when they could not be estimated.
    burn, thin : int
        Steps discarded and thinning used for ``samples``.
    samples : (n, ndim) ndarray
        Flattened posterior samples after burn-in and thinning.
    median : dict
    interval68, interval95 : dict of (low, high)
        Central credible intervals (16-84 % and 2.5-97.5 %).
    n_failed : int
        Proposals where the model failed (NaN); they were given zero probability.
    """

    names: list[str]
    chain: np.ndarray
    log_prob: np.ndarray
    acceptance_fraction: np.ndarray
    autocorr_time: np.ndarray
    burn: int
    thin: int
    samples: np.ndarray
    median: dict[str, float]
    interval68: dict[str, tuple[float, float]]
    interval95: dict[str, tuple[float, float]]
    n_failed: int
    wall_time_s: float
    start: FitResult | None = None

    def half_width68(self) -> dict[str, float]:
        """Half the 68 % interval: comparable to a standard error."""
        return {n: 0.5 * (hi - lo) for n, (lo, hi) in self.interval68.items()}

    def verdict(self) -> tuple[bool, str]:
        """(converged, why): the chain is at least 50 autocorrelation times long and the
        mean acceptance lies in [0.15, 0.7] (emcee's documented rules of thumb)."""
        tau = np.asarray(self.autocorr_time, dtype=float)
        steps, acc = self.chain.shape[0], float(np.mean(self.acceptance_fraction))
        if not np.all(np.isfinite(tau)):
            return False, "NOT converged: the autocorrelation time could not be estimated (run longer)"
        if steps < 50 * tau.max():
            return False, f"NOT converged: {steps} steps < 50 x the longest autocorrelation time ({tau.max():.0f})"
        if not 0.15 <= acc <= 0.7:
            return False, f"NOT converged: mean acceptance {acc:.2f} outside [0.15, 0.7]"
        return True, f"converged: {steps} steps >= 50 x tau ({tau.max():.0f}), acceptance {acc:.2f}"

    def report(self) -> str:
        """A plain-text summary table, with the convergence verdict."""
        lines = [
            f"emcee: {self.chain.shape[1]} walkers x {self.chain.shape[0]} steps, burn-in {self.burn}, "
            f"thin {self.thin}; mean acceptance {np.mean(self.acceptance_fraction):.2f}; {self.wall_time_s:.3g} s"
        ]
        rows = [("parameter", "median", "68 % interval", "95 % interval", "tau (steps)")]
        for i, n in enumerate(self.names):
            lo, hi = self.interval68[n]
            lo2, hi2 = self.interval95[n]
            tau = self.autocorr_time[i]
            rows.append((n, f"{self.median[n]:.6g}", f"[{lo:.6g}, {hi:.6g}]", f"[{lo2:.6g}, {hi2:.6g}]",
                         "?" if not math.isfinite(tau) else f"{tau:.1f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        if self.n_failed:
            lines.append(f"Warning: the model failed at {self.n_failed} proposals (treated as zero probability)")
        lines.append("Chain " + self.verdict()[1])
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summaries (not the chain)."""
        return {
            "walkers": int(self.chain.shape[1]),
            "steps": int(self.chain.shape[0]),
            "burn": self.burn,
            "thin": self.thin,
            "acceptance_fraction": float(np.mean(self.acceptance_fraction)),
            "converged": self.verdict()[0], "verdict": self.verdict()[1],
            "parameters": {
                n: {"median": self.median[n], "interval68": list(self.interval68[n]),
                    "interval95": list(self.interval95[n]),
                    "autocorr_time": float(t) if math.isfinite(t) else None}
                for n, t in zip(self.names, self.autocorr_time)
            },
            "n_failed": self.n_failed,
            "wall_time_s": self.wall_time_s,
        }

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    def corner(self, truths: dict[str, float] | None = None, fig: Any = None) -> Any:
        """Corner plot of the posterior samples (matplotlib)."""
        from interphase_sim.plotting.common import plot_corner

        return plot_corner(self.samples, self.names, truths=truths, fig=fig)


def sample(
    objectives: Objective | Iterable[Objective],
    nwalkers: int = 32,
    nsteps: int = 2000,
    seed: int | None = None,
    *,
    start: FitResult | None = None,
    burn: int | None = None,
    thin: int = 1,
    init_scale: float = 0.5,
    progress: bool = False,
) -> SampleResult:
    """Sample the posterior of the free Parameters with emcee.

    The prior of each free parameter is its explicit ``prior`` truncated at its bounds, or
    uniform within the bounds (see :meth:`~interphase_sim.Parameter.logprior`); the
    likelihood is the Objectives' (Poisson or Gaussian). Walkers start in a ball around
    the least-squares optimum (``start``, fitted here when not given) of
    ``init_scale`` standard errors.

    Parameters
    ----------
    objectives : Objective or list of Objective
    nwalkers, nsteps : int
        Walkers (at least twice the number of free parameters) and steps.
    seed : int, optional
        Makes the run reproducible (walker starts and emcee's moves).
    start : FitResult, optional
        A least-squares result to start from.
    burn : int, optional
        Steps to discard; default three autocorrelation times (at most half the chain).
    thin : int
        Keep every ``thin``-th step.
    init_scale : float
        Size of the starting ball in standard errors.
    progress : bool
        Show emcee's progress bar.

    Returns
    -------
    SampleResult
        The free Parameters are left at the posterior medians. Systematic Parameters
        that are held but have a prior (the 6Li abundance, an amorphous density) are
        sampled too, within their priors (marginalised), and then put back.
    """
    objs = as_objectives(objectives)
    if start is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            start = fit(objs)
    held = held_systematics(objs)
    saved = [(p, p.value) for p in held]
    try:
        for p in held:  # marginalised: sampled within their priors
            p.vary = True
        return _run(objs, nwalkers, nsteps, seed, start, burn, thin, init_scale, progress)
    finally:
        for p, v in saved:
            p.vary, p.value = False, v


def _run(objs: list[Objective], nwalkers: int, nsteps: int, seed: Any, start: FitResult, burn: int | None,
         thin: int, init_scale: float, progress: bool) -> SampleResult:
    """:func:`sample` with the held systematics freed."""
    import emcee

    params = free_parameters(objs)
    ndim = len(params)
    _check_chain(nwalkers, nsteps, thin, ndim)
    log_prob = _LogPosterior(objs, params)
    rng = np.random.default_rng(seed)
    p0 = _start_ball(params, start, nwalkers, init_scale, rng)
    sampler = emcee.EnsembleSampler(nwalkers, ndim, log_prob)
    sampler.random_state = np.random.RandomState(rng.integers(2**32 - 1)).get_state()
    t0 = time.perf_counter()
    sampler.run_mcmc(p0, nsteps, progress=progress)
    wall = time.perf_counter() - t0
    tau = _autocorr_time(sampler, ndim)
    tau_max = float(np.nanmax(tau)) if np.any(np.isfinite(tau)) else math.nan
    if not math.isfinite(tau_max) or nsteps < AUTOCORR_FACTOR * tau_max:
        warnings.warn(
            f"the chain ({nsteps} steps) is shorter than {AUTOCORR_FACTOR} autocorrelation times "
            f"({tau_max:.1f} steps): run longer before trusting the intervals",
            UserWarning, stacklevel=2,
        )
    if burn is None:
        burn = int(min(nsteps // 2, 3 * tau_max)) if math.isfinite(tau_max) else nsteps // 4
    if not 0 <= burn < nsteps:
        raise InterphaseInputError("burn", f"must be in [0, {nsteps}), got {burn}")
    return _summarize(sampler, params, tau, int(burn), int(thin), log_prob.n_failed, wall, start)


def _check_chain(nwalkers: Any, nsteps: Any, thin: Any, ndim: int) -> None:
    """Walkers (even, >= 2 ndim and >= 4), steps (>= 10) and thinning (>= 1) are usable."""
    if not isinstance(nwalkers, (int, np.integer)) or nwalkers < max(2 * ndim, 4) or nwalkers % 2:
        raise InterphaseInputError("nwalkers", f"an even number >= {max(2 * ndim, 4)} is required, got {nwalkers}")
    if not isinstance(nsteps, (int, np.integer)) or nsteps < 10:
        raise InterphaseInputError("nsteps", f"at least 10 steps are required, got {nsteps}")
    if not isinstance(thin, (int, np.integer)) or thin < 1:
        raise InterphaseInputError("thin", f"a positive integer is required, got {thin}")


class _LogPosterior:
    """Log prior plus log likelihood of the free-parameter vector; a model failure counts
    in ``n_failed`` and gives zero probability."""

    def __init__(self, objectives: list[Objective], params: Parameters) -> None:
        self.objectives = objectives
        self.evaluator = Evaluator(objectives, params)
        self.plist = list(params.values())
        self.n_failed = 0

    def __call__(self, x: np.ndarray) -> float:
        lp = 0.0
        for p, v in zip(self.plist, x):
            lp += p.logprior(v)
        if not math.isfinite(lp):
            return -math.inf
        try:
            mus = self.evaluator.expected(x)
        except FitError:
            self.n_failed += 1
            return -math.inf
        return lp + sum(o.log_likelihood(m) for o, m in zip(self.objectives, mus))


def _start_ball(
    params: Parameters, start: FitResult, nwalkers: int, init_scale: float, rng: np.random.Generator
) -> np.ndarray:
    """Walker starts (nwalkers, ndim): ``init_scale`` standard errors around the optimum,
    kept a hair inside the bounds."""
    best = np.array([start.values.get(n, p.value) for n, p in params.items()])
    bounds = params.bounds_array()
    span = np.where(np.isfinite(bounds[:, 1] - bounds[:, 0]), bounds[:, 1] - bounds[:, 0], np.abs(best) + 1.0)
    err = np.array([start.stderr.get(n, p.prior.std() if p.prior is not None else math.nan)
                    for n, p in params.items()])
    err = np.where(np.isfinite(err) & (err > 0), err, 1e-3 * span)
    p0 = best + init_scale * err * rng.standard_normal((nwalkers, best.size))
    return np.clip(p0, bounds[:, 0] + 1e-9 * span, bounds[:, 1] - 1e-9 * span)


def _autocorr_time(sampler: Any, ndim: int) -> np.ndarray:
    """emcee's integrated autocorrelation times (steps), NaN where they cannot be estimated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(sampler.get_autocorr_time(tol=0), dtype=float)
        except Exception:  # emcee raises when the estimate is impossible
            return np.full(ndim, np.nan)


def _summarize(
    sampler: Any, params: Parameters, tau: np.ndarray, burn: int, thin: int, n_failed: int, wall: float,
    start: FitResult,
) -> SampleResult:
    """Posterior summaries after ``burn`` steps, thinned; the Parameters are set to the medians."""
    chain = sampler.get_chain()
    flat = chain[burn::thin].reshape(-1, chain.shape[2])
    q = np.percentile(flat, [2.5, 16, 50, 84, 97.5], axis=0)
    names = list(params)
    for p, m in zip(params.values(), q[2]):
        p.value = float(m)
    return SampleResult(
        names=names,
        chain=chain,
        log_prob=sampler.get_log_prob(),
        acceptance_fraction=np.asarray(sampler.acceptance_fraction),
        autocorr_time=tau,
        burn=burn,
        thin=thin,
        samples=flat,
        median={n: float(v) for n, v in zip(names, q[2])},
        interval68={n: (float(a), float(b)) for n, a, b in zip(names, q[1], q[3])},
        interval95={n: (float(a), float(b)) for n, a, b in zip(names, q[0], q[4])},
        n_failed=n_failed,
        wall_time_s=wall,
        start=start,
    )
