"""The sample's 6Li abundance: its natural value and its prior as a systematic."""

from __future__ import annotations

import math
from typing import Any

import scipy.stats

from interphase_sim.core.params import Parameter, as_parameter

__all__ = ["NATURAL_LI6_ABUNDANCE", "LI6_ABUNDANCE_SD", "li6_parameter", "is_default_li6"]

#: Natural 6Li atom fraction (IUPAC 2009 representative value 0.0759; it varies between
#: sources from about 0.019 to 0.078, so it is a Parameter).
NATURAL_LI6_ABUNDANCE = 0.0759
#: Prior standard deviation of a natural-abundance sample's 6Li fraction: the spread of
#: commercial lithium (7.3-7.8 % 6Li; CIAAW's interval for terrestrial lithium reaches down
#: to 1.9 % for depleted stock: measure it, or widen the prior, for lithium of unknown origin).
LI6_ABUNDANCE_SD = 0.002


def li6_parameter(x: Any, name: str) -> Parameter:
    """The sample's 6Li fraction as a Parameter. Given as the plain natural value (or not
    at all), it is a free systematic (``role="systematic"``, ``vary=True``) with prior
    ``norm(0.0759, 0.002)`` within (0, 1): an NDP fit carries it into its error budget
    (:mod:`interphase_sim.fit.budget`), as it does the stopping powers. Any other value, or
    a Parameter with its own bounds, prior or vary flag, is the user's: kept."""
    p = as_parameter(x, name)
    if (not p.vary and p.prior is None and p.role == "physical" and p.value == NATURAL_LI6_ABUNDANCE
            and p.bounds == (-math.inf, math.inf)):
        p.role = "systematic"
        p.prior = scipy.stats.norm(loc=NATURAL_LI6_ABUNDANCE, scale=LI6_ABUNDANCE_SD)
        p.bounds = (0.0, 1.0)
        p.vary = True
    return p


def is_default_li6(p: Parameter) -> bool:
    """Is ``p`` what :func:`li6_parameter` makes of the plain natural value?"""
    return (p.vary and p.role == "systematic" and p.value == NATURAL_LI6_ABUNDANCE and p.bounds == (0.0, 1.0)
            and p.prior is not None and p.prior.dist.name == "norm" and p.prior.mean() == NATURAL_LI6_ABUNDANCE
            and p.prior.std() == LI6_ABUNDANCE_SD)
