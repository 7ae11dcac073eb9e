"""Core-loss EELS: cross-sections, ELNES templates, plural scattering, line scans and their analysis.

:class:`EELSModel` (in :mod:`~interphase_sim.eels.model`) simulates STEM-EELS line scans of a
stack; :mod:`~interphase_sim.eels.xsec` holds the hydrogenic cross-sections,
:mod:`~interphase_sim.eels.lowloss` the low-loss spectrum and Fourier-ratio deconvolution,
:mod:`~interphase_sim.eels.plural` the plural scattering of a line scan (compiled kernels
in :mod:`~interphase_sim.eels._kernels`),
:mod:`~interphase_sim.eels.analysis` quantification and MLLS,
:mod:`~interphase_sim.eels.params` the model's fit parameters (scan origin and step, probe,
background, per-edge cross-section scales).
"""

from interphase_sim.eels.model import EELSModel

__all__ = ["EELSModel"]
