"""The instrument protocol: what every instrument model offers the fitter, the CLI and the sweep.

An instrument model (``interphase_sim.instruments["ndp" | "eels" | "hrtem"]``) is built
from a sample and its own settings table and simulates what the instrument records:

- ``Model.from_stack(stack, **settings)``: the sample's table (``[ndp]``, ``[eels]``,
  ``[hrtem]``) read through :mod:`interphase_sim.core.settings`; keywords override it.
- ``model.settings()``: plain JSON-able values with which ``from_stack`` rebuilds the model.
- ``model.parameters()``: the stack's Parameters and the instrument's own, prefixed with
  the instrument's name (``ndp.fwhm_keV``, ``eels.collection_mrad``, ``hrtem.defocus_A``).
- ``model.simulate(noise=False, seed=None)`` -> :class:`Measurement`; the same seed gives
  the same values. ``model.expected(measurement)`` -> the noise-free array of that
  measurement's shape.

Measurements name a depth axis ``depth`` (nm) and carry the metadata keys of
:data:`METADATA_KEYS` (:func:`provenance` builds them).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from interphase_sim.core.params import Parameter, Parameters

__all__ = ["Instrument", "METADATA_KEYS", "provenance", "package_version", "prefixed", "plain"]

#: Metadata keys every simulated Measurement carries.
METADATA_KEYS = ("instrument", "settings", "sample", "noise", "seed", "package_version")


@runtime_checkable
class Instrument(Protocol):
    """What an instrument model implements (see the module docstring)."""

    name: str

    @classmethod
    def from_stack(cls, stack: Any, **settings: Any) -> Instrument: ...

    def settings(self) -> dict[str, Any]: ...

    def parameters(self) -> Parameters: ...

    def simulate(self, noise: bool = False, seed: Any = None) -> Any: ...

    def expected(self, measurement: Any) -> np.ndarray: ...


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    """The installed interphase_sim version ("unknown" when run from a bare source tree)."""
    from importlib import metadata

    try:
        return metadata.version("interphase_sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def _seed_record(seed: Any) -> Any:
    """A JSON-able record of a seed: the integer, None, or the Generator's kind."""
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": int(seed.entropy), "spawn_key": list(seed.spawn_key)}
    return f"<{type(seed).__name__}>"


def provenance(instrument: str, settings: Mapping[str, Any], sample: str | None, noise: bool,
               seed: Any) -> dict[str, Any]:
    """The metadata every Measurement of an instrument model carries (:data:`METADATA_KEYS`)."""
    return {"instrument": instrument, "settings": dict(settings), "sample": sample, "noise": bool(noise),
            "seed": _seed_record(seed), "package_version": package_version()}


def prefixed(prefix: str, items: Mapping[str, Parameter] | list[tuple[str, Parameter]]) -> list[tuple[str, Parameter]]:
    """``[(f"{prefix}.{name}", parameter), ...]``: an instrument's own Parameters, named."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return [(f"{prefix}.{name}", p) for name, p in pairs]


def plain(value: Any) -> Any:
    """A JSON-able copy: Parameters become their values, numpy scalars and arrays Python ones."""
    if isinstance(value, Parameter):
        return value.value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
