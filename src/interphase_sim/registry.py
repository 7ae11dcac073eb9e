"""The instrument registry: the one place instruments are looked up by name.

``interphase_sim.instruments`` maps ``"ndp"``, ``"eels"`` and ``"hrtem"`` to their model
classes. The command line, the fitter and the dataset sweep look instruments up here. A
model class is imported only when it is first asked for, so naming the HRTEM instrument
does not import abTEM before a multislice is needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["InstrumentRegistry", "instruments"]

_MODELS = {
    "ndp": ("interphase_sim.ndp.model", "NDPModel"),
    "eels": ("interphase_sim.eels.model", "EELSModel"),
    "hrtem": ("interphase_sim.hrtem.model", "HRTEMModel"),
}


class InstrumentRegistry(Mapping):
    """Read-only mapping from an instrument's name to its model class."""

    def __getitem__(self, name: str) -> type:
        try:
            module, cls = _MODELS[name]
        except (KeyError, TypeError):
            raise InterphaseInputError(
                "instrument", f"unknown instrument {name!r}; accepted: {', '.join(_MODELS)}") from None
        return getattr(importlib.import_module(module), cls)

    def __iter__(self) -> Iterator[str]:
        return iter(_MODELS)

    def __len__(self) -> int:
        return len(_MODELS)

    def __repr__(self) -> str:
        return f"InstrumentRegistry({', '.join(_MODELS)})"


instruments = InstrumentRegistry()
