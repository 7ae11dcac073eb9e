"""Neutron depth profiling: stopping powers, the forward model and the spectrum-to-depth analysis.

:class:`NDPModel` (in :mod:`~interphase_sim.ndp.model`) simulates a stack's charged-particle
spectrum; :func:`spectrum_to_depth` (in :mod:`~interphase_sim.ndp.analysis`) converts a
spectrum to concentration versus depth; :mod:`~interphase_sim.ndp.stopping` holds the
stopping powers (ICRU 49, ZBL, SRIM tables, pycatima). Birth energies come from
:mod:`~interphase_sim.ndp.kinematics`, straggling from :mod:`~interphase_sim.ndp.straggling`,
the channel calibration from :mod:`~interphase_sim.ndp.calibration`, the model's own
Parameters (roles, dead layers, stopping scales) from :mod:`~interphase_sim.ndp.parameters`
and the overlap of particles in a spectrum from :mod:`~interphase_sim.ndp.overlap`.
"""

from interphase_sim.ndp.analysis import spectrum_to_depth
from interphase_sim.ndp.materials import resolve_material
from interphase_sim.ndp.model import PARTICLES, NDPModel

__all__ = ["NDPModel", "PARTICLES", "resolve_material", "spectrum_to_depth"]
