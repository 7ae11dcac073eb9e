"""NDP forward model: absolute yield, invariants, edges where stopping puts them, inversion."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interphase_sim import InterphaseInputError, Layer, Parameter, Stack, phases
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.ndp.io import load_spectrum_csv
from interphase_sim.ndp import NDPModel, spectrum_to_depth
from interphase_sim.ndp.geometry import PARTICLES, cone_nodes, solid_angle_fraction
from interphase_sim.ndp.stopping import exit_energy

WIDE = np.arange(1.0, 3200.0, 2.0)  # keV, channel centres covering every particle
E_ALPHA = PARTICLES["alpha"].max_energy_keV  # birth energies from the kinematics (2055.9 keV)
E_TRITON = PARTICLES["triton"].max_energy_keV  # 2727.6 keV


def model(stack, **kw):
    args = dict(energy_keV=WIDE, low_energy_cutoff_keV=0.0, fwhm_keV=12.0, acceptance_half_angle_deg=4.0)
    args.update(kw)
    return NDPModel(stack, **args)


def n6li(phase_name, abundance=0.0759):
    return phases.get(phase_name).number_density()["Li"] * abundance


# -- absolute yield ----------------------------------------------------------------------
@pytest.mark.parametrize("particle", ["alpha", "triton"])
def test_thin_layer_total_counts_are_analytic(particle):
    t = 20.0
    stack = Stack([Layer("film", {"Li2O": 1}, t), Layer("sub", {"Si": 1}, "inf")])
    m = model(stack, particles=[particle], fluence=2e12, area_cm2=0.5)
    _, comps = m.simulate_components()
    # N(6Li) per cm2 x sigma x fluence x area x Omega/4pi
    expected = n6li("Li2O") * t * 1e14 * 940e-24 * 2e12 * 0.5 * solid_angle_fraction(4.0)
    assert comps[particle].sum() == pytest.approx(expected, rel=2e-3)


def test_li_free_stack_gives_no_counts_and_warns():
    stack = Stack([Layer("oxide", {"SiO2": 1}, 100), Layer("sub", {"Si": 1}, "inf")])
    with pytest.warns(UserWarning, match="no Li"):
        m = model(stack, background=0.0)
    assert np.all(m.simulate().values == 0.0)


# -- invariants --------------------------------------------------------------------------
def peak_energy(m, particle):
    e, comps = m.simulate_components()
    return float(np.sum(e * comps[particle]) / np.sum(comps[particle]))


@settings(max_examples=8)
@given(st.lists(st.integers(0, 1500), min_size=2, max_size=4, unique=True))  # nm, >= 1 nm apart
def test_moving_a_li_layer_deeper_only_lowers_its_peak(caps):
    caps = sorted(caps)
    peaks = []
    for cap in caps:
        layers = ([Layer("cap", {"SiO2": 1}, cap)] if cap > 0 else []) + [
            Layer("li", {"Li2O": 1}, 30), Layer("sub", {"Si": 1}, "inf")]
        peaks.append([peak_energy(model(Stack(layers)), p) for p in ("alpha", "triton")])
    peaks = np.array(peaks)
    assert np.all(np.diff(peaks, axis=0) < 0)


def test_splitting_a_layer_leaves_the_spectrum_unchanged():
    whole = Stack([Layer("LiPON", {"LiPON": 1}, 800, roughness_nm=5), Layer("LNMO", {"LNMO": 1}, 400),
                   Layer("Au", {"Au": 1}, "inf")])
    split = Stack([Layer("LiPON1", {"LiPON": 1}, 300), Layer("LiPON2", {"LiPON": 1}, 500, roughness_nm=5),
                   Layer("LNMO", {"LNMO": 1}, 400), Layer("Au", {"Au": 1}, "inf")])
    a, b = model(whole).simulate().values, model(split).simulate().values
    np.testing.assert_allclose(b, a, atol=2e-3 * a.max())


def test_splitting_does_not_change_counts_per_particle():
    whole = Stack([Layer("SEI", {"Li2O": 1, "Li3N": 1}, 60), Layer("Li", {"Li": 1}, "inf")])
    split = Stack([Layer("a", {"Li2O": 1, "Li3N": 1}, 25), Layer("b", {"Li2O": 1, "Li3N": 1}, 35),
                   Layer("Li", {"Li": 1}, "inf")])
    e, ca = model(whole).simulate_components()
    _, cb = model(split).simulate_components()
    seen = e > 100.0  # below any real discriminator the end-of-range tail is only approximate
    for k in ca:
        assert cb[k][seen].sum() == pytest.approx(ca[k][seen].sum(), rel=1e-5)


# -- edges sit where the stopping powers say ----------------------------------------------
def half_max_crossings(e, y):
    half = 0.5 * y.max()
    above = np.flatnonzero(y >= half)
    i, j = above[0], above[-1]
    lo = np.interp(half, [y[i - 1], y[i]], [e[i - 1], e[i]])
    hi = np.interp(half, [y[j + 1], y[j]], [e[j + 1], e[j]])
    return lo, hi


@pytest.mark.parametrize("particle, e0", [("alpha", E_ALPHA), ("triton", E_TRITON)])
def test_surface_and_interface_edges_match_exit_energies(particle, e0):
    t = 1000.0
    stack = Stack([Layer("LiPON", {"LiPON": 1}, t), Layer("sub", {"Si": 1}, "inf")])
    m = model(stack, particles=[particle], dead_layers=[("Au", 30)], acceptance_half_angle_deg=1.0, fwhm_keV=10.0)
    e, comps = m.simulate_components()
    lo, hi = half_max_crossings(e, comps[particle])
    front = exit_energy(particle, e0, [("Au", 30)])
    back = exit_energy(particle, float(exit_energy(particle, e0, [("LiPON", t)])), [("Au", 30)])
    assert hi == pytest.approx(front, abs=3.0)  # keV: half a FWHM would be 5
    assert lo == pytest.approx(back, abs=6.0)


def test_detector_angle_stretches_the_energy_depth_scale():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 600), Layer("sub", {"Si": 1}, "inf")])
    depths = np.array([100.0, 250.0, 300.0, 500.0, 600.0])
    _, e0 = model(stack, acceptance_half_angle_deg=0.5).energy_depth_map("alpha", depths)
    _, e60 = model(stack, detector_angle_deg=60.0, acceptance_half_angle_deg=0.5).energy_depth_map("alpha", depths)
    # at 60 degrees a particle from depth z loses what one from 2z loses at normal exit
    np.testing.assert_allclose(e60[[1, 2]], e0[[3, 4]], atol=0.5)  # 250 -> 500 nm, 300 -> 600 nm
    expected = [float(exit_energy("alpha", E_ALPHA, [("LiPON", z)])) for z in depths]
    np.testing.assert_allclose(e0, expected, atol=0.5)  # keV; the model's own range tables


def test_cone_nodes_cover_the_cone():
    k, w, k_det = cone_nodes(0.0, 10.0, 4)
    assert w.sum() == pytest.approx(1.0)
    assert 1.0 < k.min() < k.max() < 1 / math.cos(math.radians(10.0))
    # mean of 1/cos over a cone about the normal: ln(1/cos a) / (1 - cos a)
    a = math.radians(10.0)
    assert np.sum(k * w) == pytest.approx(math.log(1 / math.cos(a)) / (1 - math.cos(a)), rel=1e-6)
    assert k_det == pytest.approx(np.sum(k * w), rel=1e-9)


# -- noise -------------------------------------------------------------------------------
def test_poisson_noise_is_seeded():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 500), Layer("sub", {"Si": 1}, "inf")])
    m = model(stack)
    a, b, c = (m.simulate(noise=True, seed=s).values for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(a == np.round(a)) and a.sum() == pytest.approx(m.simulate().values.sum(), rel=0.01)


# -- inversion -----------------------------------------------------------------------------
def test_alpha_and_triton_invert_to_the_same_profile_and_the_truth():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 1500), Layer("sub", {"Si": 1}, "inf")])
    truth = n6li("LiPON")
    profiles = {}
    for particle in ("alpha", "triton"):
        m = model(stack, particles=[particle], fwhm_keV=10.0, acceptance_half_angle_deg=1.0, fluence=1e13)
        spec = m.simulate()
        res = spectrum_to_depth(spec, "LiPON", particle, model=m)
        z = res.axis("depth")
        inner = (z > 150) & (z < 1300)
        assert np.median(res.values[inner]) == pytest.approx(truth, rel=0.02), particle
        # away from both edges by several triton resolution lengths (10 keV ~ 120 nm of LiPON)
        profiles[particle] = np.interp(np.linspace(450, 1050, 30), z, res.values)
    np.testing.assert_allclose(profiles["alpha"], profiles["triton"], rtol=0.03)


def test_inversion_propagates_poisson_errors_and_reports_total_li():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 1500), Layer("sub", {"Si": 1}, "inf")])
    m = model(stack, particles=["alpha"], fluence=1e12)  # ~2400 counts/channel: 2 % errors
    spec = m.simulate(noise=True, seed=3)
    res = spectrum_to_depth(spec, "LiPON", "alpha", model=m, species="Li", li6_abundance=0.0759)
    z = res.axis("depth")
    inner = (z > 200) & (z < 1300)
    pull = (res.values[inner] - phases.get("LiPON").number_density()["Li"]) / res.uncertainties[inner]
    assert abs(np.mean(pull)) < 0.3 and 0.7 < np.std(pull) < 1.3  # honest 1-sigma errors


def test_inversion_bad_input():
    meas = Measurement(np.ones(5), [Axis("energy", "keV", np.linspace(100, 500, 5))])
    with pytest.raises(InterphaseInputError, match="li6_abundance"):
        spectrum_to_depth(meas, "LiPON", species="Li")
    with pytest.raises(InterphaseInputError, match="unknown particle"):
        spectrum_to_depth(meas, "LiPON", "neutron")
    with pytest.raises(InterphaseInputError, match="matrix"):
        spectrum_to_depth(meas, "Unobtainium")


def test_inversion_takes_the_same_settings_from_a_model_or_keywords():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 800), Layer("sub", {"Si": 1}, "inf")])
    kw = dict(detector_angle_deg=10.0, acceptance_half_angle_deg=2.0, fluence=3e12, area_cm2=0.5, background=2.0,
              low_energy_cutoff_keV=200.0)
    m = model(stack, particles=["alpha"], dead_layers=[("Au", 30.0)], **kw)
    spec = m.simulate()
    a = spectrum_to_depth(spec, "LiPON", "alpha", model=m)
    b = spectrum_to_depth(spec, "LiPON", "alpha", dead_layers=[("Au", 30.0)], **kw)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.axis("depth"), b.axis("depth"))
    assert a.metadata["dead_layers"] == [{"material": "Au", "thickness_nm": 30.0}]


def test_inversion_and_forward_model_share_one_energy_grid():
    from interphase_sim.ndp import _kernels
    from interphase_sim.ndp import model as ndp_model

    assert ndp_model.N_GRID == _kernels.N_GRID


# -- settings and bad input ----------------------------------------------------------------
def test_settings_load_from_the_sample_file_with_parameters():
    text = """
[[layers]]
name = "LiPON"
thickness_nm = 1000
phases = { LiPON = 1 }
[[layers]]
name = "sub"
thickness_nm = "inf"
phases = { Si = 1 }
[ndp]
particles = ["alpha"]
fwhm_keV = { value = 18, min = 5, max = 40, vary = true }
detector_angle_deg = 10
acceptance_half_angle_deg = 2.5
dead_layers = [{ material = "Au", thickness_nm = { value = 40, min = 0, max = 100, vary = true } }]
fluence = 3e12
background = 0.5
channels = 512
gain_keV = 5.0
"""
    m = NDPModel.from_stack(Stack.from_toml_string(text))
    ps = m.parameters()
    assert ps["ndp.fwhm_keV"].vary and ps["ndp.fwhm_keV"].bounds == (5.0, 40.0)
    assert ps["ndp.dead_layers.0.thickness_nm"].value == 40.0
    assert "LiPON.thickness_nm" in ps
    meas = m.simulate()
    assert meas.values.size == 512 and meas.axis("energy")[-1] == pytest.approx(511 * 5.0)
    assert meas.values[-1] == pytest.approx(0.5)  # background above every particle
    bad = text.replace("gain_keV", "gain_kev")
    with pytest.raises(InterphaseInputError, match=r"ndp.gain_kev: unknown key \(did you mean 'gain_keV'\?\)"):
        NDPModel.from_stack(Stack.from_toml_string(bad))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(particles=["neutron"]), "unknown particle"),
        (dict(fwhm_keV=-1), r"ndp.fwhm_keV: value -1.0 is outside the physical range"),
        (dict(detector_angle_deg=80, acceptance_half_angle_deg=15), "below 90"),
        (dict(acceptance_half_angle_deg=0), "acceptance_half_angle_deg"),
        (dict(dead_layers=[("Au", -5)]), r"dead_layers\[0\].thickness_nm"),
        (dict(dead_layers=[("Kryptonite", 5)]), r"dead_layers\[0\].material"),
        (dict(energy_keV=[3, 2, 1]), "increasing"),
        (dict(energy_keV=[1, np.nan, 3]), "finite"),
        (dict(angle_nodes=0), "angle_nodes"),
        (dict(fluence=Parameter(1e12, bounds=(-1, 2e12), vary=True)), "reach outside"),
    ],
)
def test_bad_model_settings_name_the_field(kw, match):
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 100)])
    with pytest.raises(InterphaseInputError, match=match):
        NDPModel(stack, **kw)


@pytest.mark.parametrize(
    "content, match",
    [
        ("energy,counts\n1,2\n", "columns must include"),
        ("energy_keV,counts\n1,2\n3,-1\n", "negative counts"),
        ("energy_keV,counts\n1,2\n1,3\n", "increase strictly"),
        ("energy_keV,counts\n1,2\n2,nan\n", "NaN"),
        ("energy_keV,counts\n1,x\n", "not numbers"),
        ("channel,counts\n1,2\n2,3\n", "gain"),
        ("", "empty"),
    ],
)
def test_bad_spectrum_files(tmp_path, content, match):
    p = tmp_path / "s.csv"
    p.write_text(content)
    with pytest.raises(InterphaseInputError, match=match):
        load_spectrum_csv(p)


def test_spectrum_csv_round_trip_and_channel_calibration(tmp_path):
    meas = Measurement(np.array([0.0, 5.0, 2.0]), [Axis("energy", "keV", np.array([10.0, 20.0, 30.0]))])
    meas.to_csv(tmp_path / "a.csv")
    back = load_spectrum_csv(tmp_path / "a.csv")
    np.testing.assert_array_equal(back.values, meas.values)
    np.testing.assert_array_equal(back.axis("energy"), meas.axis("energy"))
    (tmp_path / "c.csv").write_text("channel,counts\n0,1\n1,2\n2,3\n")
    cal = load_spectrum_csv(tmp_path / "c.csv", gain_keV=2.5, offset_keV=10.0)
    np.testing.assert_allclose(cal.axis("energy"), [10.0, 12.5, 15.0])
    assert cal.to_xarray().sel(energy=12.5).item() == 2.0


# -- command line ----------------------------------------------------------------------------
def test_cli_simulate_ndp_and_invert(tmp_path, capsys):
    from interphase_sim import samples
    from interphase_sim.cli.main import main

    sample = tmp_path / "lnmo.toml"
    sample.write_text(samples.text("lnmo_lipon"))
    out = tmp_path / "out"
    assert main(["simulate", "ndp", str(sample), "--out", str(out), "--noise", "--seed", "4"]) == 0
    assert (out / "ndp_spectrum.png").stat().st_size > 10_000
    spec = load_spectrum_csv(out / "spectrum.csv")
    settings_ = json.loads((out / "ndp_settings.json").read_text())
    assert settings_["particles"] == ["alpha", "triton"] and spec.values.sum() == pytest.approx(settings_["total_counts"])
    out2 = tmp_path / "depth"
    assert main(["ndp-depth", str(out / "spectrum.csv"), "--matrix", "LiPON", "--settings", str(sample),
                 "--out", str(out2)]) == 0
    prof = np.loadtxt(out2 / "depth_profile.csv", delimiter=",", skiprows=1)
    lipon = (prof[:, 0] > 200) & (prof[:, 0] < 1300)
    assert np.median(prof[lipon, 1]) == pytest.approx(n6li("LiPON"), rel=0.05)


def test_cli_bad_spectrum_writes_nothing(tmp_path, capsys):
    from interphase_sim.cli.main import main

    bad = tmp_path / "bad.csv"
    bad.write_text("energy_keV,counts\n1,2\n0.5,3\n")
    out = tmp_path / "never"
    assert main(["ndp-depth", str(bad), "--matrix", "LiPON", "--out", str(out)]) == 2
    assert "increase strictly" in capsys.readouterr().err
    assert not out.exists()


def test_demo_lnmo_stack_edges_sit_where_the_stopping_powers_say():
    # Done-when of the NDP issue: on the shipped LiPON 1.5 um | LNMO 0.5 um | Au sample,
    # the alpha and triton surface edges and the LNMO/Au edge fall at the exit energies.
    from interphase_sim import samples

    stack = samples.load("lnmo_lipon")
    m = NDPModel.from_stack(stack, energy_keV=np.arange(0.5, 3000.0, 1.0), low_energy_cutoff_keV=0.0)
    e, comps = m.simulate_components()
    for particle, e0 in (("alpha", E_ALPHA), ("triton", E_TRITON)):
        y = comps[particle]
        lo, hi = half_max_crossings(e, y)
        assert hi == pytest.approx(e0, abs=4.0), particle  # 18 keV FWHM, 3 deg cone
    # the deep alpha edge (LNMO 1584 -> 1330 keV, well resolved; for tritons LNMO spans only
    # 40 keV): half of the LNMO plateau, at the exit energy from the LNMO bottom
    y = comps["alpha"]
    back = float(exit_energy("alpha", E_ALPHA, [("LNMO", 500.0), ("LiPON", 1500.0)]))
    plateau = np.median(y[(e > back + 40) & (e < back + 80)])
    below = np.flatnonzero((e < back + 40) & (y < 0.5 * plateau))
    assert e[below.max()] == pytest.approx(back, abs=6.0)


def test_cli_simulate_bad_sample_writes_nothing(tmp_path, capsys):
    from interphase_sim import samples
    from interphase_sim.cli.main import main

    sample = tmp_path / "bad.toml"
    sample.write_text(samples.text("lnmo_lipon").replace("fwhm_keV = 18.0", "fwhm_keV = -18.0"))
    out = tmp_path / "never"
    assert main(["simulate", "ndp", str(sample), "--out", str(out)]) == 2
    assert "ndp.fwhm_keV" in capsys.readouterr().err
    assert not out.exists()
