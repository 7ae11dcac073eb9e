"""Fitting: recovery of known truth, calibrated errors, degeneracy, bounds, emcee, bad input."""

import json
import math
import warnings

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, Layer, Parameter, Stack, samples
from interphase_sim.fit import FitError, Objective, fit, hold_systematics, sample
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.ndp.model import NDPModel


def exact_physics(model):
    """Hold the systematics as exact (stopping powers, 6Li abundance, LiPON density): these
    tests fit data made by the fit model itself (the error budget with systematics is
    tested in test_fit_budget and test_coverage)."""
    hold_systematics(model)
    return model


def lnmo_problem(seed, fluence=1e12):
    """LiPON 1.5 um | LNMO 0.5 um on Au: thicknesses, resolution and scale free."""
    stack = samples.load("lnmo_lipon")
    m = exact_physics(NDPModel.from_stack(stack, fluence=fluence))
    m.fwhm_keV = Parameter(18.0, bounds=(5.0, 40.0), vary=True)
    m.scale = Parameter(1.0, bounds=(0.3, 3.0), vary=True)
    truth = {n: p.value for n, p in m.parameters().varying().items()}
    data = m.simulate(noise=True, seed=seed)
    return m, data, truth


def sei_problem(seed):
    """LiPON 1 um | 60 nm Li2O/Li3N SEI | Li: LiPON and SEI thickness, scale free."""
    stack = Stack([
        Layer("LiPON", {"LiPON": 1}, Parameter(1000.0, bounds=(500, 1500), vary=True), roughness_nm=3),
        Layer("SEI", {"Li2O": 0.6, "Li3N": 0.4}, Parameter(60.0, bounds=(10, 200), vary=True), roughness_nm=3),
        Layer("Li", {"Li": 1}, "inf"),
    ])
    m = exact_physics(NDPModel(stack, particles=["alpha"], fwhm_keV=12.0, fluence=3e12, channels=1024, gain_keV=2.2,
                               scale=Parameter(1.0, bounds=(0.3, 3.0), vary=True)))
    truth = {n: p.value for n, p in m.parameters().varying().items()}
    return m, m.simulate(noise=True, seed=seed), truth


def start_off(model, seed, low=0.2, high=0.3):
    """Move every free parameter 20-30 % away from its value (inside its bounds)."""
    rng = np.random.default_rng(seed)
    for p in model.parameters().varying().values():
        f = rng.uniform(low, high) * rng.choice([-1.0, 1.0])
        lo, hi = p.bounds
        p.value = min(max(p.value * (1 + f), lo), hi)


@pytest.mark.parametrize("problem", [lnmo_problem, sei_problem])
def test_recovers_truth_within_two_standard_errors(problem):
    m, data, truth = problem(seed=11)
    start_off(m, seed=5)
    res = fit(Objective(m, data))
    assert res.success
    for name, value in truth.items():
        assert abs(res.values[name] - value) < 2 * res.stderr[name], (name, res.values[name], res.stderr[name])
    # the model is left at the best values
    assert m.parameters()[res.names[0]].value == res.values[res.names[0]]


def test_standard_errors_are_calibrated_over_replicas():
    inside, total = 0, 0
    for seed in range(20):
        m, data, truth = lnmo_problem(seed=100 + seed, fluence=2e11)
        start_off(m, seed=seed)
        res = fit(Objective(m, data))
        for name, value in truth.items():
            inside += abs(res.values[name] - value) < res.stderr[name]
            total += 1
    frac = inside / total
    # 80 estimates: binomial sd of a 68 % fraction is 0.05; allow 3 sd
    assert 0.68 - 0.15 < frac < 0.68 + 0.15, frac


def test_joint_fit_of_two_spectra_sharing_parameters_beats_either_alone():
    stack = samples.load("lnmo_lipon")
    alpha = exact_physics(NDPModel.from_stack(stack, particles=["alpha"]))
    triton = exact_physics(NDPModel.from_stack(stack, particles=["triton"], detector_angle_deg=30.0))
    d1, d2 = alpha.simulate(noise=True, seed=1), triton.simulate(noise=True, seed=2)
    shared = alpha.parameters().varying()
    assert list(shared) == list(triton.parameters().varying())  # the same Parameter objects
    joint = fit([Objective(alpha, d1), Objective(triton, d2)])
    only = fit(Objective(triton, d2))
    # degrees of freedom: only channels where the model expects counts (or the data have some)
    informative = sum(int(np.count_nonzero((m.expected(d) > 1e-6) | (d.values > 0)))
                      for m, d in ((alpha, d1), (triton, d2)))
    assert len(joint.statistics) == 2 and joint.dof == informative - 2
    assert joint.dof < d1.values.size + d2.values.size - 2
    for n in joint.names:
        assert joint.stderr[n] <= only.stderr[n] * 1.0001


def test_parameter_pinned_at_a_bound_is_reported():
    m, data, _ = lnmo_problem(seed=3)
    m.stack["LNMO"].thickness_nm.value = 400.0
    m.stack["LNMO"].thickness_nm.bounds = (300.0, 450.0)  # truth 500 is outside
    with pytest.warns(UserWarning, match="LNMO.thickness_nm ended at a bound"):
        res = fit(Objective(m, data))
    assert res.at_bounds == ["LNMO.thickness_nm"] and res.values["LNMO.thickness_nm"] == pytest.approx(450.0)
    assert "AT BOUND" in res.report()


def test_thickness_and_density_are_degenerate_and_the_report_says_so():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, Parameter(1000.0, bounds=(500, 1500), vary=True)),
                   Layer("Si", {"Si": 1}, "inf")])
    density = stack.parameters()["phases.LiPON.density"]
    density.vary, density.prior = True, None  # free within its bounds only: the pure degeneracy
    m = NDPModel(stack, particles=["alpha"], fluence=3e12)
    data = m.simulate(noise=True, seed=4)
    density.value, stack["LiPON"].thickness_nm.value = 2.3, 1080.0
    res = fit(Objective(m, data))
    rho = res.correlation[res.names.index("LiPON.thickness_nm"), res.names.index("phases.LiPON.density")]
    assert rho < -0.95
    assert res.degenerate_pairs and "DEGENERATE" in res.report()
    # what is constrained is the product: areal density
    assert res.values["LiPON.thickness_nm"] * res.values["phases.LiPON.density"] == pytest.approx(2400.0, rel=0.01)


def test_emcee_intervals_agree_with_the_covariance():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, Parameter(800.0, bounds=(400, 1200), vary=True)),
                   Layer("Si", {"Si": 1}, "inf")])
    m = NDPModel(stack, particles=["alpha"], fluence=5e11, channels=512, gain_keV=5.0,
                 scale=Parameter(1.0, bounds=(0.5, 2.0), vary=True))
    data = m.simulate(noise=True, seed=8)
    best = fit(Objective(m, data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short chain: the warning is expected
        post = sample(Objective(m, data), nwalkers=16, nsteps=700, seed=2, start=best)
    half = post.half_width68()
    for n in best.names:
        assert half[n] == pytest.approx(best.stderr[n], rel=0.2), n
        lo, hi = post.interval95[n]
        assert lo < best.values[n] < hi
    assert 0.2 < np.mean(post.acceptance_fraction) < 0.9
    # seeded: the same chain again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = sample(Objective(m, data), nwalkers=16, nsteps=20, seed=2, start=best)
        again2 = sample(Objective(m, data), nwalkers=16, nsteps=20, seed=2, start=best)
    np.testing.assert_array_equal(again.chain, again2.chain)


def test_short_chain_warns_about_autocorrelation():
    m, data, _ = lnmo_problem(seed=1)
    best = fit(Objective(m, data))
    with pytest.warns(UserWarning, match="autocorrelation times"):
        short = sample(Objective(m, data), nwalkers=8, nsteps=30, seed=1, start=best)
    converged, why = short.verdict()  # and the report says so
    assert not converged and "NOT converged" in why and why in short.report()
    assert short.to_dict()["converged"] is False


def test_result_json_and_plot(tmp_path):
    m, data, _ = lnmo_problem(seed=2)
    res = fit(Objective(m, data))
    res.to_json(tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert set(doc["parameters"]) == set(res.names)
    informative = int(np.count_nonzero((m.expected(data) > 1e-6) | (data.values > 0)))
    assert doc["dof"] == informative - 4 < 1024 - 4 and doc["parameters"]["ndp.scale"]["stderr"] > 0
    for entry in doc["parameters"].values():  # the error budget: total^2 = stat^2 + syst^2
        assert entry["stderr"] == pytest.approx(math.hypot(entry["stat_err"], entry["sys_err"]), rel=1e-9)
    fig = res.plot()
    assert len(fig.axes) == 2


# -- bad input -----------------------------------------------------------------------------
def test_no_free_parameters():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 500), Layer("Si", {"Si": 1}, "inf")])
    m = NDPModel(stack, particles=["alpha"])
    with pytest.raises(InterphaseInputError, match="no free parameters"):
        fit(Objective(m, m.simulate()))


def test_global_method_needs_finite_bounds():
    # a thickness must have bounds to vary at all; the calibration offset may vary unbounded
    with pytest.raises(InterphaseInputError, match="varying parameter needs min and max"):
        Layer("LiPON", {"LiPON": 1}, Parameter(500.0, vary=True))
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 500.0), Layer("Si", {"Si": 1}, "inf")])
    m = NDPModel(stack, particles=["alpha"], offset_keV=Parameter(0.0, vary=True))
    with pytest.raises(InterphaseInputError, match="ndp.offset_keV: differential_evolution needs finite"):
        fit(Objective(m, m.simulate()), method="differential_evolution")


def test_a_fit_stepping_outside_physics_is_reported_not_silent():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 500.0), Layer("Si", {"Si": 1}, "inf")])
    m = NDPModel(stack, particles=["alpha"])
    stack["LiPON"].thickness_nm.value = -20.0  # set behind the Layer's back
    with pytest.raises(InterphaseInputError, match=r"layers.LiPON.thickness_nm: value -20.0"):
        m.simulate()


def test_differential_evolution_recovers_from_a_far_start(capsys):
    m, data, truth = sei_problem(seed=3)
    start_off(m, seed=1, low=0.28, high=0.3)
    res = fit(Objective(m, data), method="differential_evolution", seed=4, maxiter=30, progress=True)
    for name, value in truth.items():
        assert abs(res.values[name] - value) < 3 * res.stderr[name], name
    # its progress bar counts generations (the callback never stops the search early)
    assert "differential evolution" in capsys.readouterr().err and res.nfev > 30


def test_a_local_fit_counts_its_evaluations_on_its_progress_bar(capsys):
    m, data, _ = sei_problem(seed=3)
    res = fit(Objective(m, data), progress=True)
    err = capsys.readouterr().err
    assert "fit:" in err and "evaluation" in err
    fit(Objective(m, data))  # no bar unless asked
    assert "evaluation" not in capsys.readouterr().err and res.nfev > 0


@pytest.mark.parametrize(
    "values, match",
    [(np.array([1.0, np.nan, 2.0]), "NaN or inf"), (np.array([]), "empty"), (np.array([1.0, -2.0, 3.0]), "non-negative")],
)
def test_bad_data(values, match):
    stack = Stack([Layer("LiPON", {"LiPON": 1}, Parameter(500.0, bounds=(100, 900), vary=True))])
    m = NDPModel(stack, particles=["alpha"])
    meas = Measurement(values, [Axis("energy", "keV", np.arange(values.size) * 10.0 + 100.0)])
    with pytest.raises(InterphaseInputError, match=match):
        Objective(m, meas)


def test_gaussian_loss_needs_sigmas_and_mask_must_select_points():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, Parameter(500.0, bounds=(100, 900), vary=True))])
    m = NDPModel(stack, particles=["alpha"])
    meas = m.simulate()
    with pytest.raises(InterphaseInputError, match="uncertainties"):
        Objective(m, meas, loss="gaussian")
    with pytest.raises(InterphaseInputError, match="selects no data"):
        Objective(m, meas, mask=np.zeros(meas.values.size, bool))


class NaNModel:
    """A model that fails (NaN) for thickness above 700 nm."""

    def __init__(self):
        self.t = Parameter(400.0, bounds=(100.0, 1000.0), vary=True)

    def parameters(self):
        from interphase_sim import Parameters

        return Parameters([("film.thickness_nm", self.t)])

    def expected(self, measurement):
        x = measurement.axis("energy")
        if self.t.value > 700:
            return np.full(x.size, np.nan)
        return 100.0 * np.exp(-((x - self.t.value) / 300.0) ** 2) + 1.0


def test_model_returning_nan_is_reported_with_the_parameter_values():
    model = NaNModel()
    x = np.linspace(0, 1000, 200)
    data = Measurement(np.round(100.0 * np.exp(-((x - 900.0) / 300.0) ** 2) + 1.0), [Axis("energy", "keV", x)])
    with pytest.raises(FitError, match=r"NaN or inf at film.thickness_nm = 7\d\d"):
        fit(Objective(model, data))


def test_cli_fit_writes_result_report_and_plots(tmp_path, capsys):
    from interphase_sim.cli.main import main

    sample_path = tmp_path / "s.toml"
    sample_path.write_text(samples.text("lnmo_lipon"))
    m = NDPModel.from_stack(samples.load("lnmo_lipon"))
    m.simulate(noise=True, seed=9).to_csv(tmp_path / "spec.csv")
    out = tmp_path / "fit"
    assert main(["fit", str(sample_path), "--data", f"ndp={tmp_path / 'spec.csv'}", "--out", str(out),
                 "--posterior", "--nwalkers", "16", "--nsteps", "40", "--seed", "1"]) == 0
    doc = json.loads((out / "result.json").read_text())
    par = doc["fit"]["parameters"]["LiPON.thickness_nm"]
    assert abs(par["value"] - 1500.0) < 3 * par["stderr"] and len(par["interval68"]) == 2
    assert (out / "fit.png").stat().st_size > 10_000 and (out / "corner.png").exists()
    report = (out / "report.txt").read_text()
    assert "LNMO.thickness_nm" in report and "Chain " in report and "syst." in report
    with np.load(out / "chain.npz") as chain:  # the chain is saved, with its parameter names
        assert chain["chain"].shape == (40, 16, len(chain["names"]))
    bad = tmp_path / "never"
    assert main(["fit", str(sample_path), "--data", f"xrd={tmp_path / 'spec.csv'}", "--out", str(bad)]) == 2
    assert "unknown data kind" in capsys.readouterr().err and not bad.exists()
