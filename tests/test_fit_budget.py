"""The error budget and the honest diagnostics of a fit: priors in the least squares,
statistical / systematic / total errors, at-bound on a parameter's own scale, parameters
the data do not constrain, normalised phase fractions, degrees of freedom."""

import math

import numpy as np
import pytest
import scipy.stats

from interphase_sim import Layer, Parameter, Parameters, Stack
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.fit import Objective, fit
from interphase_sim.ndp.model import NDPModel


class LineWithScale:
    """mu = a * s * x: ``a`` physical, ``s`` a systematic scale (prior N(1, 0.03))."""

    def __init__(self, a=2.0, s_sd=0.03):
        self.a = Parameter(a, bounds=(0.0, 10.0), vary=True, name="a")
        self.s = Parameter(1.0, bounds=(0.5, 1.5), vary=True, name="s", prior=scipy.stats.norm(1.0, s_sd),
                           role="systematic")
        self.x = np.linspace(1.0, 10.0, 50)

    def parameters(self):
        return Parameters([("a", self.a), ("s", self.s)])

    def expected(self, measurement):
        return self.a.value * self.s.value * self.x


def _line_data(model, sigma=0.05, seed=0):
    rng = np.random.default_rng(seed)
    mu = 2.0 * model.x
    return Measurement(mu + rng.normal(0, sigma, mu.size), [Axis("x", "", model.x)],
                       uncertainties=np.full(mu.size, sigma))


def test_a_systematic_prior_enters_the_total_error_not_the_statistical_one():
    """Analytic: a is fixed by the data only through a*s; with s ~ N(1, 0.03) the total
    error of a is sqrt(stat^2 + (0.03 a)^2), the statistical one is the data's alone."""
    model = LineWithScale()
    data = _line_data(model)
    res = fit(Objective(model, data, loss="gaussian"))
    x, sigma = model.x, 0.05
    stat = sigma / math.sqrt(np.sum(x**2))  # d mu / d a = s x, at s = 1
    a = res.values["a"]
    assert res.stat_err["a"] == pytest.approx(stat, rel=0.02)
    assert res.stderr["a"] == pytest.approx(math.hypot(stat, 0.03 * a), rel=0.02)
    assert res.sys_err["a"] == pytest.approx(0.03 * a, rel=0.05)
    # the prior holds the degenerate scale at its mean instead of letting it wander
    assert abs(res.values["s"] - 1.0) < 0.01
    assert res.prior_penalty == pytest.approx(((res.values["s"] - 1.0) / 0.03) ** 2, rel=1e-6)
    assert "s" not in res.not_constrained  # a systematic is prior-limited by design, not flagged
    assert "syst." in res.report() and "stat." in res.report()


def _thin_stack(extra_deep_layer=False, weight=None):
    li2o = weight if weight is not None else 1.0
    layers = [Layer("top", {"Li2O": li2o, "Li3N": 0.5}, Parameter(800.0, bounds=(400, 1200), vary=True))]
    if extra_deep_layer:  # 9 um of gold: alphas born below it never reach the detector
        layers += [Layer("gold", {"Au": 1.0}, 9000.0),
                   Layer("deep", {"Li2O": 1.0}, Parameter(500.0, bounds=(300.0, 700.0), vary=True))]
    layers.append(Layer("sub", {"Au": 1.0}, "inf"))
    return Stack(layers)


def test_a_parameter_the_data_cannot_see_is_flagged_not_constrained():
    # finding: reported "converged" at its start value with a prior-width error
    model = NDPModel.from_stack(_thin_stack(extra_deep_layer=True), particles=["alpha"])
    data = model.simulate(noise=True, seed=4)
    res = fit(Objective(model, data))
    assert "deep.thickness_nm" in res.not_constrained
    assert "top.thickness_nm" not in res.not_constrained
    assert res.stderr["deep.thickness_nm"] > 0.7 * 400.0 / math.sqrt(12)  # the prior's width
    assert "NOT CONSTRAINED" in res.report()
    assert res.to_dict()["parameters"]["deep.thickness_nm"]["constrained"] is False


def test_at_bound_is_judged_on_the_parameter_s_own_scale():
    # finding: ndp.scale with bounds (0, 1e12) flagged AT BOUND at 0.36 (relative to the span)
    model = NDPModel.from_stack(_thin_stack(), particles=["alpha"])
    model.scale = Parameter(0.36, bounds=(0.0, 1e12), vary=True)
    data = model.simulate(noise=True, seed=2)
    model.scale.value = 0.5
    res = fit(Objective(model, data))
    assert abs(res.values["ndp.scale"] - 0.36) < 4 * res.stderr["ndp.scale"]
    assert "ndp.scale" not in res.at_bounds


def test_phase_weights_are_reported_as_normalised_fractions_with_errors():
    # finding: a weight of 1 among unnormalised weights reported AT BOUND while its volume
    # fraction is 0.67, and the fraction reported nowhere
    w = Parameter(1.0, bounds=(0.0, 1.0), vary=True)
    model = NDPModel.from_stack(_thin_stack(weight=w), particles=["alpha"], fluence=3e12)
    data = model.simulate(noise=True, seed=3)
    w.value = 0.8
    res = fit(Objective(model, data))
    name = "top.phases.Li2O"
    assert name not in res.at_bounds
    f = res.phase_fractions[name]
    truth = 1.0 / 1.5
    assert f["error"] > 0 and abs(f["fraction"] - truth) < 3 * f["error"] + 1e-3
    other = res.phase_fractions["top.phases.Li3N"]
    assert f["fraction"] + other["fraction"] == pytest.approx(1.0)
    assert other["error"] == pytest.approx(f["error"], rel=1e-6)  # two phases: one error
    assert "Volume fractions" in res.report()


def test_degrees_of_freedom_count_only_informative_channels():
    # finding: the reduced statistic counted channels that can never have counts (0.30)
    model = NDPModel.from_stack(_thin_stack(), particles=["alpha"], channels=2048)
    data = model.simulate(noise=True, seed=5)
    res = fit(Objective(model, data))
    assert res.dof < 2048 - 1
    assert 0.7 < res.reduced_statistic < 1.3  # a correct model on Poisson data


class LinearPair:
    """mu = a x + b (x + 0.05 x^2): linear in (a, b), strongly correlated."""

    def __init__(self):
        self.a = Parameter(1.0, bounds=(-100.0, 100.0), vary=True, name="a")
        self.b = Parameter(1.0, bounds=(-100.0, 100.0), vary=True, name="b")
        self.x = np.linspace(1.0, 10.0, 50)

    def parameters(self):
        return Parameters([("a", self.a), ("b", self.b)])

    def expected(self, measurement):
        return self.a.value * self.x + self.b.value * (self.x + 0.05 * self.x**2)


def test_the_most_correlated_pair_is_checked_along_its_regression_line():
    """Linear (Gaussian) problem: one standard error along the pair's regression line
    raises the statistic by 1. The product a * s (a curved valley) is flagged instead."""
    linear = LinearPair()
    data = Measurement(2.0 * linear.x + 0.05 * linear.x**2 + np.random.default_rng(1).normal(0, 0.05, 50),
                       [Axis("x", "", linear.x)], uncertainties=np.full(50, 0.05))
    res = fit(Objective(linear, data, loss="gaussian"))
    c = res.pair_check
    assert sorted(c["pair"]) == ["a", "b"] and abs(c["correlation"]) > 0.9
    assert c["delta_statistic"] == pytest.approx(1.0, rel=0.02)
    assert "Most correlated pair" in res.report() and "NOT Gaussian" not in res.report()
    curved = LineWithScale()
    res = fit(Objective(curved, _line_data(curved, seed=1), loss="gaussian"))
    assert res.pair_check["delta_statistic"] > 2.0 and "NOT Gaussian" in res.report()


def test_a_fit_that_cannot_describe_its_data_says_so():
    """An EELS scan of LiPON | LNMO fitted from a start that puts the interface 300 nm
    outside the 200 nm scan: the statistic stays at 28 per degree of freedom. The fit must
    not pass that off as a result; the same fit from a start inside the scan is fine."""
    import warnings

    import numpy as np

    from interphase_sim import samples
    from interphase_sim.eels.model import EELSModel
    from interphase_sim.fit import Objective, fit

    stack = samples.load("lnmo_lipon")
    model = EELSModel.from_stack(stack, positions=60, channels=512)
    data = model.simulate(noise=True, seed=1)
    free = stack.parameters().varying()
    truth = free.get_values()
    lo, hi = free.bounds_array().T
    for factor, poor in ((1.2, True), (1.02, False)):
        free.set_values(np.clip(truth * factor, lo, hi))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fit(Objective(model, data))
        flagged = [str(w.message) for w in caught if "POOR FIT" in str(w.message)]
        assert res.poor_fit is poor and bool(flagged) is poor, (factor, res.reduced_statistic)
        assert ("POOR FIT" in res.report()) is poor
        assert res.to_dict()["poor_fit"] is poor
        if poor:
            assert res.reduced_statistic > 2.0 and res.misfit_sigma > 100
        else:
            assert res.reduced_statistic < 1.1
