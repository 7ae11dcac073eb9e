"""``load_measurement``: the package's own files read back, files from independent writers
(rosettasciio/HyperSpy/exspy, tifffile, a hand-made MRC2014 header), and bad input.

DigitalMicrograph ``.dm3``/``.dm4`` files, written by DigitalMicrograph itself (from
rosettasciio's test data), are tested in ``test_loaders_dm.py``.
"""

import json
import sys
import warnings

import numpy as np
import pytest

import interphase_sim as ip
from interphase_sim import InterphaseInputError, load_measurement
from interphase_sim.core.measurement import Axis, Measurement
from interphase_sim.ndp.io import load_spectrum_csv

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::PendingDeprecationWarning")


def _quiet_import(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip(name)


def _one_line_error(call, *names):
    """The InterphaseInputError ``call`` raises: one line, naming each of ``names``."""
    with pytest.raises(InterphaseInputError) as err:
        call()
    msg = str(err.value)
    assert "\n" not in msg
    for n in names:
        assert str(n) in msg, msg
    return err.value


# -- NDP ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ndp_spectrum():
    return ip.instruments["ndp"].from_stack(ip.samples.load("li_sei_lipon")).simulate(noise=True, seed=1)


def test_ndp_spectrum_csv_round_trip(tmp_path, ndp_spectrum):
    ndp_spectrum.to_csv(tmp_path / "spectrum.csv")
    back = load_measurement(tmp_path / "spectrum.csv")
    assert back.metadata["instrument"] == "ndp" and [a.label for a in back.axes] == ["energy_keV"]
    np.testing.assert_array_equal(back.values, ndp_spectrum.values)
    np.testing.assert_array_equal(back.axis("energy"), ndp_spectrum.axis("energy"))
    np.testing.assert_array_equal(back.uncertainties, ndp_spectrum.uncertainties)


def test_ndp_channels_with_bom_and_header_calibration(tmp_path):
    p = tmp_path / "mca.csv"
    p.write_bytes("\ufeff# exported by an MCA\n# gain_keV = 2.5\n# offset_keV: 10\n# live_s = 3600\n"
                  "channel,counts\n0,1\n1,2\n2,3\n".encode("utf-8"))
    m = load_measurement(p)
    np.testing.assert_allclose(m.axis("energy"), [10.0, 12.5, 15.0])
    assert m.metadata["gain_keV"] == 2.5 and m.metadata["calibration_source"]["offset_keV"] == "header"
    assert m.metadata["header"]["live_s"] == 3600.0
    # arguments replace the header's calibration
    m2 = load_measurement(p, gain_keV=1.0, offset_keV=0.0)
    np.testing.assert_allclose(m2.axis("energy"), [0.0, 1.0, 2.0])
    assert m2.metadata["calibration_source"] == {"gain_keV": "argument", "offset_keV": "argument"}
    # the old entry point reads the header too
    np.testing.assert_allclose(load_spectrum_csv(p).axis("energy"), [10.0, 12.5, 15.0])


def test_ndp_uncalibrated_channels_keep_a_channel_axis(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("channel,counts\n0,1\n1,2\n2,3\n")
    m = load_measurement(p)
    assert [a.name for a in m.axes] == ["channel"] and m.metadata["energy_calibration"] == "unknown"
    m.to_csv(tmp_path / "again.csv")
    np.testing.assert_array_equal(load_measurement(tmp_path / "again.csv").axis("channel"), [0, 1, 2])
    np.testing.assert_allclose(load_measurement(p, gain_keV=2.0, offset_keV=1.0).axis("energy"), [1, 3, 5])
    _one_line_error(lambda: load_measurement(p, gain_keV=2.0), "offset_keV", p)
    _one_line_error(lambda: load_spectrum_csv(p), "gain", p)


def test_not_utf8_csv_is_one_line_error(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("# Zähler\nenergy_keV,counts\n1,2\n".encode("latin-1"))
    _one_line_error(lambda: load_measurement(p), p, "UTF-8")
    _one_line_error(lambda: load_measurement(p, kind="ndp"), p, "UTF-8")


# -- EELS: the package's own files and independent writers ----------------------------------------
@pytest.fixture(scope="module")
def eels_outputs(tmp_path_factory):
    _quiet_import("exspy")
    from interphase_sim.cli.main import main

    tmp = tmp_path_factory.mktemp("eels")
    sample = tmp / "s.toml"
    sample.write_text(ip.samples.text("li_sei_lipon"))
    assert main(["simulate", "eels", str(sample), "--out", str(tmp / "out"), "--noise", "--seed", "1"]) == 0
    scan = ip.instruments["eels"].from_stack(ip.samples.load("li_sei_lipon")).simulate(noise=True, seed=1)
    return tmp / "out", scan


def test_eels_linescan_hspy_and_csv_round_trip(eels_outputs):
    out, scan = eels_outputs
    hspy = load_measurement(out / "linescan.hspy")
    assert hspy.metadata["instrument"] == "eels" and [a.name for a in hspy.axes] == ["depth", "energy"]
    assert [a.units for a in hspy.axes] == ["nm", "eV"]
    np.testing.assert_array_equal(hspy.values, scan.values)
    np.testing.assert_allclose(hspy.axis("depth"), scan.axis("depth"), rtol=1e-12)
    np.testing.assert_allclose(hspy.axis("energy"), scan.axis("energy"), rtol=1e-12)
    for key in ("beam_energy_eV", "convergence_mrad", "collection_mrad"):
        assert hspy.metadata[key] == pytest.approx(scan.metadata[key])
        assert hspy.metadata["calibration_source"][key] == "file"
    csv_ = load_measurement(out / "linescan.csv")
    np.testing.assert_array_equal(csv_.values, scan.values)  # integer counts: exact at 6 digits
    np.testing.assert_allclose(csv_.axis("energy"), scan.axis("energy"), atol=1e-4)
    np.testing.assert_allclose(csv_.axis("depth"), scan.axis("depth"), rtol=1e-5)  # written with 6 digits
    assert csv_.metadata["beam_energy_eV"] is None
    _one_line_error(lambda: load_measurement(out / "linescan.csv", require=("beam_energy_eV",)),
                    "beam_energy_eV", "linescan.csv")
    given = load_measurement(out / "linescan.csv", beam_energy_eV=3e5, require=("beam_energy_eV",))
    assert given.metadata["beam_energy_eV"] == 3e5
    assert given.metadata["calibration_source"]["beam_energy_eV"] == "argument"


def test_eels_single_spectrum_csv(tmp_path):
    m = Measurement(np.array([3.0, 4.0, 5.0]), [Axis("energy", "eV", np.array([-1.0, 0.0, 1.0]))])
    m.to_csv(tmp_path / "spectrum.csv")
    back = load_measurement(tmp_path / "spectrum.csv")
    assert back.metadata["instrument"] == "eels"
    np.testing.assert_array_equal(back.axis("energy"), [-1.0, 0.0, 1.0])


def _eels_signal(data, axes, beam_keV=None, angles=None):
    exspy = _quiet_import("exspy")
    s = exspy.signals.EELSSpectrum(np.asarray(data, dtype=float))
    for ax, (name, units, offset, scale) in zip(s.axes_manager._axes, axes):
        ax.name, ax.units, ax.offset, ax.scale = name, units, offset, scale
    if beam_keV is not None:
        s.set_microscope_parameters(beam_energy=beam_keV, convergence_angle=angles[0], collection_angle=angles[1])
    return s


def test_low_loss_msa_written_by_rosettasciio(tmp_path):
    rng = np.random.default_rng(0)
    s = _eels_signal(rng.poisson(50, 200), [("Energy loss", "eV", -10.0, 0.25)], beam_keV=200, angles=(12.0, 25.0))
    s.save(tmp_path / "lowloss.msa")
    m = load_measurement(tmp_path / "lowloss.msa")
    assert m.metadata["instrument"] == "eels" and m.axes[0].units == "eV"
    np.testing.assert_allclose(m.axis("energy"), -10.0 + 0.25 * np.arange(200))
    np.testing.assert_allclose(m.values, s.data)
    assert (m.metadata["beam_energy_eV"], m.metadata["convergence_mrad"], m.metadata["collection_mrad"]) == \
        pytest.approx((2e5, 12.0, 25.0))
    # keyword values replace the file's
    assert load_measurement(tmp_path / "lowloss.msa", beam_energy_eV=3e5).metadata["beam_energy_eV"] == 3e5


def test_line_scan_and_spectrum_image_hspy_with_unit_conversion(tmp_path):
    data = np.arange(4 * 30, dtype=float).reshape(4, 30)
    s = _eels_signal(data, [("x", "µm", 0.5, 0.002), ("Energy loss", "keV", 0.1, 0.0005)], beam_keV=300,
                     angles=(10.0, 20.0))
    s.save(tmp_path / "scan.hspy")
    m = load_measurement(tmp_path / "scan.hspy")
    assert [a.name for a in m.axes] == ["depth", "energy"]
    np.testing.assert_allclose(m.axis("depth"), 500.0 + 2.0 * np.arange(4))
    np.testing.assert_allclose(m.axis("energy"), 100.0 + 0.5 * np.arange(30))
    np.testing.assert_array_equal(m.values, data)
    cube = np.random.default_rng(1).random((3, 5, 20))
    si = _eels_signal(cube, [("y", "nm", 0.0, 1.5), ("x", "nm", 0.0, 0.5), ("Energy loss", "eV", 400.0, 1.0)])
    si.save(tmp_path / "si.hspy")
    m3 = load_measurement(tmp_path / "si.hspy")
    assert [a.name for a in m3.axes] == ["depth", "lateral", "energy"] and m3.values.shape == (3, 5, 20)
    np.testing.assert_allclose(m3.axis("depth"), [0.0, 1.5, 3.0])
    np.testing.assert_allclose(m3.values, cube)
    assert m3.metadata["beam_energy_eV"] is None
    _one_line_error(lambda: load_measurement(tmp_path / "si.hspy", require=["beam_energy_eV"]), "si.hspy",
                    "beam_energy_eV=")


def test_uncalibrated_hspy_needs_energy_and_step(tmp_path):
    _eels_signal(np.ones((3, 10)), []).save(tmp_path / "raw.hspy")
    _one_line_error(lambda: load_measurement(tmp_path / "raw.hspy"), "raw.hspy", "dispersion_eV")
    _one_line_error(lambda: load_measurement(tmp_path / "raw.hspy", offset_eV=5.0, dispersion_eV=0.5),
                    "raw.hspy", "step_nm")
    m = load_measurement(tmp_path / "raw.hspy", offset_eV=5.0, dispersion_eV=0.5, step_nm=2.0)
    np.testing.assert_allclose(m.axis("energy"), 5.0 + 0.5 * np.arange(10))
    np.testing.assert_allclose(m.axis("depth"), [0.0, 2.0, 4.0])


def test_emd_written_by_rosettasciio_holds_eels_or_image(tmp_path):
    hs = _quiet_import("hyperspy.api")
    _eels_signal(np.ones((6, 50)), [("depth", "nm", 1.0, 0.5), ("Energy loss", "eV", 100.0, 0.25)]).save(
        tmp_path / "scan.emd")
    m = load_measurement(tmp_path / "scan.emd", beam_energy_eV=2e5)
    assert m.metadata["instrument"] == "eels" and m.values.shape == (6, 50)
    np.testing.assert_allclose(m.axis("energy"), 100.0 + 0.25 * np.arange(50))
    img = hs.signals.Signal2D(np.random.default_rng(2).random((8, 6)))
    for ax in img.axes_manager.signal_axes:
        ax.units, ax.scale = "nm", 0.02
    img.save(tmp_path / "image.emd")
    im = load_measurement(tmp_path / "image.emd")
    assert im.metadata["instrument"] == "hrtem" and im.metadata["pixel_nm"] == pytest.approx(0.02)
    np.testing.assert_allclose(im.values, img.data)


# -- HRTEM -----------------------------------------------------------------------------------------
SMALL_HRTEM = """
[sample]
name = "LiPON | Li"

[[layers]]
name = "LiPON"
thickness_nm = 4
phases = { LiPON = 1.0 }

[[layers]]
name = "Li"
thickness_nm = "inf"
phases = { Li = 1.0 }

[hrtem]
lateral_nm = 3.0
thickness_nm = 1.0
sampling_A = 0.5
depth_range_nm = [2.0, 6.0]
seed = 2
"""


def test_hrtem_image_tiff_from_the_cli_round_trip(tmp_path):
    from interphase_sim.cli.main import main

    (tmp_path / "s.toml").write_text(SMALL_HRTEM)
    assert main(["simulate", "hrtem", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    m = load_measurement(tmp_path / "out" / "image.tiff")
    meta = json.loads((tmp_path / "out" / "hrtem_settings.json").read_text())
    assert m.metadata["instrument"] == "hrtem" and [a.label for a in m.axes] == ["depth_nm", "lateral_nm"]
    assert m.metadata["pixel_nm"] == pytest.approx(0.05) and m.metadata["pixel_source"] == "description"
    assert m.axis("depth")[0] == pytest.approx(2.0) and m.axis("lateral")[0] == 0.0
    assert m.metadata["energy_eV"] == pytest.approx(meta.get("energy_eV", 3e5))
    assert m.values.dtype == float and m.values.ndim == 2


def test_hrtem_tiff_written_by_write_tiff_and_pillow_fallback(tmp_path, monkeypatch):
    from interphase_sim.core.fileio import write_tiff

    rng = np.random.default_rng(3)
    img = Measurement(rng.random((12, 10)), [Axis("depth", "nm", 7.5 + 0.0517 * np.arange(12)),
                                             Axis("lateral", "nm", 0.0517 * np.arange(10))], quantity="intensity")
    write_tiff(tmp_path / "image.tiff", img.values, 0.0517,
               description="interphase_sim HRTEM demo; depth from 7.500 nm; defocus -120.0 A; 200 kV")
    for fallback in (False, True):
        if fallback:
            monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile -> ImportError: Pillow reads
        m = load_measurement(tmp_path / "image.tiff")
        np.testing.assert_array_equal(m.values, img.values.astype(np.float32))
        for name in ("depth", "lateral"):
            np.testing.assert_allclose(m.axis(name), img.axis(name), rtol=1e-12)
        assert m.metadata["energy_eV"] == 2e5 and m.metadata["defocus_A"] == -120.0


def test_tiffs_written_by_tifffile_with_resolution_tags(tmp_path):
    tifffile = _quiet_import("tifffile")
    a = np.random.default_rng(4).random((5, 4)).astype(np.float32)
    # resolution is (x, y) pixels per unit: x -> lateral, y -> depth
    tifffile.imwrite(tmp_path / "cm.tif", a, resolution=(1e7 / 0.02, 1e7 / 0.03), resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "ij.tif", a, imagej=True, resolution=(1 / 0.002, 1 / 0.002), metadata={"unit": "um"})
    m = load_measurement(tmp_path / "cm.tif")
    np.testing.assert_allclose(m.axis("lateral"), 0.02 * np.arange(4))
    np.testing.assert_allclose(m.axis("depth"), 0.03 * np.arange(5))
    np.testing.assert_array_equal(m.values, a)
    assert load_measurement(tmp_path / "ij.tif").metadata["pixel_nm"] == pytest.approx(2.0)
    # no calibration (or only a print resolution in dpi): the pixel size must be given
    tifffile.imwrite(tmp_path / "plain.tif", a)
    tifffile.imwrite(tmp_path / "dpi.tif", a, resolution=(72, 72), resolutionunit="INCH")
    for name in ("plain.tif", "dpi.tif"):
        _one_line_error(lambda: load_measurement(tmp_path / name), name, "pixel_nm")
        given = load_measurement(tmp_path / name, pixel_nm=0.1)
        np.testing.assert_allclose(given.axis("depth"), 0.1 * np.arange(5))
        assert given.metadata["calibration_source"]["pixel_nm"] == "argument"
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((5, 4, 3), np.uint8))
    _one_line_error(lambda: load_measurement(tmp_path / "rgb.tif", pixel_nm=0.1), "rgb.tif", "grayscale")


def _write_mrc(path, img, pixel_A):
    """A standard MRC2014 file: 1024-byte header (mode 2, float32), no extended header."""
    ny, nx = img.shape
    head = np.zeros(256, dtype="<i4")
    f = head.view("<f4")
    head[0:4] = nx, ny, 1, 2  # NX, NY, NZ, MODE
    head[7:10] = nx, ny, 1  # MX, MY, MZ
    f[10:13] = nx * pixel_A[0], ny * pixel_A[1], pixel_A[0]  # cell (Å)
    f[13:16] = 90.0
    head[16:19] = 1, 2, 3  # MAPC, MAPR, MAPS
    f[19:22] = img.min(), img.max(), img.mean()
    head[27] = 20140  # NVERSION
    raw = bytearray(head.tobytes())
    raw[208:212] = b"MAP "
    raw[212:216] = bytes([0x44, 0x44, 0, 0])  # little-endian stamp
    path.write_bytes(bytes(raw) + np.ascontiguousarray(img, dtype="<f4").tobytes())


def test_mrc_written_with_numpy(tmp_path):
    img = np.random.default_rng(5).random((6, 8)).astype(np.float32)
    _write_mrc(tmp_path / "image.mrc", img, (0.5, 0.8))  # Å: x (lateral), y (depth)
    m = load_measurement(tmp_path / "image.mrc")
    assert m.metadata["instrument"] == "hrtem" and m.values.shape == (6, 8)
    np.testing.assert_array_equal(m.values, img)
    np.testing.assert_allclose(m.axis("lateral"), 0.05 * np.arange(8), rtol=1e-6)
    np.testing.assert_allclose(m.axis("depth"), 0.08 * np.arange(6), rtol=1e-6)
    _write_mrc(tmp_path / "nocell.mrc", img, (0.0, 0.0))
    _one_line_error(lambda: load_measurement(tmp_path / "nocell.mrc"), "nocell.mrc", "pixel_nm")
    assert load_measurement(tmp_path / "nocell.mrc", pixel_nm=0.1).metadata["pixel_nm"] == 0.1


def test_hrtem_hspy_from_to_hyperspy_signal(tmp_path):
    _quiet_import("hyperspy.api")
    from interphase_sim.hrtem.model import to_hyperspy_signal

    img = Measurement(np.random.default_rng(6).random((5, 7)), [Axis("depth", "nm", 3.0 + 0.04 * np.arange(5)),
                                                               Axis("lateral", "nm", 0.04 * np.arange(7))],
                      metadata={"energy_eV": 3e5})
    to_hyperspy_signal(img).save(tmp_path / "image.hspy")
    m = load_measurement(tmp_path / "image.hspy")
    assert m.metadata["instrument"] == "hrtem" and m.metadata["energy_eV"] == pytest.approx(3e5)
    np.testing.assert_allclose(m.values, img.values)
    for name in ("depth", "lateral"):
        np.testing.assert_allclose(m.axis(name), img.axis(name), rtol=1e-12)


# -- bad input --------------------------------------------------------------------------------------
def test_unknown_extension_kind_and_keyword(tmp_path):
    p = tmp_path / "data.xyz"
    p.write_text("1,2\n")
    msg = str(_one_line_error(lambda: load_measurement(p), p, ".xyz", ".csv", ".tiff", ".msa"))
    assert "ndp" in msg and "hrtem" in msg
    t = tmp_path / "a.tif"
    t.write_bytes(b"")
    _one_line_error(lambda: load_measurement(t, kind="eels"), t, "eels")
    _one_line_error(lambda: load_measurement(t, kind="xrd"), "xrd", "ndp")
    c = tmp_path / "s.csv"
    c.write_text("energy_keV,counts\n1,2\n")
    _one_line_error(lambda: load_measurement(c, pixel_nm=0.1), "pixel_nm", "gain_keV", c)
    _one_line_error(lambda: load_measurement(tmp_path / "missing.csv"), "missing.csv", "no such file")
    (tmp_path / "odd.csv").write_text("x,y\n1,2\n")
    _one_line_error(lambda: load_measurement(tmp_path / "odd.csv"), "odd.csv", "energy_keV")


def test_corrupt_binary_files_are_one_line_errors(tmp_path):
    for name in ("broken.hspy", "broken.tiff", "broken.mrc", "broken.emd"):
        (tmp_path / name).write_bytes(b"not really\nthat format\x00\x01")
        _one_line_error(lambda: load_measurement(tmp_path / name), name)


# -- xarray ---------------------------------------------------------------------------------------
def test_from_xarray_inverts_to_xarray_with_nested_metadata(tmp_path, ndp_spectrum):
    back = Measurement.from_xarray(ndp_spectrum.to_xarray())
    assert back.metadata == json.loads(json.dumps(ndp_spectrum.metadata, default=str))
    assert isinstance(back.metadata["settings"], dict) and back.metadata["settings"]
    assert back.quantity == ndp_spectrum.quantity and [a.label for a in back.axes] == ["energy_keV"]
    np.testing.assert_array_equal(back.values, ndp_spectrum.values)
    np.testing.assert_array_equal(back.uncertainties, ndp_spectrum.uncertainties)
    m = Measurement(np.arange(6.0).reshape(2, 3), [Axis("depth", "nm", np.array([0.0, 1.0])),
                                                  Axis("energy", "eV", np.array([1.0, 2.0, 3.0]))],
                    metadata={"beam_energy_eV": 3e5, "nested": {"a": [1, 2], "b": {"c": None}}}, quantity="counts")
    da = m.to_xarray()
    assert da.attrs["beam_energy_eV"] == 3e5  # scalars stay plain attrs
    back2 = Measurement.from_xarray(da)
    assert back2.metadata == m.metadata and back2.uncertainties is None
    np.testing.assert_array_equal(back2.axis("energy"), [1.0, 2.0, 3.0])
    # a DataArray from elsewhere: attrs become the metadata, a dimension without coordinate is indices
    xr = pytest.importorskip("xarray")
    plain = Measurement.from_xarray(xr.DataArray(np.ones((2, 2)), dims=("depth", "lateral"), attrs={"pixel_nm": 0.1}))
    assert plain.metadata == {"pixel_nm": 0.1} and plain.axes[0].units == ""


def test_rosettasciio_metadata_mapping_as_for_digitalmicrograph():
    """.dm3/.dm4 cannot be written here: the step after rosettasciio's reader is tested on
    a dictionary shaped like its DigitalMicrograph output (mapping from tag paths with spaces)."""
    from interphase_sim.eels.io import eels_from_signal
    from interphase_sim.core.readers import apply_mapping, signal_kind

    tags = "ImageList.TagGroup0.ImageTags"
    sig = {"data": np.ones((2, 4)),
           "axes": [{"name": "x", "units": "µm", "offset": 0.0, "scale": 0.01, "size": 2, "navigate": True},
                    {"name": "Energy loss", "units": "eV", "offset": 280.0, "scale": 0.5, "size": 4,
                     "navigate": False}],
           "metadata": {"General": {"title": "EELS Spectrum Image"}},
           "original_metadata": {"ImageList": {"TagGroup0": {"ImageTags": {
               "Microscope Info": {"Voltage": 200000.0},
               "EELS": {"Experimental Conditions": {"Collection semi-angle (mrad)": 30.0}}}}}},
           "mapping": {f"{tags}.Microscope Info.Voltage": ("Acquisition_instrument.TEM.beam_energy", lambda v: v / 1e3),
                       f"{tags}.EELS.Experimental_Conditions.Collection_semi-angle_(mrad)":
                           ("Acquisition_instrument.TEM.Detector.EELS.collection_angle", None),
                       f"{tags}.Not.There": ("General.nothing", None)}}
    sig["metadata"] = apply_mapping(sig)
    assert sig["metadata"]["Acquisition_instrument"]["TEM"]["beam_energy"] == 200.0
    assert signal_kind(sig) == "eels"
    values, axes, md, _ = eels_from_signal(sig, "scan.dm4")
    np.testing.assert_allclose(axes[0].values, [0.0, 10.0])  # µm -> nm
    assert md["_file_beam_energy_eV"] == 2e5 and md["_file_collection_mrad"] == 30.0
    image = {"data": np.ones((3, 3)), "axes": [{"units": "nm", "scale": 0.1, "offset": 0.0, "size": 3,
                                                "navigate": False}] * 2, "metadata": {}}
    assert signal_kind(image) == "hrtem"
