"""HRTEM image analysis: diffractogram peaks, phase maps, Thon-ring defocus fits.

Reference numbers are computed here independently of the package: lattice spacings and
in-plane reciprocal vectors with pymatgen's ``Lattice``, the CTF from its textbook form.
"""

import math

import numpy as np
import pytest
from pymatgen.core import Lattice

from interphase_sim import InterphaseInputError
from interphase_sim.hrtem.analysis import (
    diffractogram,
    find_lattice_spacings,
    fit_defocus_thon,
    radial_power_spectrum,
    wavelength_A,
)
from interphase_sim.hrtem.phasemap import candidate_spacings, phase_map
from interphase_sim.core.measurement import Axis, Measurement

# docs/references.md cells
LI2O = Lattice.cubic(4.619)
LI3N = Lattice.hexagonal(3.6507, 3.8886)
LI_BCC = Lattice.cubic(3.51)

# [001] zone: reflections (h, k, 0) whose spacings an HRTEM image shows
ZONE_001 = {
    "Li2O": (LI2O, [(2, 0, 0), (0, 2, 0), (2, 2, 0), (2, -2, 0)]),
    "Li3N": (LI3N, [(1, 0, 0), (0, 1, 0), (1, -1, 0), (1, 1, 0), (1, -2, 0), (2, -1, 0)]),
    "Li": (LI_BCC, [(1, 1, 0), (1, -1, 0), (2, 0, 0), (0, 2, 0)]),
}


def lattice_image(lattice, hkls, shape, sampling, angle=0.3, amplitude=1.0, rng=None):
    """Sum of cosines, one per in-plane reciprocal vector, rotated by ``angle`` (rad)."""
    rng = np.random.default_rng(0) if rng is None else rng
    recip = lattice.reciprocal_lattice_crystallographic.matrix  # rows a*, b*, c* (1/Å)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] * sampling
    img = np.zeros(shape)
    for hkl in hkls:
        g = rot @ (np.asarray(hkl, float) @ recip)[:2]
        img += amplitude * np.cos(2 * np.pi * (g[0] * x + g[1] * y) + rng.uniform(0, 2 * np.pi))
    return img


def speckle(shape, rng, smooth_px=1.0):
    """Random-phase 'amorphous' contrast: smoothed white noise with unit variance."""
    from scipy.ndimage import gaussian_filter

    n = gaussian_filter(rng.normal(size=shape), smooth_px)
    return n / n.std()


def chi(k, lam, defocus, cs_A):
    # Kirkland's convention with C10 = -defocus (abTEM): positive defocus = underfocus
    return 2 * np.pi / lam * (-defocus * (lam * k) ** 2 / 2 + cs_A * (lam * k) ** 4 / 4)


def test_wavelength_300kV():
    assert wavelength_A(300e3) == pytest.approx(0.019687, abs=1e-5)
    assert wavelength_A(200e3) == pytest.approx(0.025079, abs=1e-5)


@pytest.mark.parametrize("phase", ["Li2O", "Li3N", "Li"])
def test_find_lattice_spacings_recovers_zone_spacings(phase):
    lattice, hkls = ZONE_001[phase]
    rng = np.random.default_rng(1)
    sampling = 0.1
    img = lattice_image(lattice, hkls, (512, 512), sampling, angle=0.37, rng=rng)
    img += 1.0 * rng.normal(size=img.shape)
    # distinct spacings (symmetry-equivalent ones agree to rounding only: 1e-3 A groups them)
    expected = sorted({round(lattice.d_hkl(h), 3) for h in hkls}, reverse=True)
    found = find_lattice_spacings(img, sampling, d_min_A=1.0, d_max_A=6.0)
    assert len(found) == len(expected), found
    for d in expected:
        best = min(found, key=lambda t: abs(t[0] - d))[0]
        assert abs(best - d) / d < 0.01, (phase, d, found)


def test_spacings_match_science_md():
    # the test's reference spacings are the ones docs/references.md lists
    assert LI2O.d_hkl((2, 0, 0)) == pytest.approx(2.31, abs=0.005)
    assert LI2O.d_hkl((2, 2, 0)) == pytest.approx(1.63, abs=0.005)
    assert LI3N.d_hkl((1, 0, 0)) == pytest.approx(3.16, abs=0.005)
    assert LI3N.d_hkl((1, 1, 0)) == pytest.approx(1.83, abs=0.005)
    assert LI_BCC.d_hkl((1, 1, 0)) == pytest.approx(2.48, abs=0.005)


def test_diffractogram_peak_position_and_radial_spectrum():
    sampling = 0.2
    y, x = np.mgrid[0:128, 0:128] * sampling
    img = np.cos(2 * np.pi * x / 3.2)  # k = 1/3.2 along x
    p, (ky, kx) = diffractogram(img, sampling)
    iy, ix = np.unravel_index(np.argmax(p), p.shape)
    assert ky[iy] == 0 and abs(abs(kx[ix]) - 1 / 3.2) <= kx[1] - kx[0]
    k, rad = radial_power_spectrum(img, sampling)
    assert abs(k[np.nanargmax(rad)] - 1 / 3.2) <= 1.5 * (k[1] - k[0])
    assert k.max() <= 0.5 / sampling


def test_candidate_spacings():
    c = candidate_spacings(["Li2O", "Li3N", "Li"])
    assert c["Li2O"][:3] == pytest.approx([2.667, 2.3095, 1.633], abs=2e-3)
    assert 3.1627 == pytest.approx(c["Li3N"][1], abs=2e-3)
    assert all(d >= 1.2 for ds in c.values() for d in ds)
    assert all(len(ds) <= 6 for ds in c.values())


def _two_grain_image(rng, sampling=0.1):
    """12 x 4 nm: Li2O [001] for x < 4.5 nm, amorphous 4.5-7.5 nm, Li3N [001] beyond."""
    shape = (400, 1200)
    x_nm = np.arange(shape[1]) * sampling / 10
    li2o = lattice_image(LI2O, ZONE_001["Li2O"][1], shape, sampling, angle=0.2, rng=rng)
    li3n = lattice_image(LI3N, ZONE_001["Li3N"][1], shape, sampling, angle=-0.5, rng=rng)
    amorph = 2.0 * speckle(shape, rng)
    img = np.where(x_nm < 4.5, li2o, np.where(x_nm < 7.5, amorph, li3n))
    return img + 0.7 * rng.normal(size=shape), sampling


def test_phase_map_two_grains_and_amorphous_strip():
    rng = np.random.default_rng(7)
    img, sampling = _two_grain_image(rng)
    cands = candidate_spacings(["Li2O", "Li3N", "Li"])
    res = phase_map(img, sampling, cands, window_nm=2.0, step_nm=0.5)
    labels, x = res.labels, res.lateral_nm
    assert labels.shape == (res.depth_nm.size, x.size)
    # windows entirely inside one region (2 nm windows: centre >= 1 nm from its edges)
    left = labels[:, x <= 3.5 + 1e-9]
    strip = labels[:, (x >= 5.5 - 1e-9) & (x <= 6.5 + 1e-9)]
    right = labels[:, x >= 8.5 - 1e-9]
    assert np.mean(left == "Li2O") >= 0.9, left
    assert np.mean(right == "Li3N") >= 0.9, right
    assert np.mean(strip == "") >= 0.8, strip
    conf = res.confidence
    assert np.all((conf >= 0) & (conf <= 1))
    assert np.all(conf[labels == ""] == 0)
    # probabilities measured 0.82-0.89 in both grains: Li2O's (220) 1.633 Å is within
    # 1.1 % of Li3N's 1.651 Å, so neither grain is certain from spacings alone
    assert np.median(conf[:, x <= 3.5]) > 0.75 and np.median(conf[:, x >= 8.5]) > 0.75


def test_phase_map_needs_more_than_one_spacing():
    # only Li3N's (101)-like 2.45 Å fringes: Li(110) 2.48 Å matches too within 2 %, and
    # one spacing is no identification
    sampling = 0.1
    y, x = np.mgrid[0:200, 0:200] * sampling
    img = np.cos(2 * np.pi * (0.8 * x + 0.6 * y) / 2.45)
    res = phase_map(img, sampling, candidate_spacings(["Li3N", "Li"]), window_nm=2.0, step_nm=1.0)
    assert np.all(res.labels == "")


def test_phase_map_accepts_measurement_in_nm():
    rng = np.random.default_rng(3)
    sampling = 0.1
    img = lattice_image(LI3N, ZONE_001["Li3N"][1], (200, 300), sampling, rng=rng) + 0.5 * rng.normal(size=(200, 300))
    m = Measurement(
        img,
        [Axis("depth", "nm", 5.0 + np.arange(200) * 0.01), Axis("lateral", "nm", np.arange(300) * 0.01)],
        quantity="intensity",
    )
    res = phase_map(m, candidates=candidate_spacings(["Li2O", "Li3N"]), window_nm=2.0, step_nm=1.0)
    assert np.all(res.labels == "Li3N")
    assert res.depth_nm[0] == pytest.approx(5.0 + 0.995)


def _thon_image(defocus, n=1024, sampling=0.1, energy=300e3, cs_mm=1.2, seed=0):
    rng = np.random.default_rng(seed)
    lam = wavelength_A(energy)
    ky = np.fft.fftfreq(n, d=sampling)
    k = np.hypot(ky[:, None], ky[None, :])
    phase = 0.05 * rng.normal(size=(n, n))
    img = 1 + 2 * np.real(np.fft.ifft2(np.fft.fft2(phase) * np.sin(chi(k, lam, defocus, cs_mm * 1e7))))
    return img + 0.01 * rng.normal(size=img.shape)


@pytest.mark.parametrize("defocus, guess", [(500.0, None), (700.0, 600.0), (-300.0, None)])
def test_fit_defocus_thon(defocus, guess):
    img = _thon_image(defocus)
    fit = fit_defocus_thon(img, 0.1, energy_eV=300e3, Cs_mm=1.2, defocus_guess_A=guess)
    assert abs(fit.defocus_A - defocus) <= 0.05 * abs(defocus), fit.defocus_A
    assert 0 < fit.defocus_err_A < 0.05 * abs(defocus)
    assert fit.Cs_err_mm is None


def test_fit_defocus_thon_measurement_and_cs():
    img = _thon_image(700.0, n=512, sampling=0.1, seed=4)
    m = Measurement(img, [Axis("depth", "nm", np.arange(512) * 0.01), Axis("lateral", "nm", np.arange(512) * 0.01)])
    fit = fit_defocus_thon(m, energy_eV=300e3, Cs_mm=1.0, defocus_guess_A=600.0, fit_Cs=True)
    assert abs(fit.defocus_A - 700.0) <= 35.0
    assert fit.Cs_mm == pytest.approx(1.2, rel=0.2)
    assert fit.Cs_err_mm is not None and fit.Cs_err_mm > 0


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: find_lattice_spacings(np.zeros((16, 16, 3)), 0.1), "image"),
        (lambda: find_lattice_spacings(np.zeros(64), 0.1), "image"),
        (lambda: find_lattice_spacings(np.zeros((64, 64)), 0.0), "sampling_A"),
        (lambda: find_lattice_spacings(np.zeros((64, 64)), -1), "sampling_A"),
        (lambda: find_lattice_spacings(np.zeros((64, 64))), "sampling_A"),
        (lambda: find_lattice_spacings(np.full((64, 64), np.nan), 0.1), "image"),
        (lambda: find_lattice_spacings(np.zeros((64, 64)), 0.1, d_min_A=3, d_max_A=2), "d_min_A"),
        (lambda: find_lattice_spacings(np.zeros((64, 64)), 0.1, n=0), "n"),
        (lambda: diffractogram(np.zeros((64, 64)), 0.1, window="kaiser"), "window"),
        (lambda: phase_map(np.zeros((64, 64)), 0.1, {"Li": [2.48, 1.75]}, window_nm=2.0), "window_nm"),
        (lambda: phase_map(np.zeros((256, 256)), 0.1, {}, window_nm=2.0), "candidates"),
        (lambda: phase_map(np.zeros((256, 256)), 0.1, {"Li": [2.48]}, tolerance=0.7), "tolerance"),
        (lambda: phase_map(np.zeros((256, 256)), 0.1, {"Li": [2.48]}, step_nm=0), "step_nm"),
        (lambda: fit_defocus_thon(np.zeros((64, 64)), 0.1, energy_eV=-1), "energy_eV"),
        (lambda: fit_defocus_thon(np.zeros((64, 64)), 0.1, k_range=(0.5, 100)), "k_range"),
        (lambda: wavelength_A(float("nan")), "energy_eV"),
    ],
)
def test_bad_inputs(call, field):
    with pytest.raises(InterphaseInputError) as err:
        call()
    assert err.value.field == field


def test_measurement_axes_must_be_square_and_nm():
    v = np.zeros((32, 32))
    m = Measurement(v, [Axis("depth", "nm", np.arange(32) * 0.01), Axis("lateral", "nm", np.arange(32) * 0.02)])
    with pytest.raises(InterphaseInputError, match="square"):
        diffractogram(m)
    m = Measurement(v, [Axis("depth", "eV", np.arange(32.0)), Axis("lateral", "nm", np.arange(32) * 0.01)])
    with pytest.raises(InterphaseInputError, match="units"):
        diffractogram(m)
