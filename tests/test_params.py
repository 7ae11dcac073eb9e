"""Parameter: bounds as uniform priors, explicit priors, identity sharing, bad input."""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from interphase_sim import InterphaseInputError, Parameter, Parameters


def test_bounds_are_a_normalized_uniform_prior():
    p = Parameter(60.0, bounds=(10.0, 200.0), vary=True, units="nm")
    assert p.logprior() == pytest.approx(-math.log(190.0))
    assert p.logprior(10.0) == pytest.approx(-math.log(190.0))  # bounds inclusive
    assert p.logprior(9.999) == -math.inf
    assert p.logprior(200.1) == -math.inf
    # It integrates to one over the bounds.
    x = np.linspace(10, 200, 2001)
    assert np.trapezoid(np.exp([p.logprior(v) for v in x]), x) == pytest.approx(1.0)


def test_explicit_prior_replaces_uniform_but_bounds_still_cut():
    prior = scipy.stats.norm(2.4, 0.1)
    p = Parameter(2.4, bounds=(2.0, 2.8), prior=prior)
    assert p.logprior() == pytest.approx(prior.logpdf(2.4))
    assert p.logprior(2.9) == -math.inf
    unbounded = Parameter(1.0)
    assert unbounded.logprior() == 0.0  # improper flat


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(value=5.0, bounds=(10.0, 20.0)), "outside its bounds"),
        (dict(value=float("nan")), "NaN"),
        (dict(value=1.0, bounds=(3.0, 2.0)), "min must be below max"),
        (dict(value="abc"), "expected a number"),
        (dict(value=1.0, prior="norm"), "scipy.stats"),
    ],
)
def test_bad_values_raise_named_errors(kwargs, field):
    with pytest.raises(InterphaseInputError, match=field):
        Parameter(name="t", **kwargs)


def test_setting_value_outside_bounds_raises_and_keeps_old_value():
    p = Parameter(1.0, bounds=(0.0, 2.0), name="x")
    with pytest.raises(InterphaseInputError, match=r"x: value 3.0 is outside its bounds \[0.0, 2.0\]"):
        p.value = 3.0
    assert p.value == 1.0


def test_shared_parameter_is_one_variable():
    t = Parameter(5.0, bounds=(0, 10), vary=True)
    other = Parameter(1.0, bounds=(0, 2), vary=True)
    ps = Parameters([("a.thickness_nm", t), ("b.thickness_nm", t), ("c", other)])
    assert list(ps) == ["a.thickness_nm", "c"]
    assert ps["b.thickness_nm"] is t
    assert ps.aliases("a.thickness_nm") == ["a.thickness_nm", "b.thickness_nm"]
    ps.set_values([7.0, 1.5])
    assert t.value == 7.0 and other.value == 1.5
    np.testing.assert_array_equal(ps.bounds_array(), [[0, 10], [0, 2]])


def test_unknown_parameter_name_suggests_close_match():
    ps = Parameters([("SEI.thickness_nm", Parameter(1.0))])
    with pytest.raises(KeyError, match="SEI.thickness_nm"):
        ps["SEI.thicknes_nm"]


@given(
    lo=st.floats(-1e6, 1e6),
    width=st.floats(1e-3, 1e6),
    u=st.floats(0, 1),
)
def test_any_value_inside_bounds_is_accepted_and_has_uniform_density(lo, width, u):
    hi = lo + width
    v = min(lo + u * width, hi)
    p = Parameter(v, bounds=(lo, hi))
    assert lo <= p.value <= hi
    assert p.logprior() == pytest.approx(-math.log(hi - lo))
