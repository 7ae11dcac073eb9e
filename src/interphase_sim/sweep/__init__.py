"""Synthetic datasets: sweeps over the sample's and the instruments' Parameters.

:class:`~interphase_sim.sweep.design.SweepDesign` reads and checks a ``[sweep]`` table
and makes its points and per-sample seeds; :class:`~interphase_sim.sweep.simulate.SampleSimulator`
builds the instruments' models once and simulates one design point from its values and
seed. (The dask engine and the Zarr store are to come.)
"""

from interphase_sim.sweep.design import SweepDesign, SweepParameter, check_design, parameter_ranges
from interphase_sim.sweep.simulate import SampleSimulator

__all__ = ["SampleSimulator", "SweepDesign", "SweepParameter", "check_design", "parameter_ranges"]
