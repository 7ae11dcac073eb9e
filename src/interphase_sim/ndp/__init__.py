"""Neutron depth profiling: stopping powers, the forward model and the spectrum-to-depth analysis.

:class:`NDPModel` (in :mod:`~interphase_sim.ndp.model`) simulates a stack's charged-particle
spectrum; :func:`spectrum_to_depth` (in :mod:`~interphase_sim.ndp.analysis`) converts a
spectrum to concentration versus depth; :mod:`~interphase_sim.ndp.stopping` holds the
stopping powers (ICRU 49, ZBL, SRIM tables, pycatima).
"""

from interphase_sim.ndp.analysis import spectrum_to_depth
from interphase_sim.ndp.model import PARTICLES, NDPModel, resolve_material

__all__ = ["NDPModel", "PARTICLES", "resolve_material", "spectrum_to_depth"]
