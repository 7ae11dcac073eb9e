"""One design point at a time: the models built once, each sample from its values and seed.

A :class:`SampleSimulator` holds one model per instrument of a sweep, built from the
sample once (a worker builds one and reuses it for every sample it is given). For sample
i it sets the swept Parameters to the design's values, computes each instrument's
expected signal and, if asked, its noisy counterpart from the sample's own seed, so that
sample i is the same whoever computes it and in whatever order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter
from interphase_sim.registry import instruments as registry
from interphase_sim.sweep.design import SweepDesign

__all__ = ["SampleSimulator", "POISSON"]

#: Instruments whose noisy signal is Poisson counts on the expected one.
POISSON = ("ndp", "eels")


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
        self.models = {kind: registry[kind].from_stack(stack) for kind in design.instruments}
        known: dict[str, Parameter] = dict(stack.parameters().items())
        for model in self.models.values():
            known.update(model.parameters().items())
        missing = [n for n in design.names if n not in known]
        if missing:
            raise InterphaseInputError(f"sweep.parameters.{missing[0]}", "not a Parameter of the sample or of "
                                       f"its {', '.join(design.instruments)} models")
        self.targets = {n: known[n] for n in design.names}

    def set_point(self, values: Mapping[str, float]) -> None:
        """Set every swept Parameter to its value at one design point."""
        for name, p in self.targets.items():
            p.value = float(values[name])

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
                    noisy = np.random.default_rng(child).poisson(expected).astype(float)
                else:
                    noisy = np.asarray(model.simulate(noise=True, seed=np.random.default_rng(child)).values)
                out[f"{kind}_counts"] = noisy
        return out

    def axes(self) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Each instrument's axes (name, values) at the stack's current values: the store's
        coordinates besides ``sample``."""
        out = {}
        for kind, model in self.models.items():
            meas = model.simulate(noise=False)
            out[kind] = [(a.name, np.asarray(a.values)) for a in meas.axes]
        return out
