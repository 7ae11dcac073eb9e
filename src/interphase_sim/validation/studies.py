"""The report's two science studies, as checks.

- ``study-ndp-detectability`` (:mod:`~interphase_sim.validation.studies_ndp`): the
  smallest SEI that NDP detects at 2 sigma, versus detector resolution and counts, with a
  Monte-Carlo check of its Asimov likelihood-ratio test.
- ``study-information`` (:mod:`~interphase_sim.validation.studies_information`): the
  expected 1-sigma uncertainty of every thickness and SEI phase fraction of the shipped
  samples from NDP, EELS, HRTEM and their combinations (Fisher information), checked
  against the scatter of fits.
"""

from __future__ import annotations

from interphase_sim.validation.report import Context, Section, register
from interphase_sim.validation.studies_information import information_section
from interphase_sim.validation.studies_ndp import ndp_detectability_section

__all__ = ["study_ndp_detectability", "study_information"]


@register("study-ndp-detectability")
def study_ndp_detectability(ctx: Context) -> Section:
    """What can NDP see of a thin interphase? (see :mod:`~interphase_sim.validation.studies_ndp`)"""
    return ndp_detectability_section(ctx)


@register("study-information")
def study_information(ctx: Context) -> Section:
    """Which instrument constrains which parameter? (see
    :mod:`~interphase_sim.validation.studies_information`)"""
    return information_section(ctx)
