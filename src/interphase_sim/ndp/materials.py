"""Materials of the NDP models: a Phase from a Phase or a built-in phase's name."""

from __future__ import annotations

from typing import Any

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.sample.phases import Phase

__all__ = ["resolve_material"]


def resolve_material(material: Any, field: str) -> Phase:
    """A Phase from a Phase, a built-in phase name; formulas need a density (use a Phase)."""
    from interphase_sim.sample import phases

    if isinstance(material, Phase):
        return material
    try:
        return phases.get(material)
    except InterphaseInputError:
        raise InterphaseInputError(
            field,
            f"{material!r} is not a built-in phase; give a Phase (e.g. Phase.amorphous(name, formula, density))",
        ) from None
