"""Fitting: Objectives, joint least-squares / global fits, and emcee sampling.

Five lines from a measured NDP spectrum and a sample file to fitted thicknesses::

    from interphase_sim import Stack
    from interphase_sim.fit import Objective, fit
    from interphase_sim.ndp.io import load_spectrum_csv
    from interphase_sim.ndp.model import NDPModel

    stack = Stack.from_toml("sample.toml")              # vary/min/max say what is free
    data = load_spectrum_csv("spectrum.csv")
    result = fit(Objective(NDPModel.from_stack(stack), data))
    print(result.report())
"""

from interphase_sim.fit.mcmc import SampleResult, sample
from interphase_sim.fit.objective import FitError, Objective, free_parameters, hold_systematics
from interphase_sim.fit.optimize import fit
from interphase_sim.fit.result import FitResult

__all__ = ["FitError", "FitResult", "Objective", "SampleResult", "fit", "free_parameters", "hold_systematics",
           "sample"]
