"""The package's core: errors, Parameters, Measurements and file I/O.

Nothing in :mod:`interphase_sim.core` imports any other part of the package.
"""
