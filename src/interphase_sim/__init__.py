"""interphase_sim: models of solid-state-battery interphases and what instruments see.

Describe a sample once, as a :class:`Stack` of :class:`Layer` objects made of
:class:`Phase` objects from the library (:mod:`interphase_sim.phases`); every number is a
:class:`Parameter` shared by identity with every model that reads it.

Units: depths, thicknesses, roughness, grain sizes in nm; densities in g/cm3; number
densities in atoms/nm3; atomic coordinates in Å.
"""

from __future__ import annotations

from . import phases
from .errors import InterphaseInputError
from .params import Parameter, Parameters
from .phases import Phase
from .profile import DepthProfile
from .stack import NATURAL_LI6_ABUNDANCE, Layer, Stack

__version__ = "0.1.0"

__all__ = [
    "DepthProfile",
    "InterphaseInputError",
    "Layer",
    "NATURAL_LI6_ABUNDANCE",
    "Parameter",
    "Parameters",
    "Phase",
    "Stack",
    "phases",
    "__version__",
]
