"""HRTEM on abTEM-simulated images: lattice spacings, CTF zeros, Thon rings, phase maps.

Reference spacings come from pymatgen's ``Lattice.d_hkl`` on the docs/references.md cells,
independently of the package; the CTF zeros from the textbook phase
``chi = pi lambda k^2 (-defocus) + pi Cs lambda^3 k^4 / 2`` (Kirkland, ch. 3; abTEM's
sign: positive defocus is underfocus).
"""

import math

import numpy as np
import pytest
from ase.build import make_supercell
from pymatgen.core import Lattice
from pymatgen.io.ase import AseAtomsAdaptor

from interphase_sim import InterphaseInputError, phases
from interphase_sim.build.amorphous import amorphous
from interphase_sim.hrtem.model import HRTEMModel, Microscope, to_abtem_images, to_hyperspy_signal, wavelength_A
from interphase_sim.hrtem.analysis import find_lattice_spacings, fit_defocus_thon, radial_power_spectrum
from interphase_sim.hrtem.phasemap import candidate_reflections, phase_map

# docs/references.md cells and the [001]-zone reflections the issue names
CELLS = {"Li2O": Lattice.cubic(4.619), "Li3N": Lattice.hexagonal(3.6507, 3.8886), "Li": Lattice.cubic(3.51)}
REFLECTIONS = {"Li2O": [(2, 0, 0), (2, 2, 0)], "Li3N": [(1, 0, 0), (1, 1, 0)], "Li": [(1, 1, 0)]}
# an objective aperture wide enough (25 mrad = 1.27 1/Å) to pass the 1.6 Å fringes
WIDE = Microscope(energy_eV=300e3, Cs_mm=1.2, defocus_A=300.0, aperture_mrad=25.0, focal_spread_A=20.0)


def zone_001(name: str, reps: tuple[int, int, int]):
    """The phase's crystal with c along the beam, in an orthogonal (periodic) cell."""
    atoms = AseAtomsAdaptor.get_atoms(phases.get(name).structure)
    if name == "Li3N":  # hexagonal: the orthohexagonal cell (a, a + 2b, c)
        atoms = make_supercell(atoms, [[1, 0, 0], [1, 2, 0], [0, 0, 1]])
    return atoms * reps


@pytest.mark.parametrize("name, reps", [("Li2O", (8, 8, 2)), ("Li3N", (10, 6, 3)), ("Li", (10, 10, 3))])
def test_diffractogram_peaks_at_the_crystallographic_spacings(name, reps):
    img = HRTEMModel(zone_001(name, reps), WIDE, sampling_A=0.1).image()
    # Li2O (200) carries 0.2 % of (220)'s power (O and Li nearly cancel for electrons):
    # in a noise-free periodic image a 1e-3 floor still keeps Hann side lobes (7e-4) out
    found = [d for d, _ in find_lattice_spacings(img, d_min_A=1.2, d_max_A=5.0, min_relative_power=1e-3)]
    for hkl in REFLECTIONS[name]:
        d_ref = CELLS[name].d_hkl(hkl)
        best = min(found, key=lambda d: abs(d - d_ref))
        assert best == pytest.approx(d_ref, rel=0.01), (name, hkl, found)


@pytest.fixture(scope="module")
def thin_lipon():
    return amorphous("LiPON", (8.0, 8.0, 1.5), seed=1)


def _chi(k, defocus, cs_mm=1.2, energy=300e3):
    lam = wavelength_A(energy)
    return np.pi * lam * k**2 * (-defocus) + 0.5 * np.pi * cs_mm * 1e7 * lam**3 * k**4


@pytest.mark.parametrize("defocus", [-600.0, 300.0])
def test_weak_phase_spectrum_has_its_minima_at_the_ctf_zeros(thin_lipon, defocus):
    mic = Microscope(defocus_A=defocus, aperture_mrad=30.0, focal_spread_A=20.0, mtf=(math.inf, 1.0, 0.0))
    k, p = radial_power_spectrum(HRTEMModel(thin_lipon, mic, sampling_A=0.15).image())
    dk = k[1] - k[0]
    kk = np.linspace(0.05, 0.9, 20000)
    s = np.sin(_chi(kk, defocus))
    zeros = kk[np.nonzero(np.diff(np.sign(s)) != 0)[0][:3]]  # analytic zeros of sin(chi)
    minima = k[1:-1][(p[1:-1] < p[:-2]) & (p[1:-1] < p[2:])]  # of the image's power spectrum
    for kz in zeros:
        assert np.min(np.abs(minima - kz)) <= 1.5 * dk, (kz, minima)
    # the first ring is deep: the power at the zero is a small fraction of the maximum before it
    first = np.argmin(np.abs(k - zeros[0]))
    before = (k > 0.05) & (k < zeros[0])
    assert p[first - 1 : first + 2].min() < 0.15 * p[before].max()


@pytest.mark.parametrize("defocus", [400.0, 1500.0])
def test_thon_fit_recovers_the_defocus_of_an_amorphous_lipon_image(thin_lipon, defocus):
    mic = Microscope(defocus_A=defocus, aperture_mrad=30.0, focal_spread_A=20.0, dose_e_per_A2=500.0)
    img = HRTEMModel(thin_lipon, mic, sampling_A=0.15).image(noise=True, seed=2)
    fit = fit_defocus_thon(img, energy_eV=300e3, Cs_mm=1.2)  # no guess: grid over -1000..3000 Å
    assert fit.defocus_A == pytest.approx(defocus, rel=0.05)


def test_phase_map_labels_each_grain_of_a_two_grain_image():
    """Li2O [001] on the left, Li3N [001] on the right, 2.3 nm thick."""
    import ase

    left = zone_001("Li2O", (9, 9, 5))  # 4.16 x 4.16 nm
    right = zone_001("Li3N", (11, 7, 6))  # 4.02 x 4.43 nm
    height, thick = left.cell[1, 1], 23.0
    right = right[(right.positions[:, 1] < height - 0.5) & (right.positions[:, 2] < thick)]
    left = left[left.positions[:, 2] < thick]
    right.positions[:, 0] += left.cell[0, 0] + 1.5
    # a pixel that divides the crystals' height, and a width of whole pixels: square pixels
    pixel = height / round(height / 0.15)
    width = math.ceil((left.cell[0, 0] + right.cell[0, 0] + 3.0) / pixel) * pixel
    both = ase.Atoms(cell=[width, height, thick], pbc=True)
    both += left
    both += right
    mic = Microscope(defocus_A=300.0, aperture_mrad=20.0, focal_spread_A=20.0, dose_e_per_A2=2000.0)
    img = HRTEMModel(both, mic, sampling_A=pixel).image(noise=True, seed=1)
    cands = candidate_reflections(["Li2O", "Li3N", "Li"], d_min_A=1.1)
    pm = phase_map(img, candidates=cands, window_nm=2.0, step_nm=0.5)
    xs = pm.lateral_nm
    inner_left = (xs > 1.0) & (xs < left.cell[0, 0] / 10 - 1.0)
    inner_right = (xs > left.cell[0, 0] / 10 + 0.15 + 1.0) & (xs < both.cell[0, 0] / 10 - 1.15)
    assert inner_left.sum() >= 2 and inner_right.sum() >= 2
    assert np.all(pm.labels[:, inner_left] == "Li2O"), pm.labels
    assert np.all(pm.labels[:, inner_right] == "Li3N"), pm.labels
    # Li2O (220) 1.633 Å lies within 1.1 % of Li3N's 1.651 Å, so only (400) 1.155 Å tells
    # Li2O apart and its confidence is modest; Li3N's 3.16 and 1.83 Å fringes are its own
    assert np.all(pm.confidence[:, inner_left] > 0.0)
    assert np.all(pm.confidence[:, inner_right] > 0.5)


def test_thickness_series_comes_from_one_multislice_and_ends_at_the_full_image():
    atoms = zone_001("Li2O", (4, 4, 6))
    model = HRTEMModel(atoms, Microscope.scherzer(), sampling_A=0.12, exit_planes=4)
    series = model.thickness_series()
    assert model.multislice_runs == 1
    t = [m.metadata["thickness_nm"] for m in series]
    assert np.all(np.diff(t) > 0) and t[-1] == pytest.approx(atoms.cell[2, 2] / 10)
    full = HRTEMModel(atoms, Microscope.scherzer(), sampling_A=0.12).image()
    np.testing.assert_allclose(series[-1].values, full.values, atol=1e-6)
    # thicker specimens scatter more: contrast differs between the planes
    assert len({round(float(np.std(m.values)), 5) for m in series}) == len(series)
    with pytest.raises(InterphaseInputError, match="exit_planes"):
        HRTEMModel(atoms, exit_planes=0)
    with pytest.raises(InterphaseInputError, match="exit_planes"):
        HRTEMModel(atoms, sampling_A=0.12).thickness_series()


def test_pixels_are_the_grid_abtem_uses_and_spacings_stay_true_off_multiples():
    """A 13.86 Å cell at 0.3 Å: abTEM takes 47 points, 0.2949 Å each; the axes must too."""
    atoms = zone_001("Li2O", (3, 3, 2))
    with pytest.warns(UserWarning, match="2/3 of Nyquist"):  # 0.3 Å is coarse for a 25 mrad aperture
        model = HRTEMModel(atoms, WIDE, sampling_A=0.3)
    assert model.pixel_A[0] == pytest.approx(atoms.cell[0, 0] / 47)
    img = model.image()
    assert img.axis("lateral")[1] - img.axis("lateral")[0] == pytest.approx(model.pixel_A[0] / 10)
    big = HRTEMModel(zone_001("Li2O", (7, 7, 2)), WIDE, sampling_A=0.13).image()  # 32.33 Å / 0.13: not whole
    d = [d for d, _ in find_lattice_spacings(big, d_min_A=1.2, d_max_A=5.0)]
    assert min(d, key=lambda x: abs(x - 1.633)) == pytest.approx(CELLS["Li2O"].d_hkl((2, 2, 0)), rel=0.005)


def test_converters_keep_axes_and_values():
    atoms = zone_001("Li", (4, 6, 2))  # not square: a swapped axis shows in the shapes
    with pytest.warns(UserWarning, match="square pixels"):
        model = HRTEMModel(atoms, Microscope.scherzer(), sampling_A=0.1)
    img = model.image()
    assert img.values.shape == (math.ceil(6 * 3.51 / 0.1), math.ceil(4 * 3.51 / 0.1))  # rows = y, columns = x
    ab = to_abtem_images(img)
    np.testing.assert_allclose(np.asarray(ab.array).T, img.values)
    assert ab.sampling == pytest.approx(model.pixel_A)
    xr = img.to_xarray()
    assert xr.dims == ("depth", "lateral") and xr.attrs["defocus_A"] == img.metadata["defocus_A"]
    pytest.importorskip("hyperspy")
    sig = to_hyperspy_signal(img)
    np.testing.assert_allclose(sig.data, img.values)
    assert sig.axes_manager.signal_axes[0].size == img.values.shape[1]
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(model.pixel_A[0] / 10)
    assert sig.axes_manager.signal_axes[1].scale == pytest.approx(model.pixel_A[1] / 10)
    assert sig.axes_manager.signal_axes[0].units == "nm"
    assert sig.metadata.Acquisition_instrument.TEM.beam_energy == pytest.approx(300.0)


@pytest.mark.gpu
def test_gpu_image_matches_cpu():
    cupy = pytest.importorskip("cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no CUDA GPU")
    atoms = zone_001("Li2O", (4, 4, 2))
    cpu = HRTEMModel(atoms, Microscope.scherzer(), sampling_A=0.1).image().values
    gpu = HRTEMModel(atoms, Microscope.scherzer(), sampling_A=0.1, device="gpu").image().values
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)


def test_a_stack_given_to_the_model_builds_the_default_lamella():
    from interphase_sim.sample.stack import Layer, Stack

    stack = Stack([Layer("LiPON", {"LiPON": 1.0}, 3.0), Layer("Li", {"Li": 1.0}, "inf")])
    from interphase_sim.core.settings import HRTEM

    assert (HRTEM["lateral_nm"].default, HRTEM["thickness_nm"].default) == (12.0, 5.0)
    direct = HRTEMModel(stack, Microscope.scherzer(), sampling_A=0.35, seed=4)
    explicit = HRTEMModel.from_stack(stack, Microscope.scherzer(), lateral_nm=12.0, thickness_nm=5.0, seed=4,
                                     sampling_A=0.35)
    assert direct.atoms.cell.lengths() == pytest.approx(explicit.atoms.cell.lengths())
    # the [hrtem] defaults: 5 nm along the beam; 12 nm wide, rounded up to whole 0.35 Å pixels (square)
    assert direct.atoms.cell[2, 2] == pytest.approx(50.0) and direct.atoms.cell[0, 0] == pytest.approx(120.05)
    assert direct.pixel_A == pytest.approx((0.35, 0.35))
    np.testing.assert_allclose(direct.image().values, explicit.image().values)
    assert direct.stack is stack and direct.depth_offset_nm == 0.0
