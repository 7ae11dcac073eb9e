"""``load_measurement`` on real Gatan DigitalMicrograph ``.dm3``/``.dm4`` files.

No installed library writes DM files, so these are files written by DigitalMicrograph
itself, taken from rosettasciio's test data and committed gzip-compressed under
``tests/data/dm/`` (origin, commit, licence and sha256 in its README.md). Each test
decompresses the file into a temporary folder, checks its sha256, and compares what
:func:`interphase_sim.load_measurement` returns with the file as read directly by
``rsciio.digitalmicrograph.file_reader``: its axis dictionaries (offset, scale, units),
the DM calibration tags themselves (``ImageData.Calibrations.Dimension``: value =
(index - Origin) * Scale, DM dimension 0 = last array axis) and the microscope tags
(``Microscope Info.Voltage`` in V, ``EELS.Experimental Conditions`` in mrad), so that
neither the package's axis conversion nor rosettasciio's metadata mapping is the reference.
"""

import gzip
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from interphase_sim import load_measurement
from test_loaders import _one_line_error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::PendingDeprecationWarning")

DATA = Path(__file__).parent / "data" / "dm"

#: file (stored as <file>.gz) -> sha256 of the uncompressed file (rosettasciio's registry.txt)
SHA256 = {
    "test-EELS_spectrum.dm3": "2cb9960a8027300ac1884a3a3b45d10d964da63cc805364d2787519c7e1ec96f",
    "EELS_SI.dm4": "f9b8203f384cc355437594b649d4ea3a12cddeb231ebb65508a841a379fa171a",
    "test_STEM_image.dm3": "fcba806af75bc3c2e50e7d7b0626cba545c1464f39e99c8922b225b0b0b0224c",
    "Fei_HAADF-UK_location.dm3": "3264325b6f79457737f6ff71e3979ebe508971a592c24e15d9ee4ba876244e56",
    "test-MonarcCL_mono-image.dm4": "4ea04a10ad46595de79a20c283555f299dd07b4667f6112b44db1699f28993b6",
    "test-2_2D_float32.dm4": "db23e0fa74d1c50ea1ef3c4df847e952aa15cc97eb25ea96deede46ba1e0edcd",
    "test-2_1D_float32.dm3": "6c32573ae204f2da2deae5e813c0b29a44c8a3c704cf2f72eed603f2d4014c07",
    "test_stackbuilder_imagestack.dm3": "41070d0fd25a838a504f705e1431735192b7a97ca7dd15d9328af5e939fe74a2",
    "test-EDS_spectrum.dm3": "e051f16cb70d57d70c50239d5d9f9c97789a355c2b605ddcfe8e981aaa3cf114",
}

#: length units as DM writes them -> nm (the package's unit for depth, lateral and pixel_nm)
NM_PER = {"nm": 1.0, "µm": 1e3, "Å": 0.1}


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    """``dm(name)``: the path of the decompressed, checksum-verified test file."""
    folder = tmp_path_factory.mktemp("dm")

    def get(name):
        out = folder / name
        if not out.exists():
            raw = gzip.decompress((DATA / f"{name}.gz").read_bytes())
            assert hashlib.sha256(raw).hexdigest() == SHA256[name], f"{name}: not the file the README lists"
            out.write_bytes(raw)
        return out

    return get


def _file(path):
    """The first signal of ``path`` as rosettasciio's DigitalMicrograph reader returns it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rsciio.digitalmicrograph import file_reader

        signals = file_reader(str(path))
    sig = signals[0]
    axes = sorted(sig["axes"], key=lambda a: a["index_in_array"])
    return sig, axes


def _values(ax):
    """An rsciio axis dictionary's coordinates: offset + scale * index."""
    return float(ax["offset"]) + float(ax["scale"]) * np.arange(int(ax["size"]))


def _tags(sig):
    return sig["original_metadata"]["ImageList"]["TagGroup0"]


def _dm_calibration(sig):
    """Per array axis, (coordinates, units) from the file's own DM calibration tags."""
    dims = _tags(sig)["ImageData"]["Calibrations"]["Dimension"]
    shape = np.shape(sig["data"])
    out = []
    for i, n in enumerate(shape):
        d = dims[f"TagGroup{len(shape) - 1 - i}"]  # DM dimension 0 is the fastest (last) array axis
        out.append(((np.arange(n) - float(d["Origin"])) * float(d["Scale"]), d["Units"]))
    return out


# -- EELS ------------------------------------------------------------------------------------------
def test_eels_spectrum_dm3_energy_axis_data_and_microscope(dm):
    path = dm("test-EELS_spectrum.dm3")
    sig, (e_ax,) = _file(path)
    tags = _tags(sig)["ImageTags"]
    (e_dm, e_units), = _dm_calibration(sig)
    for kind in (None, "eels"):
        m = load_measurement(path, kind=kind)
        assert m.metadata["instrument"] == "eels" and m.metadata["format"] == "dm3"
        assert [(a.name, a.units) for a in m.axes] == [("energy", "eV")] and e_units == e_ax["units"] == "eV"
        # the energy axis is exactly the file's: offset + scale * index (here -100 eV + 0.5 eV/channel)
        np.testing.assert_array_equal(m.axis("energy"), _values(e_ax))
        np.testing.assert_allclose(m.axis("energy"), e_dm, rtol=0, atol=1e-12)
        assert (m.axis("energy")[0], m.axis("energy")[1], m.values.size) == (-100.0, -99.5, 2048)
        np.testing.assert_array_equal(m.values, sig["data"].astype(float))
        assert m.values.dtype == float
        # microscope tags: Voltage in V, semi-angles in mrad; the collection angle is recorded as 0 (unknown)
        assert m.metadata["beam_energy_eV"] == tags["Microscope Info"]["Voltage"] == 2e5
        cond = tags["EELS"]["Experimental Conditions"]
        assert m.metadata["convergence_mrad"] == cond["Convergence semi-angle (mrad)"] == 21.0
        assert cond["Collection semi-angle (mrad)"] == 0.0 and m.metadata["collection_mrad"] is None
        assert m.metadata["calibration_source"] == {"energy": "file", "beam_energy_eV": "file",
                                                    "convergence_mrad": "file"}
        assert m.quantity == "Electrons (Counts)"


def test_eels_spectrum_dm3_missing_collection_angle_is_an_error_unless_given(dm):
    path = dm("test-EELS_spectrum.dm3")
    err = _one_line_error(lambda: load_measurement(path, require=("collection_mrad",)), "collection_mrad",
                          "test-EELS_spectrum.dm3", "collection_mrad=")
    assert err.field == "collection_mrad"
    m = load_measurement(path, collection_mrad=30.0, require=("beam_energy_eV", "convergence_mrad",
                                                              "collection_mrad"))
    assert m.metadata["collection_mrad"] == 30.0 and m.metadata["calibration_source"]["collection_mrad"] == "argument"
    # a keyword replaces the file's value; the energy axis can be recalibrated too
    m2 = load_measurement(path, beam_energy_eV=3e5, offset_eV=-50.0, dispersion_eV=0.25)
    assert m2.metadata["beam_energy_eV"] == 3e5 and m2.metadata["calibration_source"]["beam_energy_eV"] == "argument"
    np.testing.assert_allclose(m2.axis("energy"), -50.0 + 0.25 * np.arange(2048))
    assert m2.metadata["calibration_source"]["energy"] == "argument"


def test_eels_spectrum_image_dm4_energy_last_scan_axes_in_nm(dm):
    """rosettasciio returns this SI as (energy, y, x), the energy axis flagged as navigation:
    the loader must still find the energy axis by its unit and put it last."""
    path = dm("EELS_SI.dm4")
    sig, axes = _file(path)
    ie = next(i for i, a in enumerate(axes) if a["units"] == "eV")
    scan = [a for i, a in enumerate(axes) if i != ie]
    dm_cal = _dm_calibration(sig)
    tags = _tags(sig)["ImageTags"]
    for kind in (None, "eels"):
        m = load_measurement(path, kind=kind)
        assert m.metadata["instrument"] == "eels" and m.metadata["format"] == "dm4"
        assert [(a.name, a.units) for a in m.axes] == [("depth", "nm"), ("lateral", "nm"), ("energy", "eV")]
        assert m.values.shape == (2, 2, 2048)
        np.testing.assert_array_equal(m.values, np.moveaxis(sig["data"], ie, -1).astype(float))
        np.testing.assert_array_equal(m.axis("energy"), _values(axes[ie]))
        np.testing.assert_allclose(m.axis("energy"), dm_cal[ie][0], rtol=0, atol=1e-12)
        assert (m.axis("energy")[0], m.axis("energy")[-1]) == (300.0, 2347.0)
        # scan axes: rows (HyperSpy's y) along depth, µm -> nm
        for name, ax, (coords, units) in zip(("depth", "lateral"), scan, [c for i, c in enumerate(dm_cal) if i != ie]):
            assert ax["units"] == units == "µm"
            np.testing.assert_allclose(m.axis(name), 1e3 * _values(ax), rtol=1e-15)
            np.testing.assert_allclose(m.axis(name), 1e3 * coords, rtol=1e-15)
        assert m.axis("depth")[1] == pytest.approx(1.9920736085623503, rel=1e-15)
        assert m.metadata["beam_energy_eV"] == tags["Microscope Info"]["Voltage"] == 2e5
        cond = tags["EELS"]["Experimental Conditions"]
        assert (m.metadata["convergence_mrad"], m.metadata["collection_mrad"]) == \
            (cond["Convergence semi-angle (mrad)"], cond["Collection semi-angle (mrad)"]) == (21.0, 62.0)
        assert all(m.metadata["calibration_source"][k] == "file"
                   for k in ("depth", "lateral", "energy", "beam_energy_eV", "convergence_mrad", "collection_mrad"))
    step = load_measurement(path, step_nm=0.5).axis("lateral")  # a probe step replaces the file's
    np.testing.assert_allclose(step, [0.0, 0.5])
    _one_line_error(lambda: load_measurement(path, kind="hrtem"), "EELS_SI.dm4", "no hrtem data")


def test_uncalibrated_dm3_spectrum_needs_offset_and_dispersion(dm):
    path = dm("test-2_1D_float32.dm3")
    sig, (ax,) = _file(path)
    assert ax["units"] == "" and _dm_calibration(sig)[0][1] == []  # DM stores "no units" as an empty list
    err = _one_line_error(lambda: load_measurement(path), "dispersion_eV", "offset_eV=", "test-2_1D_float32.dm3")
    assert err.field == "dispersion_eV"
    _one_line_error(lambda: load_measurement(path, kind="eels", dispersion_eV=0.5), "dispersion_eV", "offset_eV=")
    m = load_measurement(path, offset_eV=280.0, dispersion_eV=0.25)
    assert m.metadata["instrument"] == "eels" and m.metadata["calibration_source"]["energy"] == "argument"
    np.testing.assert_array_equal(m.axis("energy"), [280.0, 280.25])
    np.testing.assert_array_equal(m.values, sig["data"].astype(float))
    assert m.metadata["beam_energy_eV"] is None
    _one_line_error(lambda: load_measurement(path, offset_eV=280.0, dispersion_eV=0.25, require=["beam_energy_eV"]),
                    "beam_energy_eV", "beam_energy_eV=")


# -- HRTEM -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape, pixel_nm, fmt", [
    ("test_STEM_image.dm3", (68, 68), 0.24853801727294922, "dm3"),  # nm, axes not starting at 0
    ("Fei_HAADF-UK_location.dm3", (4, 16), 5.506073124706745, "dm3"),  # µm, 4 rows x 16 columns
    ("test-MonarcCL_mono-image.dm4", (2, 2), 18325.349807739258, "dm4"),  # µm
])
def test_dm_image_pixel_size_in_nm_and_data(dm, name, shape, pixel_nm, fmt):
    path = dm(name)
    sig, axes = _file(path)
    dm_cal = _dm_calibration(sig)
    for kind in (None, "hrtem"):
        m = load_measurement(path, kind=kind)
        assert m.metadata["instrument"] == "hrtem" and m.metadata["format"] == fmt
        assert [(a.name, a.units) for a in m.axes] == [("depth", "nm"), ("lateral", "nm")]
        assert m.values.shape == shape == sig["data"].shape  # rows (the first array axis) are depth
        np.testing.assert_array_equal(m.values, sig["data"].astype(float))
        for name_, ax, (coords, units) in zip(("depth", "lateral"), axes, dm_cal):
            assert ax["units"] == units
            f = NM_PER[units]
            np.testing.assert_allclose(m.axis(name_), f * _values(ax), rtol=1e-12, atol=1e-12 * f)
            np.testing.assert_allclose(m.axis(name_), f * coords, rtol=1e-12, atol=1e-12 * f)
        assert m.metadata["pixel_nm"] == pytest.approx(NM_PER[axes[1]["units"]] * axes[1]["scale"], rel=1e-12)
        assert m.metadata["pixel_nm"] == pytest.approx(pixel_nm, rel=1e-12)
        assert m.metadata["pixel_A"] == pytest.approx([10 * pixel_nm, 10 * pixel_nm], rel=1e-12)
        assert m.metadata["calibration_source"]["pixel_nm"] == "file"
    _one_line_error(lambda: load_measurement(path, kind="eels"), name, "no eels data")


def test_dm3_image_beam_energy_from_the_voltage_tag(dm):
    path = dm("test_STEM_image.dm3")
    sig, _ = _file(path)
    m = load_measurement(path, require=("energy_eV", "pixel_nm"))
    assert m.metadata["energy_eV"] == _tags(sig)["ImageTags"]["Microscope Info"]["Voltage"] == 2e5
    assert m.metadata["calibration_source"]["energy_eV"] == "file"
    assert (m.axis("depth")[0], m.axis("lateral")[0]) == pytest.approx((42.500000953674316, 51.44736957550049))
    given = load_measurement(path, energy_eV=3e5, pixel_nm=0.1)
    assert given.metadata["energy_eV"] == 3e5 and given.metadata["calibration_source"] == \
        {"pixel_nm": "argument", "energy_eV": "argument"}
    np.testing.assert_allclose(given.axis("lateral"), m.axis("lateral")[0] + 0.1 * np.arange(68))


def test_dm4_sem_image_has_no_tem_beam_energy(dm):
    """An SEM image (Voltage 3 kV, mapped by rosettasciio to Acquisition_instrument.SEM) gives
    no HRTEM beam energy: ``energy_eV`` is None, and requiring it is an error naming it."""
    path = dm("test-MonarcCL_mono-image.dm4")
    sig, _ = _file(path)
    assert _tags(sig)["ImageTags"]["Microscope Info"]["Voltage"] == 3000.0
    m = load_measurement(path)
    assert m.metadata["energy_eV"] is None and "energy_eV" not in m.metadata["calibration_source"]
    err = _one_line_error(lambda: load_measurement(path, require=("energy_eV",)), "energy_eV",
                          "test-MonarcCL_mono-image.dm4", "energy_eV=")
    assert err.field == "energy_eV"
    given = load_measurement(path, energy_eV=3e5, require=("energy_eV",))
    assert given.metadata["energy_eV"] == 3e5 and given.metadata["calibration_source"]["energy_eV"] == "argument"


def test_uncalibrated_dm4_image_needs_pixel_nm(dm):
    path = dm("test-2_2D_float32.dm4")
    sig, axes = _file(path)
    assert [a["units"] for a in axes] == ["", ""]
    for kind in (None, "hrtem"):
        err = _one_line_error(lambda: load_measurement(path, kind=kind), "pixel_nm", "test-2_2D_float32.dm4")
        assert err.field == "pixel_nm"
    m = load_measurement(path, pixel_nm=0.05)
    assert m.metadata["instrument"] == "hrtem" and m.metadata["calibration_source"]["pixel_nm"] == "argument"
    np.testing.assert_allclose(m.axis("depth"), [0.0, 0.05])
    np.testing.assert_allclose(m.axis("lateral"), [0.0, 0.05])
    np.testing.assert_array_equal(m.values, sig["data"].astype(float))
    np.testing.assert_array_equal(m.values, [[1.0, 2.0], [3.0, 4.0]])
    assert m.metadata["energy_eV"] is None
    _one_line_error(lambda: load_measurement(path, pixel_nm=-1.0), "pixel_nm", "> 0")


def test_dm3_image_stack_is_refused_with_a_clear_error(dm):
    path = dm("test_stackbuilder_imagestack.dm3")
    sig, _ = _file(path)
    assert sig["data"].shape == (3, 2, 16)
    _one_line_error(lambda: load_measurement(path), "test_stackbuilder_imagestack.dm3", "kind='eels'",
                    "kind='hrtem'")
    _one_line_error(lambda: load_measurement(path, kind="hrtem", pixel_nm=0.1), "test_stackbuilder_imagestack.dm3",
                    "2-D grayscale")


def test_dm3_eds_spectrum_is_not_auto_detected_as_eels(dm):
    """An X-ray spectrum (signal type EDS_TEM, keV axis) was read as an EELS spectrum in eV."""
    path = dm("test-EDS_spectrum.dm3")
    sig, (ax,) = _file(path)
    assert sig["metadata"]["Signal"]["signal_type"] == "EDS_TEM" and ax["units"] == "keV"
    _one_line_error(lambda: load_measurement(path), "test-EDS_spectrum.dm3")
