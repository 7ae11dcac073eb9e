"""Figures: one module of helpers (:mod:`~interphase_sim.plotting.common`) and one per instrument."""
