"""interphase_sim: models of solid-state-battery interphases and what instruments see.

Describe a sample once, as a :class:`Stack` of :class:`Layer` objects made of
:class:`Phase` objects from the library (:mod:`interphase_sim.sample.phases`); every number is a
:class:`Parameter` shared by identity with every model that reads it.

Units: depths, thicknesses, roughness, grain sizes in nm; densities in g/cm3; number
densities in atoms/nm3; atomic coordinates in Å.
"""

from __future__ import annotations

from interphase_sim.sample import phases
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.core.params import Parameter, Parameters
from interphase_sim.sample.phases import Phase
from interphase_sim.sample.profile import DepthProfile
from interphase_sim.sample.stack import NATURAL_LI6_ABUNDANCE, Layer, Stack
from interphase_sim.sample import shipped as samples
from interphase_sim.registry import instruments
from interphase_sim.loaders import load_measurement

__version__ = "0.1.0"

__all__ = [
    "Axis",
    "DepthProfile",
    "InterphaseInputError",
    "Layer",
    "Measurement",
    "NATURAL_LI6_ABUNDANCE",
    "Parameter",
    "Parameters",
    "Phase",
    "Stack",
    "instruments",
    "load_measurement",
    "phases",
    "samples",
    "__version__",
]
