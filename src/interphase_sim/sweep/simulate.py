"""One design point at a time: the models built once, each sample from its values and seed.

A :class:`SampleSimulator` holds one model per instrument of a sweep, built from the
sample once (a worker builds one and reuses it for every sample it is given). For sample
i it sets the swept values, computes each instrument's expected signal and, if asked, its
noisy counterpart from the sample's own seed, so that sample i is the same whoever
computes it and in whatever order.

A swept name is one of three kinds:

* a Parameter of the sample (``SEI.thickness_nm``) or of an instrument's model
  (``ndp.fwhm_keV``, ``hrtem.defocus_A``): its value is set;
* a microscope setting of ``[hrtem]`` other than the beam energy (``hrtem.Cs_mm``,
  ``hrtem.aperture_mrad``, ``hrtem.dose_e_per_A2``, ...): the microscope is replaced and
  the cached multislice exit wave reused (only the transfer function is re-applied);
* any other number of an instrument's table (``hrtem.energy_eV``, ``hrtem.thickness_nm``,
  ``ndp.energy_step_keV``, ...): the instrument's model is rebuilt with it.

:meth:`SampleSimulator.simulate_batch` computes the samples of a batch in an order that
keeps equal structures together (the swept sample Parameters and rebuilding settings, in
that order), so the HRTEM samples of a batch that share a structure share one multislice;
each sample's result does not depend on that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter
from interphase_sim.registry import instruments as registry
from interphase_sim.sweep.design import SweepDesign

__all__ = ["SampleSimulator", "POISSON", "MICROSCOPE_ONLY"]

#: Instruments whose noisy signal is Poisson counts on the expected one.
POISSON = ("ndp", "eels")
#: Table keys that move or resize an instrument's axes (a store has one axis per instrument).
AXIS_KEYS = {"hrtem": ("lateral_nm", "sampling_A", "vacuum_nm"), "eels": ("scan_start_nm", "scan_stop_nm")}


def _microscope_only() -> tuple[str, ...]:
    from interphase_sim.core.settings import MICROSCOPE_KEYS

    return tuple(k for k in MICROSCOPE_KEYS if k != "energy_eV")  # the energy changes the multislice


#: ``[hrtem]`` keys a sweep changes without a new multislice (the transfer function and dose).
MICROSCOPE_ONLY = _microscope_only()


class SampleSimulator:
    """Simulates design points of ``design`` on ``stack`` (one model per instrument).

    Parameters
    ----------
    stack : Stack
        The sample, with its instrument tables; its Parameters are set per sample.
    design : SweepDesign
    """

    def __init__(self, stack: Any, design: SweepDesign) -> None:
        self.stack = stack
        self.design = design
        self.how = {kind: {"device": design.hrtem_device} if kind == "hrtem" else {} for kind in design.instruments}
        self.models = {kind: registry[kind].from_stack(stack, **self.how[kind]) for kind in design.instruments}
        self.fixed = _fixed_axes(stack, self.models)
        for kind, fixed in self.fixed.items():
            if fixed:
                self.models[kind] = registry[kind].from_stack(stack, **self.how[kind], **fixed)
        self._built: dict[str, tuple] = {kind: () for kind in design.instruments}  # each model's rebuild settings
        self._swept_model_params: dict[str, list[Parameter]] = {}  # the current models' swept Parameters
        self._axes: dict[str, list[tuple[str, np.ndarray]]] | None = None
        sample_params: dict[str, Parameter] = dict(stack.parameters().items())
        self.sample_targets = {n: sample_params[n] for n in design.names if n in sample_params}
        self.microscope_targets: list[str] = []
        self.rebuild_targets: dict[str, list[str]] = {kind: [] for kind in design.instruments}
        self.model_targets: dict[str, list[str]] = {kind: [] for kind in design.instruments}
        for name in design.names:
            if name not in self.sample_targets:
                self._classify(name)

    def _classify(self, name: str) -> None:
        """File an instrument's swept name as a model Parameter, a microscope setting or a
        setting that rebuilds the model (else a one-line error)."""
        kind, _, key = name.partition(".")
        model = self.models.get(kind)
        if model is not None and name in model.parameters():
            self.model_targets[kind].append(name)
        elif kind == "hrtem" and key in MICROSCOPE_ONLY and model is not None:
            self.microscope_targets.append(name)
        elif key in AXIS_KEYS.get(kind, ()):
            raise InterphaseInputError(f"sweep.parameters.{name}", "changes the instrument's axes (a store holds "
                                       "one axis per instrument): sweep each value in a separate run")
        elif model is not None and _is_setting(kind, key):
            self.rebuild_targets[kind].append(name)
        else:
            raise InterphaseInputError(f"sweep.parameters.{name}", "not a Parameter of the sample or of its "
                                       f"{', '.join(self.design.instruments)} models")

    @property
    def targets(self) -> dict[str, Parameter]:
        """The swept Parameters of the sample and of the current models, by name."""
        out = dict(self.sample_targets)
        for kind, names in self.model_targets.items():
            params = self.models[kind].parameters()
            out.update({n: params[n] for n in names})
        return out

    def set_point(self, values: Mapping[str, float]) -> None:
        """Set every swept value of one design point (rebuilding a model only when a setting
        that shapes it has changed)."""
        for name, p in self.sample_targets.items():
            p.value = float(values[name])
        for kind, names in self.rebuild_targets.items():
            wanted = tuple((n.partition(".")[2], float(values[n])) for n in names)
            if wanted != self._built[kind]:
                self.models[kind] = registry[kind].from_stack(self.stack, **self.how[kind],
                                                              **{**self.fixed[kind], **dict(wanted)})
                self._built[kind] = wanted
                self._swept_model_params.pop(kind, None)
        for kind, names in self.model_targets.items():
            if kind not in self._swept_model_params:  # once per model, not per sample
                params = self.models[kind].parameters()
                self._swept_model_params[kind] = [params[n] for n in names]
            for n, p in zip(names, self._swept_model_params[kind]):
                p.value = float(values[n])
        if self.microscope_targets:
            model = self.models["hrtem"]
            model.microscope = replace(model.microscope, **{n.partition(".")[2]: float(values[n])
                                                            for n in self.microscope_targets})

    def simulate(self, values: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
        """``{"<instrument>_expected" | "<instrument>_counts": array}`` at one design point.

        Each instrument's noise comes from its own child of the sample's ``seed``
        (:class:`numpy.random.SeedSequence`), Poisson counts on the expected signal as
        the model's own ``simulate(noise=True)`` draws them.
        """
        self.set_point(values)
        children = np.random.SeedSequence(int(seed)).spawn(len(self.models))
        out: dict[str, np.ndarray] = {}
        for (kind, model), child in zip(self.models.items(), children):
            expected = np.asarray(model.simulate(noise=False).values, dtype=float)
            if "expected" in self.design.outputs:
                out[f"{kind}_expected"] = expected
            if "noisy" in self.design.outputs:
                if kind in POISSON:  # what the model's simulate(noise=True) draws, without a second run
                    noisy = np.random.default_rng(child).poisson(expected)
                else:
                    noisy = np.asarray(model.simulate(noise=True, seed=np.random.default_rng(child)).values)
                out[f"{kind}_counts"] = noisy
        return out

    def warm(self) -> None:
        """Evaluate each model but HRTEM's once at the sample's current values, noise
        included (its compiled kernels load now, not in the first batch; a multislice is
        too dear to compute for nothing). Changes no result."""
        for kind, model in self.models.items():
            if kind != "hrtem":
                expected = np.asarray(model.simulate(noise=False).values, dtype=float)
                if kind in POISSON:
                    np.random.default_rng(0).poisson(expected)

    def structure_order(self, points: Mapping[str, np.ndarray], start: int, stop: int) -> np.ndarray:
        """Samples ``start .. stop - 1`` in the order that keeps equal structures together
        (stable: sorted by the swept sample Parameters, then the rebuilding settings)."""
        keys = list(self.sample_targets) + [n for names in self.rebuild_targets.values() for n in names]
        idx = np.arange(start, stop)
        if not keys:
            return idx
        return idx[np.lexsort([points[k][start:stop] for k in reversed(keys)])]

    def simulate_batch(self, points: Mapping[str, np.ndarray], seeds: np.ndarray, start: int,
                       stop: int) -> dict[str, np.ndarray]:
        """``{variable: (stop - start, ...) float32 array}`` of samples ``start .. stop - 1``."""
        out: dict[str, np.ndarray] = {}
        for i in self.structure_order(points, start, stop):
            row = self.simulate({n: v[i] for n, v in points.items()}, seeds[i])
            for k, v in row.items():
                if k not in out:
                    out[k] = np.empty((stop - start, *v.shape), dtype="f4")
                elif v.shape != out[k].shape[1:]:
                    raise InterphaseInputError("sweep.parameters", f"sample {i} gives {k} of shape {v.shape}, "
                                               f"not {out[k].shape[1:]}: a swept setting changes the "
                                               "instrument's axes; sweep it in separate runs")
                out[k][i - start] = v
        return out

    def axes(self) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Each instrument's axes (name, values) at the stack's values of the first call:
        the store's coordinates besides ``sample`` (a sweep keeps every instrument's axes,
        so they are computed once)."""
        if self._axes is None:
            self._axes = {kind: [(a.name, np.asarray(a.values)) for a in _measurement_axes(model)]
                          for kind, model in self.models.items()}
        return self._axes


def _measurement_axes(model: Any) -> list[Any]:
    """A model's measurement axes: from its ``measurement_axes()`` where it knows them
    without simulating (an HRTEM model, whose simulation is a multislice), else from a
    noise-free simulation."""
    known = getattr(model, "measurement_axes", None)
    return known() if callable(known) else model.simulate(noise=False).axes


def _fixed_axes(stack: Any, models: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Settings that keep every sample on the same axes: an EELS scan without an end
    ends where the nominal sample's ends (not where each sample's finite depth does)."""
    fixed: dict[str, dict[str, float]] = {kind: {} for kind in models}
    if "eels" in models and "scan_stop_nm" not in stack.sections.get("eels", {}):
        fixed["eels"]["scan_stop_nm"] = float(models["eels"].default_positions()[-1])
    return fixed


def _is_setting(kind: str, key: str) -> bool:
    """Whether ``key`` is a number of the ``[kind]`` table (a sweep may rebuild with it)."""
    from interphase_sim.core.settings import TABLES

    return any(s.name == key and s.kind in ("parameter", "number") for s in TABLES[kind].settings)
