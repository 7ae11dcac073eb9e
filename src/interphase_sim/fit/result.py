"""FitResult: best values, uncertainties, correlations and fit statistics, with a report."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interphase_sim.core.fileio import atomic_write_text
from interphase_sim.core.params import Parameters
from interphase_sim.fit.budget import ErrorBudget, at_bound, phase_fractions

__all__ = ["FitResult", "DEGENERATE_CORRELATION", "MISFIT_SIGMA", "MISFIT_REDUCED"]

DEGENERATE_CORRELATION = 0.95  # |rho| above this: only a combination is constrained
MISFIT_SIGMA = 10.0  # a statistic this many sqrt(2 dof) above dof: the model does not describe the data
MISFIT_REDUCED = 1.3  # ... and this much per degree of freedom


@dataclass
class FitResult:
    """What a fit found.

    Attributes
    ----------
    names : list of str
        Dotted names of the free parameters.
    values, stderr : dict
        Best value and total standard error (1 sigma: the inverse of the Fisher
        information plus the priors' precisions; systematic parameters free within their
        priors).
    stat_err, sys_err : dict
        The statistical error (systematic parameters held) and what the systematics add
        in quadrature (:mod:`interphase_sim.fit.budget`); NaN for a systematic parameter.
    bounds : dict
        (min, max) of each free parameter.
    covariance, correlation : ndarray
        In the order of ``names``.
    statistics : list of dict
        Per objective: name, loss, statistic (Poisson deviance or chi-square), points.
    statistic, dof, reduced_statistic : float, int, float
        Total statistic, degrees of freedom (points - free parameters), their ratio.
    success, message : bool, str
        The optimizer's convergence flag and message.
    at_bounds : list of str
        Parameters that ended on a bound, judged on their own scale (errors unreliable).
    not_constrained : list of str
        Parameters whose error is mostly their prior's: the data do not constrain them.
    phase_fractions : dict
        ``{"LAYER.phases.PHASE": {"fraction", "error"}}``: normalised volume fractions of
        every layer with a free phase weight.
    prior_penalty : float
        Sum of the squared prior residuals at the best values (not in ``statistic``).
    propagated : dict
        Systematic Parameters held at their values with a prior (the 6Li abundance, an
        amorphous density), propagated into the total and systematic errors:
        ``{name: {"prior_std", "shifts": {parameter: move per 1 prior sigma}}}``.
    pair_check : dict or None
        The most correlated pair and the rise of the statistic one standard error along
        their regression line (1 for a Gaussian posterior; see
        :func:`~interphase_sim.fit.budget.correlated_pair_check`).
    degenerate_pairs : list of (str, str, float)
        Pairs with |correlation| > 0.95: only a combination of them is constrained.
    condition_number : float
        Of the Fisher matrix (huge means some direction is not identifiable).
    nfev, wall_time_s, method
        Model evaluations, seconds, optimizer.
    """

    names: list[str]
    values: dict[str, float]
    stderr: dict[str, float]
    bounds: dict[str, tuple[float, float]]
    covariance: np.ndarray
    correlation: np.ndarray
    statistics: list[dict[str, Any]]
    statistic: float
    dof: int
    reduced_statistic: float
    success: bool
    message: str
    at_bounds: list[str]
    degenerate_pairs: list[tuple[str, str, float]]
    condition_number: float
    nfev: int
    wall_time_s: float
    method: str
    objectives: list[Any] = field(default_factory=list, repr=False)
    stat_err: dict[str, float] = field(default_factory=dict)
    sys_err: dict[str, float] = field(default_factory=dict)
    not_constrained: list[str] = field(default_factory=list)
    phase_fractions: dict[str, dict[str, float]] = field(default_factory=dict)
    prior_penalty: float = 0.0
    pair_check: dict[str, Any] | None = None
    propagated: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, *, objectives: list[Any], params: Parameters, x: np.ndarray, budget: ErrorBudget,
              fisher: np.ndarray, statistics: list[float], dof: int, success: bool, message: str,
              nfev: int, wall_time_s: float, method: str, prior_penalty: float = 0.0) -> FitResult:
        """Assemble a result from the optimizer's output (see :func:`interphase_sim.fit.fit`)."""
        names = list(params)
        cov = budget.covariance
        err = np.where(budget.total > 0, budget.total, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(err, err)
        corr = np.clip(np.nan_to_num(corr, nan=0.0), -1.0, 1.0)
        np.fill_diagonal(corr, 1.0)
        fractions = phase_fractions(objectives, names, cov)
        at_bounds = at_bound(names, list(params.values()), x, budget.total, fractions)
        pairs = [
            (names[i], names[j], float(corr[i, j]))
            for i in range(len(names)) for j in range(i + 1, len(names))
            if abs(corr[i, j]) > DEGENERATE_CORRELATION
        ]
        total = float(sum(statistics))
        try:
            cond = float(np.linalg.cond(fisher))
        except np.linalg.LinAlgError:
            cond = math.inf
        return cls(
            names=names,
            values={n: float(v) for n, v in zip(names, x)},
            stderr={n: float(e) for n, e in zip(names, err)},
            bounds={n: tuple(float(b) for b in p.bounds) for n, p in params.items()},
            covariance=cov,
            correlation=corr,
            statistics=[
                {"objective": o.name, "loss": o.loss, "statistic": float(s), "points": o.n_data}
                for o, s in zip(objectives, statistics)
            ],
            statistic=total,
            dof=int(dof),
            reduced_statistic=total / dof if dof > 0 else math.nan,
            success=success,
            message=message,
            at_bounds=at_bounds,
            degenerate_pairs=pairs,
            condition_number=cond,
            nfev=int(nfev),
            wall_time_s=float(wall_time_s),
            method=method,
            objectives=list(objectives),
            stat_err={n: float(e) for n, e in zip(names, budget.statistical)},
            sys_err={n: float(e) for n, e in zip(names, budget.systematic)},
            not_constrained=list(budget.prior_limited),
            phase_fractions=fractions,
            prior_penalty=float(prior_penalty),
            propagated=dict(budget.propagated),
        )

    # -- presentation ---------------------------------------------------------------------
    def report(self) -> str:
        """A plain-text report: statistics, a parameter table, warnings."""
        kind = {"poisson": "deviance", "gaussian": "chi2"}
        lines = [f"Fit ({self.method}): {'converged' if self.success else 'NOT converged'} - {self.message}"]
        for s in self.statistics:
            lines.append(f"  {s['objective']}: {kind[s['loss']]} {s['statistic']:.6g} over {s['points']} points")
        lines.append(
            f"  total {self.statistic:.6g} for {self.dof} degrees of freedom "
            f"(reduced {self.reduced_statistic:.4g}); {self.nfev} model evaluations in {self.wall_time_s:.3g} s"
        )
        rows = [("parameter", "value", "total", "stat.", "syst.", "rel.", "min", "max", "note")]
        for n in self.names:
            v, e = self.values[n], self.stderr[n]
            lo, hi = self.bounds[n]
            rel = f"{100 * e / abs(v):.2g} %" if v != 0 and math.isfinite(e) else ""
            note = ("AT BOUND " if n in self.at_bounds else "") + (
                "NOT CONSTRAINED (prior-limited)" if n in self.not_constrained else "")
            rows.append((n, f"{v:.6g}", f"{e:.3g}", _fmt_err(self.stat_err.get(n)), _fmt_err(self.sys_err.get(n)),
                         rel, _fmt_bound(lo), _fmt_bound(hi), note.strip()))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append("")
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        strong = [
            (self.names[i], self.names[j], self.correlation[i, j])
            for i in range(len(self.names)) for j in range(i + 1, len(self.names))
            if abs(self.correlation[i, j]) > 0.5
        ]
        if strong:
            lines += ["", "Correlations (|rho| > 0.5):"]
            for a, b, r in strong:
                flag = "  DEGENERATE: only a combination of these is constrained" if abs(r) > DEGENERATE_CORRELATION else ""
                lines.append(f"  {a} ~ {b}: {r:+.3f}{flag}")
        if self.phase_fractions:
            lines += ["", "Volume fractions (normalised over each layer's phase weights):"]
            lines += [f"  {n}: {f['fraction']:.4f} +/- {f['error']:.2g}" for n, f in self.phase_fractions.items()]
        if self.propagated:
            lines += ["", "Held systematics, propagated (the largest shift per prior sigma):"]
            for name, d in self.propagated.items():
                big = max(d["shifts"].items(), key=lambda kv: abs(kv[1]) / max(self.stderr.get(kv[0], 1.0), 1e-300))
                lines.append(f"  {name} +/- {d['prior_std']:.3g}: {big[0]} {big[1]:+.3g}")
        if self.pair_check is not None:
            c = self.pair_check
            ok = 0.5 <= c["delta_statistic"] <= 2.0
            lines += ["", f"Most correlated pair {c['pair'][0]} ~ {c['pair'][1]} ({c['correlation']:+.2f}): one "
                      f"standard error along it raises the statistic by {c['delta_statistic']:.2f} (Gaussian: 1)"
                      + ("" if ok else "; NOT Gaussian there: sample the posterior for its errors")]
        if self.at_bounds:
            lines += ["", "Warning: ended at a bound (widen the bounds or fix them): " + ", ".join(self.at_bounds)]
        if self.not_constrained:
            lines += ["", "Not constrained by the data (the error is the prior's): " + ", ".join(self.not_constrained)]
        if self.condition_number > 1e12:
            lines.append(f"Warning: the Fisher matrix is near singular (condition {self.condition_number:.2g})")
        if self.poor_fit:
            lines.append(f"Warning: {self.misfit_text()}")
        return "\n".join(lines)

    @property
    def misfit_sigma(self) -> float:
        """How far the statistic lies above its degrees of freedom, in its standard
        deviations ``sqrt(2 dof)`` (chi-square or deviance of a model that describes the data)."""
        return (self.statistic - self.dof) / math.sqrt(2.0 * self.dof) if self.dof > 0 else math.nan

    @property
    def poor_fit(self) -> bool:
        """The statistic is more than :data:`MISFIT_SIGMA` standard deviations above its
        degrees of freedom and more than :data:`MISFIT_REDUCED` per degree of freedom: the
        model does not describe the data, and the errors, which assume it does, mean
        nothing. (The Poisson deviance of a right model runs a little above one per point
        where counts are few, ~1 + 1 / (6 mu): hence the second condition.)"""
        return bool(self.misfit_sigma > MISFIT_SIGMA and self.reduced_statistic > MISFIT_REDUCED)

    def misfit_text(self) -> str:
        return (f"POOR FIT: the statistic is {self.reduced_statistic:.3g} per degree of freedom "
                f"({self.misfit_sigma:.0f} sigma above {self.dof}): the model does not describe the data (a start "
                "far from the minimum, or physics the model lacks), so its errors do not hold")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per parameter value, stderr, bounds; statistics; diagnostics."""
        return {
            "method": self.method,
            "success": self.success,
            "message": self.message,
            "parameters": {
                n: {"value": self.values[n], "stderr": _json_float(self.stderr[n]),
                    "stat_err": _json_float(self.stat_err.get(n, math.nan)),
                    "sys_err": _json_float(self.sys_err.get(n, math.nan)),
                    "min": _json_float(self.bounds[n][0]), "max": _json_float(self.bounds[n][1]),
                    "at_bound": n in self.at_bounds, "constrained": n not in self.not_constrained}
                for n in self.names
            },
            "correlation": {"names": self.names, "matrix": np.round(self.correlation, 6).tolist()},
            "degenerate_pairs": [list(p) for p in self.degenerate_pairs],
            "phase_fractions": self.phase_fractions,
            "prior_penalty": self.prior_penalty,
            "pair_check": self.pair_check,
            "propagated_systematics": self.propagated,
            "statistics": self.statistics,
            "statistic": self.statistic,
            "dof": self.dof,
            "reduced_statistic": _json_float(self.reduced_statistic),
            "misfit_sigma": _json_float(self.misfit_sigma), "poor_fit": self.poor_fit,
            "condition_number": _json_float(self.condition_number),
            "nfev": self.nfev,
            "wall_time_s": self.wall_time_s,
        }

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))

    def plot(self, fig: Any = None) -> Any:
        """Data, model and residuals of each 1-D objective (see :mod:`interphase_sim.plotting.common`)."""
        from interphase_sim.plotting.common import plot_fit

        return plot_fit(self.objectives, fig=fig)

    def __str__(self) -> str:
        return self.report()


def _fmt_err(e: float | None) -> str:
    return "" if e is None or not math.isfinite(e) else f"{e:.3g}"


def _fmt_bound(b: float) -> str:
    return "" if not math.isfinite(b) else f"{b:.6g}"


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
