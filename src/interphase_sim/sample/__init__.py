"""The sample: the phase library, Layer / Stack / DepthProfile, sample files and shipped samples.

Imports only :mod:`interphase_sim.core`.
"""
