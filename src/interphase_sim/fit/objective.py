"""Objectives: one model compared with one measurement, and the free parameters of several.

A model is anything with ``parameters()`` (a :class:`~interphase_sim.Parameters`) and
``expected(measurement)`` (the noise-free prediction on the measurement's axes, same
shape as its values). :class:`~interphase_sim.ndp.model.NDPModel` is one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numba
import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Measurement
from interphase_sim.core.params import Parameter, Parameters

__all__ = ["Objective", "FitError", "free_parameters", "held_systematics", "hold_systematics", "as_objectives"]

MU_FLOOR = 1e-10  # counts: a Poisson mean of exactly zero where data are non-zero is infinitely unlikely


class FitError(RuntimeError):
    """The fit could not proceed (e.g. the model returned NaN); the message says where."""


class Objective:
    """A model compared with a measurement.

    Parameters
    ----------
    model : model
        Has ``parameters()`` and ``expected(measurement)``.
    measurement : Measurement
        The data. For ``loss="gaussian"`` its ``uncertainties`` (1 sigma) are required.
    loss : {"poisson", "gaussian"}
        Poisson deviance for counts; chi-square with the given sigmas otherwise.
    mask : bool array, optional
        Which data points take part (same shape as the data); default all.
    name : str, optional
        Label in reports (default: the model's class).
    """

    def __init__(self, model: Any, measurement: Measurement, loss: str = "poisson",
                 mask: Any = None, name: str | None = None) -> None:
        if not (hasattr(model, "parameters") and hasattr(model, "expected")):
            raise InterphaseInputError("model", "a model needs parameters() and expected(measurement)")
        if not isinstance(measurement, Measurement):
            raise InterphaseInputError("measurement", f"expected a Measurement, got {type(measurement).__name__}")
        if loss not in ("poisson", "gaussian"):
            raise InterphaseInputError("loss", f"choose 'poisson' or 'gaussian', got {loss!r}")
        data = np.asarray(measurement.values, dtype=float)
        if data.size == 0:
            raise InterphaseInputError("measurement", "the data are empty")
        if not np.all(np.isfinite(data)):
            bad = int(np.flatnonzero(~np.isfinite(data.ravel()))[0])
            raise InterphaseInputError("measurement", f"data contain NaN or inf (first at index {bad})")
        if mask is None:
            mask = np.ones(data.shape, dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != data.shape:
            raise InterphaseInputError("mask", f"shape {mask.shape} differs from the data's {data.shape}")
        if not mask.any():
            raise InterphaseInputError("mask", "selects no data")
        if loss == "poisson" and np.any(data[mask] < 0):
            raise InterphaseInputError("measurement", "Poisson loss needs non-negative counts")
        if loss == "gaussian":
            sig = measurement.uncertainties
            if sig is None:
                raise InterphaseInputError("measurement", "gaussian loss needs the data's uncertainties (1 sigma)")
            if not np.all(np.isfinite(sig[mask])) or np.any(sig[mask] <= 0):
                raise InterphaseInputError("measurement.uncertainties", "must be finite and > 0 where fitted")
        self.model = model
        self.measurement = measurement
        self.loss = loss
        self.mask = mask
        self.name = name or type(model).__name__
        self._data = data[mask]
        self._sigma = None if loss == "poisson" else measurement.uncertainties[mask]
        # d ln d (0 for d = 0): constant part of the Poisson deviance
        d = self._data
        self._dlogd = np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)

    @property
    def data(self) -> np.ndarray:
        """The fitted data points (masked, flattened)."""
        return self._data

    @property
    def n_data(self) -> int:
        """Number of data points taking part."""
        return int(self._data.size)

    def parameters(self) -> Parameters:
        """The model's Parameters."""
        return self.model.parameters()

    def expected(self) -> np.ndarray:
        """The model's prediction on the fitted points (raises FitError on NaN/inf)."""
        mu = np.asarray(self.model.expected(self.measurement), dtype=float)
        if mu.shape != self.measurement.values.shape:
            raise FitError(f"{self.name}: model returned shape {mu.shape}, data have {self.measurement.values.shape}")
        mu = mu[self.mask]
        if not np.all(np.isfinite(mu)):
            raise FitError(f"{self.name}: the model returned NaN or inf")
        return mu

    def residuals(self, mu: np.ndarray | None = None) -> np.ndarray:
        """Residuals whose squares sum to the deviance (Poisson) or chi-square (Gaussian)."""
        mu = self.expected() if mu is None else mu
        d = self._data
        if self.loss == "gaussian":
            return (d - mu) / self._sigma
        return _deviance_residuals(np.ascontiguousarray(mu, dtype=float), d, self._dlogd)

    def residual_derivative(self, mu: np.ndarray) -> np.ndarray:
        """d residual / d mu per point at the prediction ``mu`` (a Jacobian's chain rule).

        Gaussian: ``-1 / sigma``. Poisson deviance residual ``r = sign(d - m) sqrt(D)``:
        ``(1 - d / m) sign(d - m) / sqrt(D)``, whose limit where ``d = m`` is ``-1 / sqrt(m)``;
        0 below the floor ``MU_FLOOR`` (the residual does not move there).
        """
        if self.loss == "gaussian":
            return -1.0 / self._sigma
        return _deviance_derivative(np.ascontiguousarray(mu, dtype=float), self._data, self._dlogd)

    def statistic(self, mu: np.ndarray | None = None) -> float:
        """Poisson deviance or chi-square (sum of squared residuals)."""
        r = self.residuals(mu)
        return float(r @ r)

    def log_likelihood(self, mu: np.ndarray | None = None) -> float:
        """log L up to a constant: -deviance/2 (Poisson) or -chi2/2 (Gaussian)."""
        return -0.5 * self.statistic(mu)

    def n_informative(self, mu: np.ndarray | None = None) -> int:
        """Points that carry information: all of them for a Gaussian loss; for counts, those
        where the model expects counts or the data have some (a channel that can never
        have counts is no degree of freedom)."""
        if self.loss == "gaussian":
            return self.n_data
        mu = self.expected() if mu is None else mu
        return int(np.count_nonzero((mu > 1e-6) | (self._data > 0)))

    def fisher_weights(self, mu: np.ndarray) -> np.ndarray:
        """Per-point weights w with Fisher information J^T diag(w) J (J = d mu / d theta)."""
        if self.loss == "gaussian":
            return 1.0 / self._sigma**2
        return 1.0 / np.maximum(mu, MU_FLOOR)

    def __repr__(self) -> str:
        return f"Objective({self.name}, {self.loss}, {self.n_data} points)"


@numba.njit(cache=True, nogil=True)
def _deviance_residuals(mu: np.ndarray, d: np.ndarray, dlogd: np.ndarray) -> np.ndarray:
    """Signed square roots of the Poisson deviance terms, one pass (counts d, means mu).

    ``r = sign(d - m) sqrt(2 (m - d) + 2 (d ln d - d ln m))`` with ``m = max(mu, MU_FLOOR)``
    and ``dlogd = d ln d`` (0 where d = 0)."""
    out = np.empty(mu.size)
    for i in range(mu.size):
        m = max(mu[i], MU_FLOOR)
        dev = 2.0 * (m - d[i]) + 2.0 * (dlogd[i] - d[i] * np.log(m))
        r = np.sqrt(max(dev, 0.0))
        out[i] = r if d[i] > m else (-r if d[i] < m else 0.0)
    return out


@numba.njit(cache=True, nogil=True)
def _deviance_derivative(mu: np.ndarray, d: np.ndarray, dlogd: np.ndarray) -> np.ndarray:
    """d r / d mu of :func:`_deviance_residuals` (see :meth:`Objective.residual_derivative`)."""
    out = np.empty(mu.size)
    for i in range(mu.size):
        m = mu[i]
        if m < MU_FLOOR:
            out[i] = 0.0
            continue
        dev = 2.0 * (m - d[i]) + 2.0 * (dlogd[i] - d[i] * np.log(m))
        if abs(d[i] - m) <= 1e-6 * m or dev <= 0.0:
            out[i] = -1.0 / np.sqrt(m)
        else:
            r = np.sqrt(dev)
            out[i] = (1.0 - d[i] / m) * (1.0 if d[i] > m else -1.0) / r
    return out


def as_objectives(objectives: Objective | Iterable[Objective]) -> list[Objective]:
    """A list of Objectives from one or many."""
    objs = [objectives] if isinstance(objectives, Objective) else list(objectives)
    if not objs or not all(isinstance(o, Objective) for o in objs):
        raise InterphaseInputError("objectives", "give an Objective or a list of Objectives")
    return objs


def free_parameters(objectives: Sequence[Objective]) -> Parameters:
    """The varying Parameters of all objectives, each object once (shared = one variable).

    A name used by different Parameter objects in different objectives (two NDP
    spectra, each with its own ``ndp.fwhm_keV``) gets ``#k`` appended for objective k.
    """
    items: list[tuple[str, Parameter]] = []
    owner: dict[str, int] = {}  # name -> id of the Parameter that holds it
    for k, obj in enumerate(objectives):
        for name, p in obj.parameters().items():
            if not p.vary:
                continue
            if name in owner and owner[name] != id(p):
                # two instruments of one kind each have e.g. their own ndp.fwhm_keV
                name = f"{name}#{k + 1}"
            owner.setdefault(name, id(p))
            items.append((name, p))
    params = Parameters(items)
    if all(p.role == "systematic" for p in params.values()):  # nothing to refine but model uncertainties
        raise InterphaseInputError(
            "parameters", "no free parameters: set vary = true (with min and max) on what the fit should refine"
        )
    for name, p in params.items():
        if not math.isfinite(p.value):
            raise InterphaseInputError(name, "a free parameter needs a finite start value")
    return params


def held_systematics(objectives: Sequence[Objective]) -> list[Parameter]:
    """Systematic Parameters that are not free but have an explicit prior (each object once):
    a fit propagates them, :func:`sample` marginalises them."""
    out: dict[int, Parameter] = {}
    for o in objectives:
        for p in o.parameters().values():
            if p.role == "systematic" and not p.vary and p.prior is not None:
                out.setdefault(id(p), p)
    return list(out.values())


def hold_systematics(model: Any, exact: bool = True) -> list[str]:
    """Hold every systematic Parameter of ``model`` (or of an Objective) at its value.

    With ``exact`` (default) their priors are dropped too: the model's physics (stopping
    powers, cross-sections, the 6Li abundance, amorphous densities) is taken as exact, as
    for data made by the fit model itself. Without it they stay in the error budget,
    propagated from their priors (:mod:`interphase_sim.fit.budget`). Returns their names.
    """
    held = []
    for name, p in model.parameters().items():
        if p.role == "systematic":
            p.vary = False
            if exact:
                p.prior = None
            held.append(name)
    return held
