"""The ``[sweep]`` description: checked before anything runs, reproducible points and seeds."""

import numpy as np
import pytest
import scipy.stats

from interphase_sim import InterphaseInputError, Stack, samples
from interphase_sim.sweep import SweepDesign, check_design

TABLE = {
    "samples": 64, "seed": 1, "design": "sobol", "instruments": ["ndp", "eels"], "outputs": ["noisy", "expected"],
    "parameters": {
        "SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 60},
        "SEI-inner.phases.Li2O": {"dist": "uniform", "low": 0.2, "high": 0.8},
        "ndp.fwhm_keV": {"dist": "norm", "loc": 20, "scale": 2},
    },
}


def design(**changes):
    return SweepDesign.from_table({**TABLE, **changes})


def test_points_follow_the_distributions_and_the_seed():
    d = design()
    pts = d.points()
    assert list(pts) == d.names and all(v.shape == (64,) for v in pts.values())
    t = pts["SEI-outer.thickness_nm"]
    assert 10.0 <= t.min() and t.max() <= 60.0
    # scrambled Sobol' in base 2: every one of 8 equal bins of a uniform holds 8 of the 64 points
    assert np.all(np.bincount(((t - 10.0) / 50.0 * 8).astype(int), minlength=8) == 8)
    f = pts["ndp.fwhm_keV"]
    assert abs(f.mean() - 20.0) < 0.2 and abs(f.std() - 2.0) < 0.3
    again = design().points()
    assert all(np.array_equal(pts[n], again[n]) for n in pts)  # one seed, the same points
    other = design(seed=2).points()
    assert not np.array_equal(pts["ndp.fwhm_keV"], other["ndp.fwhm_keV"])


@pytest.mark.parametrize("kind", ["random", "lhs"])
def test_random_and_latin_hypercube_designs(kind):
    pts = design(design=kind, samples=50).points()
    u = scipy.stats.uniform(10, 50).cdf(pts["SEI-outer.thickness_nm"])
    if kind == "lhs":  # one point in each of the 50 strata
        assert np.array_equal(np.sort((u * 50).astype(int)), np.arange(50))
    assert scipy.stats.kstest(u, "uniform").pvalue > 0.01


def test_grid_is_the_product_of_its_axes():
    d = SweepDesign.from_table({"design": "grid", "parameters": {
        "SEI-outer.thickness_nm": {"values": [10, 20, 30]}, "ndp.fwhm_keV": {"low": 10, "high": 20, "num": 2}}})
    assert d.samples == 6
    pts = d.points()
    assert sorted(zip(pts["SEI-outer.thickness_nm"], pts["ndp.fwhm_keV"])) == [
        (a, b) for a in (10.0, 20.0, 30.0) for b in (10.0, 20.0)]
    with pytest.raises(InterphaseInputError, match="sweep.samples: the grid has 6 points"):
        SweepDesign.from_table({**d.table, "samples": 5})


def test_per_sample_seeds_do_not_depend_on_the_sample_count():
    a, b = design(samples=10).sample_seeds(), design(samples=40).sample_seeds()
    assert a.dtype == np.uint64 and len(set(b.tolist())) == 40
    np.testing.assert_array_equal(a, b[:10])  # sample i's seed is its own, however many there are
    assert not np.array_equal(a, design(seed=2, samples=10).sample_seeds())
    # one sample's seed alone is the same number, and the cached array cannot be altered
    d = design(samples=40)
    assert [d.sample_seed(i) for i in (0, 9, 39)] == [int(b[i]) for i in (0, 9, 39)]
    np.testing.assert_array_equal(d.sample_seeds(7, 23), b[7:23])
    d.sample_seeds()[:] = 0
    assert np.array_equal(d.sample_seeds(), b)


def test_a_sweep_without_a_seed_records_the_one_it_drew():
    d = design(seed=None)
    assert isinstance(d.seed, int) and d.seed >= 0
    assert d.to_dict()["seed"] == d.seed
    again = SweepDesign.from_table(d.to_dict())
    assert np.array_equal(again.points()["ndp.fwhm_keV"], d.points()["ndp.fwhm_keV"])


def test_check_against_the_sample_accepts_what_it_has():
    stack = samples.load("li_sei_lipon")
    pts = check_design(design(), stack)
    assert set(pts) == set(TABLE["parameters"])


@pytest.mark.parametrize("table, field, words", [
    ({"parameters": {"SEI-outer.thickness_nm": {"dist": "unifrom", "low": 1, "high": 2}}},
     "sweep.parameters.SEI-outer.thickness_nm.dist", ["unifrom", "uniform"]),
    ({"parameters": {"SEI-outer.thickness_nm": {"dist": "uniform", "low": 5, "high": 2}}},
     "sweep.parameters.SEI-outer.thickness_nm.high", ["must be > low"]),
    ({"parameters": {"SEI-outer.thickness_nm": {"dist": "norm", "loc": "a"}}},
     "sweep.parameters.SEI-outer.thickness_nm.loc", ["finite number"]),
    ({"parameters": {"SEI-outer.thickness_nm": 10}}, "sweep.parameters.SEI-outer.thickness_nm", ["table"]),
    ({"parameters": {}}, "sweep.parameters", ["name what to vary"]),
    ({"design": "halton"}, "sweep.design", ["halton"]),
    ({"samplse": 3}, "sweep.samplse", ["samples"]),
    ({"samples": 0}, "sweep.samples", []),
    ({"seed": -1}, "sweep.seed", []),
])
def test_bad_descriptions_are_one_line_errors(table, field, words):
    with pytest.raises(InterphaseInputError) as err:
        SweepDesign.from_table({**TABLE, **table})
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(field), msg
    for w in words:
        assert w in msg, msg


def test_names_and_draws_are_checked_against_the_sample_before_anything_runs():
    stack = samples.load("li_sei_lipon")
    bad_name = design(parameters={"SEI-outer.thicknes_nm": {"dist": "uniform", "low": 1, "high": 2}})
    with pytest.raises(InterphaseInputError, match="sweep.parameters.SEI-outer.thicknes_nm: not a Parameter.*"
                                                   "SEI-outer.thickness_nm"):
        check_design(bad_name, stack)
    hrtem_only = design(parameters={"hrtem.defocus_A": {"dist": "uniform", "low": -500, "high": 0}})
    with pytest.raises(InterphaseInputError, match="hrtem.defocus_A: not a Parameter"):
        check_design(hrtem_only, stack)  # hrtem is not among the instruments
    assert "hrtem.defocus_A" in check_design(SweepDesign.from_table({**hrtem_only.table, "instruments": ["hrtem"]}),
                                             stack)
    negative = design(parameters={"SEI-outer.thickness_nm": {"dist": "norm", "loc": 5, "scale": 5}})
    with pytest.raises(InterphaseInputError, match=r"SEI-outer.thickness_nm: draws reach -.*physical range > 0"):
        check_design(negative, stack)
    fraction = design(parameters={"Li.thickness_nm": {"dist": "uniform", "low": 1, "high": 2}})
    with pytest.raises(InterphaseInputError, match="Li.thickness_nm: not a Parameter"):
        check_design(fraction, stack)  # the semi-infinite substrate stays so


def test_the_sample_file_table_is_the_same_design():
    text = samples.text("li_sei_lipon") + """
[sweep]
samples = 64
seed = 1
design = "sobol"
instruments = ["ndp", "eels"]
outputs = ["noisy", "expected"]
[sweep.parameters]
"SEI-outer.thickness_nm" = { dist = "uniform", low = 10, high = 60 }
"SEI-inner.phases.Li2O" = { dist = "uniform", low = 0.2, high = 0.8 }
"ndp.fwhm_keV" = { dist = "norm", loc = 20, scale = 2 }
"""
    stack = Stack.from_toml_string(text)
    from_file = SweepDesign.from_table(stack.sections["sweep"])
    assert from_file.to_dict() == design().to_dict()
    a, b = from_file.points(), design().points()
    assert all(np.array_equal(a[n], b[n]) for n in a)


# -- one sample at a time -------------------------------------------------------------------
def _simulator(**changes):
    from interphase_sim.sweep.simulate import SampleSimulator

    stack = samples.load("li_sei_lipon")
    d = design(samples=8, **changes)
    return SampleSimulator(stack, d), d


def test_a_sample_is_its_values_and_its_seed_whatever_came_before():
    sim, d = _simulator()
    pts, seeds = d.points(), d.sample_seeds()
    row = [{n: v[i] for n, v in pts.items()} for i in range(d.samples)]
    forward = [sim.simulate(row[i], seeds[i]) for i in range(d.samples)]
    backward = [sim.simulate(row[i], seeds[i]) for i in reversed(range(d.samples))][::-1]
    fresh, _ = _simulator()
    for i in range(d.samples):
        assert set(forward[i]) == {"ndp_counts", "ndp_expected", "eels_counts", "eels_expected"}
        for k in forward[i]:
            np.testing.assert_array_equal(forward[i][k], backward[i][k])
        np.testing.assert_array_equal(forward[i]["ndp_counts"], fresh.simulate(row[i], seeds[i])["ndp_counts"])
    # the swept values are what the models see: a wider detector, a thicker SEI
    assert not np.array_equal(forward[0]["ndp_expected"], forward[1]["ndp_expected"])
    assert sim.targets["ndp.fwhm_keV"].value == row[0]["ndp.fwhm_keV"]


def test_noisy_counts_are_what_the_model_itself_draws():
    sim, d = _simulator()
    point = {n: v[3] for n, v in d.points().items()}
    out = sim.simulate(point, 12345)
    children = np.random.SeedSequence(12345).spawn(2)
    for (kind, model), child in zip(sim.models.items(), children):
        own = model.simulate(noise=True, seed=np.random.default_rng(child)).values
        np.testing.assert_array_equal(out[f"{kind}_counts"], own)
        # counts are conserved on average: the noisy total within 5 sigma of the expected one
        total = out[f"{kind}_expected"].sum()
        assert abs(out[f"{kind}_counts"].sum() - total) < 5 * np.sqrt(total)
