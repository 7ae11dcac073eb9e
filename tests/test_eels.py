"""EELS forward model: edge integrals, plural scattering, invariants, quantification, MLLS."""

import json

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, Layer, Stack, phases, samples
from interphase_sim.eels import lowloss as LL
from interphase_sim.eels.model import EELSModel
from interphase_sim.eels.analysis import edge_areal_density, layer_boundaries, mlls_fractions, quantify_line_scan
from interphase_sim.eels.templates import ELNESTemplate
from interphase_sim.eels.xsec import ionization_cross_section


def li2o_bulk(**kw):
    return EELSModel(Stack([Layer("Li2O", {"Li2O": 1}, "inf")]), **kw)


@pytest.mark.parametrize("edge, element", [("Li K", "Li"), ("O K", "O")])
def test_single_scattering_edge_integral_is_areal_density_times_sigma(edge, element):
    # one edge only: the Li K tail also lies under the O K window
    m = li2o_bulk(edges=[edge], plural=False, elnes=False, background_counts=0.0, thickness_nm=50.0)
    spec = m.spectrum(100.0)
    e = spec.axis("energy")
    onset = {"Li K": 55.0, "O K": 532.0}[edge]
    sel = (e >= onset) & (e < onset + 50.0)
    counts = spec.values[sel].sum()
    n_areal = phases.get("Li2O").number_density()[element] * 50.0  # atoms/nm2
    sigma = ionization_cross_section(edge, 300e3, 20.0, 50.0, 10.0)
    assert counts / (m.electrons() * 1e-10) == pytest.approx(n_areal * sigma, rel=0.01)


def test_elnes_templates_conserve_the_window_integral():
    plain = li2o_bulk(plural=False, elnes=False).spectrum(100.0)
    fine = li2o_bulk(plural=False, elnes=True).spectrum(100.0)
    e = plain.axis("energy")
    for onset in (55.0, 532.0):
        sel = (e >= onset - 5) & (e < onset + 60.0)
        assert fine.values[sel].sum() == pytest.approx(plain.values[sel].sum(), rel=0.03)
        # but the shape differs: it is fine structure
        assert np.max(np.abs(fine.values[sel] - plain.values[sel])) > 0.05 * plain.values[sel].max()


def test_lowloss_kernel_is_normalised_and_plural_scattering_conserves_counts():
    k = LL.lowloss_kernel(4096, 0.3, tau=0.8, plasmon_eV=20.0, plasmon_width_eV=6.0, resolution_fwhm_eV=1.0)
    assert k.sum() == pytest.approx(1.0, abs=1e-12) and np.all(k >= 0)
    # the zero-loss fraction is exp(-t/lambda)
    assert k[:20].sum() + k[-20:].sum() == pytest.approx(np.exp(-0.8), rel=0.02)
    ssd = np.zeros((3, 2048))
    ssd[:, 100:900] = np.random.default_rng(0).random((3, 800))
    out = LL.plural_scatter(ssd, np.tile(k, (3, 1)))
    # conserved but for the Lorentzian plasmon tail pushed past the last channel (< 0.1 %)
    np.testing.assert_allclose(out.sum(axis=1), ssd.sum(axis=1), rtol=1e-3)
    assert np.all(out.sum(axis=1) <= ssd.sum(axis=1))
    # with a kernel short enough to stay on the axis the sum is exact
    short = LL.lowloss_kernel(4096, 0.3, tau=0.8, plasmon_eV=20.0, plasmon_width_eV=6.0, resolution_fwhm_eV=1.0)
    short[700:3500] = 0.0
    short /= short.sum()
    np.testing.assert_allclose(LL.plural_scatter(ssd, np.tile(short, (3, 1))).sum(axis=1), ssd.sum(axis=1), rtol=1e-6)


def test_plural_scattering_moves_but_keeps_model_counts():
    single = li2o_bulk(plural=False, offset_eV=20.0, dispersion_eV=0.5, channels=4096).spectrum(100.0)
    plural = li2o_bulk(plural=True, offset_eV=20.0, dispersion_eV=0.5, channels=4096).spectrum(100.0)
    assert plural.values.sum() == pytest.approx(single.values.sum(), rel=0.01)
    e = single.axis("energy")
    edge = (e > 530) & (e < 545)
    assert plural.values[edge].sum() < single.values[edge].sum()  # the edge loses counts to plasmons


def test_mean_free_path_and_plasmon_energy_are_physical():
    li = {"Li": phases.get("Li").number_density()["Li"]}
    assert LL.plasmon_energy_eV(li) == pytest.approx(8.0, abs=0.5)  # free-electron Li: ~8 eV
    si = phases.get("Si").number_density()
    assert LL.plasmon_energy_eV(si) == pytest.approx(16.6, abs=0.5)  # Si bulk plasmon 16.7 eV
    lam = LL.mean_free_path_nm(si, 200e3, 20.0)
    assert 100 < lam < 200  # Egerton: ~150 nm for Si at 200 kV, large beta


def test_splitting_a_layer_leaves_the_line_scan_unchanged():
    whole = Stack([Layer("LiPON", {"LiPON": 1}, 40, roughness_nm=2), Layer("Li", {"Li": 1}, "inf")])
    split = Stack([Layer("a", {"LiPON": 1}, 15), Layer("b", {"LiPON": 1}, 25, roughness_nm=2),
                   Layer("Li", {"Li": 1}, "inf")])
    z = np.linspace(0, 80, 41)
    a = EELSModel(whole).line_scan(z).values
    b = EELSModel(split).line_scan(z).values
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * a.max())


def test_line_scan_quantification_finds_the_boundaries_within_a_probe_fwhm():
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 40), Layer("Li2O", {"Li2O": 1}, 30), Layer("Li", {"Li": 1}, "inf")])
    m = EELSModel(stack, probe_fwhm_nm=2.0, background_counts=300.0, thickness_nm=60.0, dose_e_per_A2=2e4)
    scan = m.line_scan(np.arange(2.0, 100.0, 0.5), noise=True, seed=3)
    q = quantify_line_scan(scan, ["P L2,3", "O K"], window_eV=40.0)
    z = scan.axis("depth")
    p_bound = layer_boundaries(z, q.values[:, 0], smooth_nm=2.0)  # smoothing over one probe FWHM
    o_bound = layer_boundaries(z, q.values[:, 1], smooth_nm=2.0)
    assert p_bound.size == 1 and abs(p_bound[0] - 40.0) < 2.0
    assert o_bound.size == 1 and abs(o_bound[0] - 70.0) < 2.0


def test_quantification_recovers_areal_density_of_background_free_single_scattering():
    m = li2o_bulk(edges=["O K"], plural=False, elnes=False, thickness_nm=40.0, dose_e_per_A2=1e5)
    spec = m.spectrum(50.0, noise=True, seed=1)
    d, err = edge_areal_density(spec, "O K", window_eV=50.0, subtract_background=False)
    truth = phases.get("Li2O").number_density()["O"] * 40.0
    assert abs(d[0] - truth) < 3 * err[0] and err[0] < 0.05 * truth


def test_mlls_recovers_phase_fractions_of_a_noiseless_mixture():
    fr = {"Li2O": 0.5, "Li3N": 0.3, "LiF": 0.2}
    kw = dict(plural=False, offset_eV=45.0, dispersion_eV=0.05, channels=600, thickness_nm=50.0)
    mix = EELSModel(Stack([Layer("mix", fr, "inf")]), edges=["Li K"], **kw).spectrum(10.0).values
    refs = {p: EELSModel(Stack([Layer(p, {p: 1}, "inf")]), edges=["Li K"], **kw).spectrum(10.0).values for p in fr}
    got = mlls_fractions(mix, refs)
    for p, f in fr.items():
        assert got[p] == pytest.approx(f, abs=0.02)


def test_demo_stack_profiles_follow_the_layers():
    m = EELSModel.from_stack(samples.load("li_sei_lipon"))
    scan = m.simulate(noise=True, seed=5)
    z = scan.axis("depth")
    # plural scattering removed by Fourier-ratio deconvolution with the model's low-loss spectra
    q = quantify_line_scan(m.deconvolve(scan), ["P L2,3", "N K", "O K"], window_eV=40.0)
    p, n, o = q.values.T
    lipon, li_metal = z < 1495, z > 1585
    sei_inner = (z > 1540) & (z < 1565)
    assert np.mean(p[lipon]) > 10 * abs(np.mean(p[li_metal]))
    assert np.mean(n[lipon]) > 10 * abs(np.mean(n[li_metal]))
    assert np.mean(o[sei_inner]) > 10 * abs(np.mean(o[li_metal]))
    # noiseless, the quantified profiles equal the stack's (probe-blurred) areal densities
    exact = quantify_line_scan(m.deconvolve(m.simulate()), ["P L2,3", "N K", "O K"], window_eV=40.0)
    true = m.elemental_profiles(z)
    for k, el in enumerate(("P", "N", "O")):
        np.testing.assert_allclose(exact.values[lipon, k], true[el][lipon], rtol=0.03, err_msg=el)
        # and the noisy ones scatter around them as their error bars say
        pull = (q.values[lipon, k] - true[el][lipon]) / q.uncertainties[lipon, k]
        assert abs(np.mean(pull)) < 0.5 and 0.5 < np.std(pull) < 1.6, el
    # Li (whose edge sits at the start of the axis): ratio method, qualitatively
    li, _ = edge_areal_density(scan, "Li K", window_eV=30.0, pre_edge_eV=(-14.0, -2.0),
                               lowloss_fraction=m.lowloss_fraction(z, 30.0))
    assert np.mean(li[li_metal]) > np.mean(li[lipon])  # 46 vs 35 Li atoms/nm3


def test_settings_from_the_sample_file_and_bad_input():
    stack = samples.load("lnmo_lipon")
    m = EELSModel.from_stack(stack)
    assert "Mn L2,3" in m.edges and m.dispersion_eV.value == 0.35
    scan = m.simulate()
    assert scan.values.shape == (200, 2048)
    assert scan.axes[0].units == "nm" and scan.axes[1].units == "eV"
    with pytest.raises(InterphaseInputError, match="eels.thicknes_nm: unknown key"):
        EELSModel.from_stack(Stack.from_toml_string(stack.to_toml_string().replace("thickness_nm = 60.0", "thicknes_nm = 60.0")))
    li = Stack([Layer("Li", {"Li": 1}, "inf")])
    with pytest.raises(InterphaseInputError, match="unknown edge|close matches"):
        EELSModel(li, edges=["Li Q"])
    with pytest.raises(InterphaseInputError, match="outside the energy axis"):
        EELSModel(Stack([Layer("x", {"Li2O": 1}, "inf")]), edges=["O K"], offset_eV=40.0, dispersion_eV=0.1, channels=2048)
    with pytest.raises(InterphaseInputError, match="eels.collection_mrad"):
        EELSModel(li, collection_mrad=0.0)
    with pytest.raises(InterphaseInputError, match="eels.thickness_nm"):
        EELSModel(li, thickness_nm=-5.0)
    with pytest.raises(InterphaseInputError, match="eels.dose_e_per_A2"):
        EELSModel(li, dose_e_per_A2=0.0)
    with pytest.raises(InterphaseInputError, match="strictly increasing"):
        ELNESTemplate("Li K", "Li", np.array([0.0, 2.0, 1.0]), np.ones(3), "test")


def test_reference_spectrum_replaces_a_template(tmp_path):
    m = li2o_bulk(plural=False, edges=["Li K"])
    e = np.linspace(50, 110, 241)
    atomic = m._atomic("Li K", e)
    measured = atomic * (1 + 2.0 * np.exp(-0.5 * ((e - 62.0) / 1.0) ** 2))
    path = tmp_path / "ref.csv"
    path.write_text("energy_eV,intensity\n" + "\n".join(f"{a},{b}" for a, b in zip(e, measured)))
    before = m.spectrum(10.0).values
    m.set_template_file("Li2O", "Li K", path)
    after = m.spectrum(10.0).values
    axis = m.energy_axis()
    i62 = np.argmin(abs(axis - 62.0))
    assert after[i62] / before[i62] != pytest.approx(1.0, abs=0.05)


def test_to_hyperspy_carries_axes_and_microscope_metadata():
    pytest.importorskip("exspy")
    m = li2o_bulk(edges=["Li K", "O K"])
    sig = m.to_hyperspy(m.line_scan(np.linspace(0, 10, 5)))
    tem = sig.metadata.Acquisition_instrument.TEM
    assert tem.beam_energy == pytest.approx(300.0)
    assert tem.Detector.EELS.collection_angle == pytest.approx(20.0)
    assert sig.axes_manager.signal_axes[0].units == "eV"
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(0.3)


def test_cli_simulate_eels(tmp_path, capsys):
    from interphase_sim.cli.main import main

    sample = tmp_path / "s.toml"
    sample.write_text(samples.text("li_sei_lipon"))
    out = tmp_path / "eels"
    assert main(["simulate", "eels", str(sample), "--out", str(out), "--noise", "--seed", "2"]) == 0
    table = np.loadtxt(out / "linescan.csv", delimiter=",", skiprows=1)
    assert table.shape == (170, 2049)
    assert (out / "eels_linescan.png").stat().st_size > 20_000
    settings = json.loads((out / "eels_settings.json").read_text())
    assert settings["edges"] == ["Li K", "P L2,3", "N K", "O K"]
    bad = tmp_path / "bad.toml"
    bad.write_text(samples.text("li_sei_lipon").replace("dose_e_per_A2 = 100000.0", "dose_e_per_A2 = -1.0"))
    assert main(["simulate", "eels", str(bad), "--out", str(tmp_path / "never")]) == 2
    assert not (tmp_path / "never").exists()


def test_layer_thickness_is_fitted_from_a_line_scan():
    from interphase_sim import Parameter
    from interphase_sim.fit import Objective, fit

    t = Parameter(30.0, bounds=(10.0, 60.0), vary=True)
    stack = Stack([Layer("LiPON", {"LiPON": 1}, 40), Layer("SEI", {"Li2O": 1, "Li3N": 1}, t), Layer("Li", {"Li": 1}, "inf")])
    m = EELSModel(stack, edges=["N K", "O K"], offset_eV=350.0, dispersion_eV=0.5, channels=512,
                  probe_fwhm_nm=2.0, dose_e_per_A2=2e4)
    data = m.line_scan(np.arange(20.0, 100.0, 1.0), noise=True, seed=4)
    t.value = 22.0
    res = fit(Objective(m, data))
    assert abs(res.values["SEI.thickness_nm"] - 30.0) < 2 * res.stderr["SEI.thickness_nm"]
    assert res.stderr["SEI.thickness_nm"] < 1.0  # nm


def test_msa_reference_spectrum_via_rosettasciio(tmp_path):
    from rsciio.msa import file_writer

    m = li2o_bulk(plural=False, edges=["Li K"])
    e = np.linspace(50, 110, 241)
    y = m._atomic("Li K", e) * (1 + 1.5 * np.exp(-0.5 * ((e - 60.0) / 1.0) ** 2))
    signal = {"data": y, "axes": [{"name": "Energy loss", "units": "eV", "size": e.size, "offset": e[0],
                                   "scale": e[1] - e[0], "navigate": False}],
              "metadata": {"General": {"title": "ref"}, "Signal": {"signal_type": "EELS"}},
              "original_metadata": {}}
    file_writer(str(tmp_path / "ref.msa"), signal)
    m.set_template_file("Li2O", "Li K", tmp_path / "ref.msa")
    tpl = m._custom_templates[("Li2O", "Li K")]
    assert np.interp(5.0, tpl.offset_eV, tpl.factor) > 1.5 * np.interp(40.0, tpl.offset_eV, tpl.factor)
