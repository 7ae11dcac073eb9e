"""One sample refined against measured data from every instrument at once.

:func:`joint_fit` takes a sample (a :class:`~interphase_sim.Stack` with its instrument
tables) and data files or Measurements per instrument, builds one model per data set
from the instrument registry (:data:`interphase_sim.instruments`), and fits them all
together with :func:`interphase_sim.fit.fit` (and, if asked, samples the posterior).

- The sample's Parameters (thicknesses, phase weights, densities) are shared by every
  model: one variable each. Each data set gets its *own* instrument model, so two NDP
  spectra each have their own calibration, resolution and scale (``ndp.offset_keV#2``),
  while the systematics of the physics (stopping-power and cross-section scales) are one
  set per instrument, shared by its data sets.
- NDP spectra and EELS line scans are fitted as counts (Poisson). An HRTEM image is
  reduced to its phase map, whose labelled fractions along depth are fitted against the
  sample's (:class:`~interphase_sim.hrtem.fitting.StackPhaseFractions`).
- The ``[fit]`` table of a sample file gives the same as keywords: ``data``
  (``{ndp = "spectrum.csv", eels = ["a.hspy", "b.hspy"], hrtem = "image.tif"}``, paths
  relative to the sample file), ``method``, ``seed``, the NDP energy window
  (``energy_min_keV``, ``energy_max_keV``), ``sample`` (sample the posterior) with
  ``nwalkers`` and ``nsteps``, and ``calibration`` (``{ndp = {gain_keV = 3.0}}``:
  what a data file lacks).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Measurement
from interphase_sim.core.settings import FIT
from interphase_sim.fit import Objective, fit, sample
from interphase_sim.registry import instruments

__all__ = ["DataSet", "JointFitRun", "data_sets", "fit_settings", "joint_fit"]

#: Instruments whose measured data a joint fit takes.
DATA_KINDS = ("ndp", "eels", "hrtem")
#: EELS settings a measured file may carry in its metadata (the loader's keys).
_EELS_FILE_SETTINGS = ("beam_energy_eV", "convergence_mrad", "collection_mrad")


@dataclass(frozen=True, eq=False)
class DataSet:
    """One measured data set of a joint fit: where it came from, its model and objective."""

    kind: str
    source: str
    measurement: Measurement
    model: Any
    objective: Objective


@dataclass(frozen=True, eq=False)
class JointFitRun:
    """What :func:`joint_fit` made: the data sets, the fit result, the posterior if sampled."""

    data: list[DataSet]
    result: Any
    posterior: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values: the data sets, the fit's result and (sampled) posterior intervals."""
        doc = {"data": [{"kind": d.kind, "source": d.source, "objective": d.objective.name} for d in self.data],
               "fit": self.result.to_dict(), "warnings": list(self.warnings)}
        if self.posterior is not None:
            doc["sampling"] = self.posterior.to_dict()
            for n in self.posterior.names:
                doc["fit"]["parameters"][n]["interval68"] = list(self.posterior.interval68[n])
                doc["fit"]["parameters"][n]["interval95"] = list(self.posterior.interval95[n])
        return doc

    def report(self) -> str:
        """The fit's report (and the posterior's when sampled)."""
        text = self.result.report()
        return text if self.posterior is None else text + "\n\n" + self.posterior.report()


def fit_settings(stack: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``[fit]`` settings: defaults < the sample's table < ``overrides`` (None: table's)."""
    return FIT.resolve(stack.sections.get("fit", {}), overrides or {}, where="fit")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _load(kind: str, item: Any, base_dir: Path | None, calibration: dict[str, Any]) -> tuple[str, Measurement]:
    """(source label, Measurement) of one data item: a Measurement as is, else a file."""
    if isinstance(item, Measurement):
        return f"{kind} measurement", item
    from interphase_sim.loaders import load_measurement

    path = Path(os.fspath(item))
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    meas = load_measurement(path, kind=kind, **calibration)
    values = np.asarray(meas.values, dtype=float)
    if not np.all(np.isfinite(values)):
        i = int(np.argmax(~np.isfinite(values.ravel())))
        raise InterphaseInputError(str(path), f"holds {int(np.sum(~np.isfinite(values)))} values that are NaN or "
                                              f"inf (the first at flat index {i}): nothing can be fitted to them")
    if kind in ("ndp", "eels"):
        if np.any(values < 0):
            raise InterphaseInputError(str(path), f"holds negative counts ({values.min():g}): {kind} data are "
                                                  "fitted as counts (Poisson); give the raw spectrum")
        if not np.any(values > 0):
            raise InterphaseInputError(str(path), "holds no counts (every value is zero): nothing to fit")
    return str(path), meas


def _ndp_objective(stack: Any, meas: Measurement, source: str, s: dict[str, Any]) -> tuple[Any, Objective]:
    model = instruments["ndp"].from_stack(stack)
    mask = model.fit_mask(meas, s.get("energy_min_keV"), s.get("energy_max_keV"))
    if not mask.any():
        placed = (" (a channel spectrum is placed on energy by [ndp] gain_keV and offset_keV, or by the file's "
                  "calibration)" if meas.axes[0].name == "channel" else "")
        raise InterphaseInputError(f"fit.data.ndp ({source})", "no channel lies in the fitted energy window above "
                                   "the cutoff (for every calibration within the gain/offset bounds)" + placed)
    return model, Objective(model, meas, loss="poisson", mask=mask, name=f"ndp: {source}")


def _eels_objective(stack: Any, meas: Measurement, source: str, s: dict[str, Any]) -> tuple[Any, Objective]:
    from_file = {k: meas.metadata[k] for k in _EELS_FILE_SETTINGS if meas.metadata.get(k) is not None}
    model = instruments["eels"].from_stack(stack, **from_file)
    return model, Objective(model, meas, loss="poisson", name=f"eels: {source}")


def _hrtem_objective(stack: Any, meas: Measurement, source: str, s: dict[str, Any]) -> tuple[Any, Objective]:
    """An image's phase map, its labelled fractions along depth against the stack's."""
    from interphase_sim.core.settings import HRTEM
    from interphase_sim.hrtem.fitting import StackPhaseFractions, phase_map_depth_fractions
    from interphase_sim.hrtem.phasemap import candidate_reflections, phase_map
    from interphase_sim.hrtem.workflow import largest_grain_nm

    h = HRTEM.resolve(stack.sections.get("hrtem", {}))
    crystals = [n for n, ph in stack.phases.items() if not ph.amorphous]
    candidates = candidate_reflections(crystals, d_min_A=2.0, min_intensity=h["min_intensity"])
    if not candidates:
        raise InterphaseInputError(f"fit.data.hrtem ({source})", "the sample has no crystalline phase to map")
    pm = phase_map(meas, candidates=candidates, window_nm=h["window_nm"], step_nm=h["step_nm"],
                   tolerance=h["tolerance"], min_peaks=int(h["min_peaks"]), min_probability=h["min_probability"])
    if not pm.counts():
        raise InterphaseInputError(f"fit.data.hrtem ({source})", "no window of the image is labelled with a phase")
    # errors count grains, not overlapping windows; mislabels enter through a confusion
    # calibrated on simulated images when one is given (hrtem_confusion)
    # as effective grain counts: the shares' multinomial likelihood (phase_map_depth_fractions)
    grains = phase_map_depth_fractions(pm, sorted(candidates), bin_nm=2.0 * h["window_nm"],
                                       correlation_nm=largest_grain_nm(stack), counts=True)
    model = StackPhaseFractions(stack, window_nm=2.0 * h["window_nm"], confusion=s.get("hrtem_confusion"))
    return model, Objective(model, grains, loss="poisson", name=f"hrtem phase map: {source}")


_OBJECTIVES = {"ndp": _ndp_objective, "eels": _eels_objective, "hrtem": _hrtem_objective}


#: Per-material and per-edge model uncertainties: one set for all data sets of a kind.
_SHARED_SYSTEMATICS = ("stopping_scale", "xsec_scale")


def _share_systematics(first: Any, model: Any) -> None:
    """Give ``model`` the systematic Parameters of ``first`` (same instrument): a stopping
    power or a cross-section is one unknown however many spectra measure through it, so
    more data sets must not shrink its prior. Calibration, resolution and scale stay per
    data set."""
    for attr in _SHARED_SYSTEMATICS:
        mine, theirs = getattr(model, attr, None), getattr(first, attr, None)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            for key in mine:
                if key in theirs:
                    mine[key] = theirs[key]


def data_sets(stack: Any, data: dict[str, Any], settings: dict[str, Any] | None = None,
              base_dir: str | os.PathLike | None = None) -> list[DataSet]:
    """One :class:`DataSet` per data item of ``data`` (``{kind: path, Measurement or a list}``)."""
    s = dict(settings or {})
    base = None if base_dir is None else Path(base_dir)
    out = []
    for kind, items in data.items():
        if kind not in DATA_KINDS:
            raise InterphaseInputError("fit.data", f"unknown data kind {kind!r}; accepted: {', '.join(DATA_KINDS)}")
        calibration = dict((s.get("calibration") or {}).get(kind, {}))
        for item in _as_list(items):
            source, meas = _load(kind, item, base, calibration)
            model, objective = _OBJECTIVES[kind](stack, meas, source, s)
            first = next((d.model for d in out if d.kind == kind), None)
            if first is not None:
                _share_systematics(first, model)
            out.append(DataSet(kind, source, meas, model, objective))
    if not out:
        raise InterphaseInputError("fit.data", "no data: give at least one data file (e.g. ndp = \"spectrum.csv\")")
    return out


def joint_fit(stack: Any, data: dict[str, Any] | None = None, *, base_dir: str | os.PathLike | None = None,
              progress: bool = False, **settings: Any) -> JointFitRun:
    """Fit a sample to measured data from any instruments, jointly.

    Parameters
    ----------
    stack : Stack
        The sample; Parameters with ``vary = true`` are refined.
    data : dict, optional
        ``{"ndp" | "eels" | "hrtem": path, Measurement or a list of them}``; default the
        ``[fit]`` table's ``data`` (paths relative to ``base_dir``, e.g. the sample file's folder).
    base_dir : path, optional
        Folder that relative data paths start from.
    progress : bool
        Progress bars (tqdm, on stderr): differential evolution's generations, and emcee's
        steps while it samples.
    **settings
        ``[fit]`` keys overriding the table (see the module docstring), and (Python only)
        ``hrtem_confusion``: a :class:`~interphase_sim.hrtem.fitting.LabelConfusion`
        calibrated on simulated images of the sample, so that mislabelled windows enter the
        phase-map fit (:func:`~interphase_sim.hrtem.fitting.label_confusion`).
    """
    confusion = settings.pop("hrtem_confusion", None)
    s = {**fit_settings(stack, settings), "hrtem_confusion": confusion}
    data = data if data is not None else s.get("data")
    if not data:
        raise InterphaseInputError("fit.data", "no data: give data files (e.g. --data ndp=spectrum.csv)")
    sets = data_sets(stack, data, s, base_dir)
    objectives = [d.objective for d in sets]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = fit(objectives, method=s["method"], seed=s.get("seed"), progress=progress)
        posterior = None
        if s.get("sample"):
            posterior = sample(objectives, nwalkers=s.get("nwalkers") or 32, nsteps=s.get("nsteps") or 2000,
                               seed=s.get("seed"), start=result, progress=progress)
    return JointFitRun(data=sets, result=result, posterior=posterior, settings=s,
                       warnings=[str(w.message) for w in caught])
