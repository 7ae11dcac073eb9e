"""Files and converters that must give back what was written: the HRTEM TIFF in
rosettasciio/HyperSpy and ImageJ, Measurement <-> xarray / HyperSpy, CIF of models."""

import os

import numpy as np
import pytest

from interphase_sim import InterphaseInputError
from interphase_sim.core.measurement import Axis, Measurement

PIXEL_NM = 0.0123456789
DESCRIPTION = "interphase_sim HRTEM test; depth from 2.500 nm; defocus -450.0 A; 300 kV"


# --------------------------------------------------------------------------- TIFF
@pytest.fixture(scope="module")
def tiff_file(tmp_path_factory):
    from interphase_sim.core.fileio import write_tiff

    folder = tmp_path_factory.mktemp("tiff")
    image = np.random.default_rng(0).random((40, 60))
    write_tiff(folder / "image.tiff", image, PIXEL_NM, description=DESCRIPTION)
    return folder / "image.tiff", image


def test_tiff_is_read_by_rosettasciio_with_scale_and_nm_units(tiff_file):
    import rsciio.tiff

    path, image = tiff_file
    sig = rsciio.tiff.file_reader(str(path))[0]
    assert np.shape(sig["data"]) == image.shape and np.asarray(sig["data"]).dtype == np.float32
    assert [ax["units"] for ax in sig["axes"]] == ["nm", "nm"]
    assert [ax["size"] for ax in sig["axes"]] == [40, 60]
    for ax in sig["axes"]:
        assert ax["scale"] == pytest.approx(PIXEL_NM, rel=1e-12)
    assert DESCRIPTION in sig["original_metadata"]["ImageDescription"]


def test_tiff_is_loaded_by_hyperspy_with_nm_units(tiff_file):
    hs = pytest.importorskip("hyperspy.api")
    path, image = tiff_file
    s = hs.load(str(path))
    assert s.data.shape == image.shape
    for ax in s.axes_manager.signal_axes:
        assert ax.units == "nm" and ax.scale == pytest.approx(PIXEL_NM, rel=1e-12)


def test_tiff_is_imagej_with_unit_nm_resolution_and_description(tiff_file):
    import tifffile

    path, image = tiff_file
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        assert tf.is_imagej and tf.imagej_metadata["unit"] == "nm"
        assert tf.imagej_metadata["ImageJ"]
        num, den = page.tags["XResolution"].value
        assert num / den == pytest.approx(1.0 / PIXEL_NM, rel=1e-12)
        assert page.tags["YResolution"].value == page.tags["XResolution"].value
        assert page.dtype == np.float32 and DESCRIPTION in page.description
        np.testing.assert_array_equal(page.asarray(), image.astype(np.float32))
    # written through a temporary name: nothing else left in the folder
    assert sorted(os.listdir(path.parent)) == ["image.tiff"]


def test_tiff_is_read_back_by_the_package_reader(tiff_file):
    from interphase_sim import load_measurement

    path, image = tiff_file
    m = load_measurement(path)
    assert m.metadata["pixel_nm"] == pytest.approx(PIXEL_NM, rel=1e-12)
    assert m.metadata["energy_eV"] == 300e3 and m.metadata["defocus_A"] == -450.0
    assert m.axis("depth")[0] == pytest.approx(2.5)
    np.testing.assert_array_equal(m.values, image.astype(np.float32))


def test_tiff_write_failure_leaves_nothing(tmp_path):
    from interphase_sim.core.fileio import write_tiff

    with pytest.raises(ValueError, match="2-D"):
        write_tiff(tmp_path / "bad.tiff", np.zeros((2, 3, 4)), 0.1)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- Measurement round trips
@pytest.fixture(scope="module")
def ndp_measurement():
    from interphase_sim.ndp.model import NDPModel
    from interphase_sim.sample import shipped as samples

    return NDPModel.from_stack(samples.load("li_sei_lipon")).simulate(noise=True, seed=1)


@pytest.fixture(scope="module")
def eels_measurement():
    from interphase_sim.eels.model import EELSModel
    from interphase_sim.sample import shipped as samples

    return EELSModel.from_stack(samples.load("li_sei_lipon"), positions=10, channels=128).simulate(noise=True, seed=1)


@pytest.fixture(scope="module")
def hrtem_measurement():
    rng = np.random.default_rng(3)
    px_A, py_A = 0.37, 0.41
    depth = 2.5 + np.arange(32) * py_A / 10.0  # as HRTEMModel.image makes them (not offset + step * i)
    lateral = np.arange(48) * px_A / 10.0
    md = {"instrument": "hrtem", "sample": "hand-made", "noise": False, "seed": None,
          "settings": {"energy_eV": 300e3, "defocus_A": -450.0, "aberrations": {"C30": 1.2e7, "C12": None},
                       "phases": ["Li2O", "LiF"], "lamella": {"thickness_nm": 8.0, "tilt_mrad": [0.0, 1.5]}},
          "energy_eV": 300e3, "defocus_A": -450.0, "Cs_mm": 1.2, "pixel_A": [px_A, py_A], "dose_e_per_A2": None}
    return Measurement(values=rng.random((32, 48)), axes=[Axis("depth", "nm", depth), Axis("lateral", "nm", lateral)],
                       metadata=md, quantity="intensity (incident = 1)")


KINDS = ["ndp", "eels", "hrtem"]


def measurement_of(request, kind):
    return request.getfixturevalue(f"{kind}_measurement")


def assert_same(back, m, exact_uncertainties=True):
    np.testing.assert_array_equal(back.values, m.values)
    assert [(a.name, a.units) for a in back.axes] == [(a.name, a.units) for a in m.axes]
    for a, b in zip(back.axes, m.axes):
        np.testing.assert_array_equal(a.values, b.values)  # bit for bit
    assert back.metadata == m.metadata
    assert back.quantity == m.quantity
    if m.uncertainties is None:
        assert back.uncertainties is None
    elif exact_uncertainties:
        np.testing.assert_array_equal(back.uncertainties, m.uncertainties)
    else:  # through HyperSpy's variance
        np.testing.assert_allclose(back.uncertainties, m.uncertainties, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_xarray_round_trip_keeps_values_axes_and_nested_metadata(request, kind):
    m = measurement_of(request, kind)
    assert any(isinstance(v, dict) for v in m.metadata.values())  # nested settings to keep
    assert_same(Measurement.from_xarray(m.to_xarray()), m)


def instrument_signal(m, kind):
    if kind == "eels":
        pytest.importorskip("exspy")
        from interphase_sim.eels.model import to_hyperspy

        return to_hyperspy(m)
    if kind == "hrtem":
        from interphase_sim.hrtem.model import to_hyperspy_signal

        return to_hyperspy_signal(m)
    return m.to_hyperspy()


@pytest.mark.parametrize("kind", KINDS)
def test_hyperspy_round_trip_keeps_values_axes_and_nested_metadata(request, kind):
    pytest.importorskip("hyperspy.api")
    m = measurement_of(request, kind)
    sig = instrument_signal(m, kind)
    assert sig.data.shape == m.values.shape
    assert_same(Measurement.from_hyperspy(sig), m, exact_uncertainties=False)
    assert_same(Measurement.from_hyperspy(m.to_hyperspy()), m, exact_uncertainties=False)


def test_hyperspy_signals_carry_the_calibration_hyperspy_users_see(eels_measurement, hrtem_measurement):
    pytest.importorskip("exspy")
    from interphase_sim.eels.model import to_hyperspy
    from interphase_sim.hrtem.model import to_hyperspy_signal

    s = to_hyperspy(eels_measurement)
    e = s.axes_manager.signal_axes[0]
    assert (e.name, e.units, e.size) == ("energy", "eV", 128)
    np.testing.assert_allclose(e.axis, eels_measurement.axis("energy"), rtol=1e-12)
    assert s.metadata.Acquisition_instrument.TEM.beam_energy == eels_measurement.metadata["beam_energy_eV"] / 1e3
    img = to_hyperspy_signal(hrtem_measurement)
    x, y = img.axes_manager.signal_axes
    assert (y.name, y.units, x.name, x.units) == ("depth", "nm", "lateral", "nm")
    np.testing.assert_allclose(y.axis, hrtem_measurement.axis("depth"), rtol=1e-12)


def test_hspy_file_round_trip(eels_measurement, tmp_path):
    hs = pytest.importorskip("hyperspy.api")
    pytest.importorskip("exspy")
    from interphase_sim.eels.model import to_hyperspy

    path = tmp_path / "scan.hspy"
    to_hyperspy(eels_measurement).save(path)
    assert_same(Measurement.from_hyperspy(hs.load(path)), eels_measurement, exact_uncertainties=False)


def test_a_cropped_signal_keeps_its_own_axes_and_the_metadata(eels_measurement):
    pytest.importorskip("exspy")
    from interphase_sim.eels.model import to_hyperspy

    sig = to_hyperspy(eels_measurement).isig[10:50].inav[2:5]
    back = Measurement.from_hyperspy(sig)
    assert back.values.shape == (3, 40)
    np.testing.assert_allclose(back.axis("energy"), eels_measurement.axis("energy")[10:50], rtol=1e-12)
    np.testing.assert_allclose(back.axis("depth"), eels_measurement.axis("depth")[2:5], rtol=1e-12)
    assert back.metadata == eels_measurement.metadata


def test_signals_made_elsewhere_are_read_as_their_files_would_be():
    hs = pytest.importorskip("hyperspy.api")
    exspy = pytest.importorskip("exspy")
    img = hs.signals.Signal2D(np.ones((20, 30)))
    for ax in img.axes_manager.signal_axes:
        ax.units, ax.scale = "Å", 0.5
    m = Measurement.from_hyperspy(img)
    assert [(a.name, a.units) for a in m.axes] == [("depth", "nm"), ("lateral", "nm")]
    assert m.metadata["pixel_nm"] == pytest.approx(0.05) and m.metadata["instrument"] == "hrtem"
    spec = exspy.signals.EELSSpectrum(np.ones((4, 100)))
    spec.axes_manager.signal_axes[0].units, spec.axes_manager.signal_axes[0].offset = "eV", 100.0
    spec.axes_manager.navigation_axes[0].units = "nm"
    spec.set_microscope_parameters(beam_energy=200.0, convergence_angle=5.0, collection_angle=10.0)
    m = Measurement.from_hyperspy(spec)
    assert [(a.name, a.units) for a in m.axes] == [("depth", "nm"), ("energy", "eV")]
    assert m.metadata["beam_energy_eV"] == 200e3 and m.metadata["format"] == "hyperspy"


# --------------------------------------------------------------------------- CIF
def test_check_formats_refuses_cif_of_a_big_model_in_one_line():
    from interphase_sim.build import CIF_MAX_ATOMS, check_formats

    check_formats(["extxyz", "lammps"], 10_000_000)
    check_formats(["extxyz", "cif"], CIF_MAX_ATOMS)
    with pytest.raises(InterphaseInputError) as err:
        check_formats(["extxyz", "cif"], 231_000)
    msg = str(err.value)
    assert err.value.field == "--formats" and "\n" not in msg
    assert "cif" in msg and "231,000" in msg and f"{CIF_MAX_ATOMS:,}" in msg
    assert "extxyz" in msg and "lammps" in msg


def test_write_structure_refuses_cif_above_the_limit(tmp_path):
    import ase

    from interphase_sim.build import CIF_MAX_ATOMS, write_structure

    n = CIF_MAX_ATOMS + 1
    atoms = ase.Atoms("H" * n, positions=np.random.default_rng(0).random((n, 3)) * 30.0, cell=[30, 30, 30], pbc=True)
    with pytest.raises(InterphaseInputError, match="extxyz or lammps"):
        write_structure(atoms, tmp_path / "big.cif")
    assert not (tmp_path / "big.cif").exists()
    write_structure(atoms, tmp_path / "big.extxyz")


@pytest.fixture(scope="module")
def small_model():
    from interphase_sim import Layer, Stack
    from interphase_sim.build import atoms_from_stack

    stack = Stack([Layer("LiPON", {"LiPON": 1.0}, 0.6),
                   Layer("SEI inner", {"Li2O": 0.6, "Li3N": 0.4}, 1.0, grain_size_nm=0.6),
                   Layer("Li", {"Li": 1.0}, "inf")])
    return atoms_from_stack(stack, lateral_nm=(1.2, 1.2), seed=1, semi_infinite_nm=0.5)


def test_cif_keeps_atoms_and_labels_naming_layer_and_phase(small_model, tmp_path):
    import ase.io

    from interphase_sim.build import CIF_MAX_ATOMS, write_structure

    atoms = small_model
    assert 0 < len(atoms) <= CIF_MAX_ATOMS and len(set(atoms.arrays["layer"])) == 3
    write_structure(atoms, tmp_path / "m.cif")
    back = ase.io.read(tmp_path / "m.cif")
    assert len(back) == len(atoms)
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    tagged = ase.io.read(tmp_path / "m.cif", store_tags=True)
    labels = tagged.info["_atom_site_label"]
    assert len(labels) == len(atoms) == len(set(labels))
    layers, phases = atoms.info["layer_names"], atoms.info["phase_names"]
    for label, sym, lay, ph in zip(labels, atoms.get_chemical_symbols(), atoms.arrays["layer"], atoms.arrays["phase"]):
        el, layer, phase = label.split("_")
        assert el.rstrip("0123456789") == sym
        assert layer == layers[lay].replace(" ", "-") and phase == phases[ph]
    assert any("_SEI-inner_Li2O" in lab for lab in labels)
    for name in ("layer", "phase", "grain"):
        np.testing.assert_array_equal(tagged.info[f"_atom_site_interphase_{name}"], atoms.arrays[name])
