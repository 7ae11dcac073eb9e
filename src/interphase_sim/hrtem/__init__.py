"""Cross-section HRTEM on abTEM: the microscope, the model, image analysis, phase maps and fitting hooks.

:class:`HRTEMModel` and :class:`Microscope` live in :mod:`~interphase_sim.hrtem.model`;
:mod:`~interphase_sim.hrtem.analysis` (diffractograms, spacings, Thon rings),
:mod:`~interphase_sim.hrtem.phasemap` (phase maps) and :mod:`~interphase_sim.hrtem.fitting`
(Objective hooks) work on simulated and measured images alike. abTEM is imported only
when a multislice runs.
"""

from interphase_sim.hrtem.model import HRTEMModel, Microscope

__all__ = ["HRTEMModel", "Microscope"]
