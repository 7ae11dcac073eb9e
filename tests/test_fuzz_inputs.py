"""A fuzz corpus for the command line (2 of 2): broken spectra, data files and arguments,
each held to :func:`fuzz.refused`'s contract (exit status 2, one line naming the field,
nothing in ``--out``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from interphase_sim import samples

from fuzz import INF, LI, LNMO, NAN, base_doc, command, refused, run_cli, set_key, write_doc

# --------------------------------------------------------------------------- measured data files

BOM = b"\xef\xbb\xbf"
#: NDP spectra that `fit --data ndp=...` and `ndp-depth` must refuse, as bytes.
NDP_CSV = {
    "no-counts-column": b"energy_keV,cnts\n100,1\n200,2\n",
    "no-energy-column": b"e,counts\n100,1\n200,2\n",
    "semicolons": b"energy_keV;counts\n100;1\n200;2\n",
    "text-in-counts": b"energy_keV,counts\n100,1\n200,lots\n",
    "text-in-energy": b"energy_keV,counts\n100,1\nhigh,2\n",
    "nan-counts": b"energy_keV,counts\n100,1\n200,nan\n",
    "inf-counts": b"energy_keV,counts\n100,1\n200,inf\n",
    "nan-energy": b"energy_keV,counts\n100,1\nnan,2\n",
    "negative-counts": b"energy_keV,counts\n100,1\n200,-4\n",
    "decreasing-energy": b"energy_keV,counts\n300,1\n200,2\n100,3\n",
    "repeated-energy": b"energy_keV,counts\n100,1\n100,2\n",
    "bom-then-negative-counts": BOM + b"energy_keV,counts\n100,1\n200,-4\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00garbage",
    "empty": b"",
    "blank-lines": b"\n   \n\n",
    "comments-only": b"# gain_keV = 3\n",
    "header-only": b"energy_keV,counts\n",
    "one-row": b"energy_keV,counts\n1500,7\n",
    "short-row": b"energy_keV,counts\n100,1\n200\n",
    "eV-labelled-keV": b"energy_keV,counts\n" + b"".join(b"%d,5\n" % (e * 1000) for e in range(100, 2800, 300)),
    "channel-without-calibration": b"channel,counts\n0,1\n1,2\n2,3\n",
    "channel-with-half-calibration": b"# offset_keV = 10\nchannel,counts\n0,1\n1,2\n2,3\n",
    "channel-with-text-gain": b"# gain_keV = three\n# offset_keV = 0\nchannel,counts\n0,1\n1,2\n",
    "channel-with-negative-gain": b"# gain_keV = -3\n# offset_keV = 0\nchannel,counts\n0,1\n1,2\n",
    "negative-uncertainty": b"energy_keV,counts,uncertainty\n100,1,1\n200,4,-2\n",
    "nan-uncertainty": b"energy_keV,counts,uncertainty\n100,1,1\n200,4,nan\n",
}
#: ... and the NDP spectra only the fit refuses (a depth profile of them is a result).
NDP_CSV_FIT = {
    "all-zero-counts": b"energy_keV,counts\n" + b"".join(b"%d,0\n" % e for e in range(150, 2800, 3)),
}


def _data(tmp_path: Path, content: bytes, name: str = "spectrum.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", NDP_CSV)
def test_ndp_depth_refuses_a_broken_spectrum(tmp_path, capsys, case):
    path, out = _data(tmp_path, NDP_CSV[case]), tmp_path / "out"
    refused(["ndp-depth", path, "--matrix", "LiPON", "--out", out], capsys, out, str(path))


@pytest.mark.parametrize("case", {**NDP_CSV, **NDP_CSV_FIT})
def test_fit_refuses_a_broken_ndp_spectrum(tmp_path, capsys, case):
    path, out = _data(tmp_path, {**NDP_CSV, **NDP_CSV_FIT}[case]), tmp_path / "out"
    out.mkdir()  # an existing, empty --out stays empty
    refused(["fit", LI, "--data", f"ndp={path}", "--out", out], capsys, out, str(path))


EELS_CSV = {
    "header-not-numbers": b"position_nm,a,b\n0,1,2\n1,3,4\n",
    "unknown-first-column": b"x_nm,100,101\n0,1,2\n1,3,4\n",
    "decreasing-energies": b"position_nm,101,100,99\n0,1,2,3\n1,3,4,5\n",
    "decreasing-positions": b"position_nm,100,101,102\n1,1,2,3\n0,3,4,5\n",
    "nan-counts": b"position_nm,100,101,102\n0,1,nan,3\n1,3,4,5\n",
    "text-counts": b"position_nm,100,101,102\n0,1,many,3\n1,3,4,5\n",
    "unequal-rows": b"position_nm,100,101,102\n0,1,2,3\n1,3,4\n",
    "header-only": b"position_nm,100,101,102\n",
    "empty": b"",
    "binary": b"\x00\x01\x02\xff\xfe\xfd" * 20,
    "spectrum-text": b"energy_eV,counts\n100,1\n101,two\n",
    "spectrum-decreasing": b"energy_eV,counts\n101,1\n100,2\n",
    "spectrum-nan-energy": b"energy_eV,counts\nnan,1\n100,2\n",
    "all-zero": b"position_nm,100,101,102\n0,0,0,0\n1,0,0,0\n",
    "negative-counts": b"position_nm,100,101,102\n0,5,-2,3\n1,3,4,5\n",
    "inf-counts": b"position_nm,100,101,102\n0,5,inf,3\n1,3,4,5\n",
    "one-channel": b"position_nm,100\n0,5\n1,6\n",
    "bom-then-nan": BOM + b"position_nm,100,101,102\n0,1,nan,3\n1,3,4,5\n",
}


@pytest.mark.parametrize("case", EELS_CSV)
def test_fit_refuses_a_broken_eels_line_scan(tmp_path, capsys, case):
    path, out = _data(tmp_path, EELS_CSV[case], "linescan.csv"), tmp_path / "out"
    refused(["fit", LI, "--data", f"eels={path}", "--out", out], capsys, out, str(path))


BAD_FILES = {
    "missing-ndp": ("ndp", "nosuch.csv", None),
    "missing-eels": ("eels", "nosuch.hspy", None),
    "missing-hrtem": ("hrtem", "nosuch.tif", None),
    "folder": ("ndp", "folder.csv", "dir"),  # "is a folder", not "no such file"
    "unknown-extension": ("ndp", "spectrum.txt", b"energy_keV,counts\n100,1\n200,2\n"),
    "garbage-tiff": ("hrtem", "image.tif", b"II*\x00garbage" * 4),
    "png-image": ("hrtem", "image.png", b"\x89PNG\r\n\x1a\n"),
    "garbage-hspy": ("eels", "scan.hspy", b"\x89HDF\r\n\x1a\nnope"),
    "garbage-msa": ("eels", "spectrum.msa", b"#FORMAT : EMSA/MAS Spectral Data File\n#NPOINTS : x\n"),
    "ndp-spectrum-as-eels": ("eels", "spectrum.csv", b"energy_keV,counts\n100,1\n200,2\n"),
    "eels-scan-as-ndp": ("ndp", "scan.csv", b"position_nm,100,101\n0,1,2\n1,3,4\n"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_fit_refuses_a_missing_or_unreadable_data_file(tmp_path, capsys, case):
    kind, name, content = BAD_FILES[case]
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    out = tmp_path / "out"
    refused(["fit", LI, "--data", f"{kind}={path}", "--out", out], capsys, out, str(path),
            pattern="is a folder" if content == "dir" else None)


# --------------------------------------------------------------------------- arguments

SPECTRUM = b"energy_keV,counts\n" + b"".join(b"%d,%d\n" % (e, 5 + e % 7) for e in range(0, 3072, 3))  # the [ndp] axis
SIM_NDP = ["simulate", "ndp", LI]
FIT_NDP = ["fit", LI, "--data", "ndp={spectrum}"]
DEPTH = ["ndp-depth", "{spectrum}", "--matrix", "LiPON"]
#: (argv before --out, any one of these must be in the error line)
ARGUMENT_CASES = {
    "seed-negative": ([*SIM_NDP, "--noise", "--seed", "-1"], ["--seed"]),
    "seed-float": ([*SIM_NDP, "--noise", "--seed", "1.5"], ["--seed"]),
    "seed-huge": ([*SIM_NDP, "--noise", "--seed", str(2**64)], ["--seed"]),
    "seed-text": ([*SIM_NDP, "--noise", "--seed", "abc"], ["--seed"]),
    "seed-without-noise": ([*SIM_NDP, "--seed", "3"], ["--seed"]),
    "eels-seed-negative": (["simulate", "eels", LI, "--noise", "--seed", "-7"], ["--seed"]),
    "hrtem-seed-huge": (["simulate", "hrtem", LI, "--seed", str(2**63)], ["--seed"]),
    "build-seed-float": (["build", LI, "--seed", "0.5"], ["--seed"]),
    "fit-seed-negative": ([*FIT_NDP, "--seed", "-2"], ["--seed"]),
    "sweep-seed-huge": (["sweep", LI, "--seed", str(2**70)], ["--seed"]),
    "max-memory-negative": ([*SIM_NDP, "--max-memory-gb", "-1"], ["--max-memory-gb"]),
    "max-memory-nan": ([*SIM_NDP, "--max-memory-gb", "nan"], ["--max-memory-gb"]),
    "max-output-zero": ([*SIM_NDP, "--max-output-gb", "0"], ["--max-output-gb"]),
    "lateral-zero": (["build", LI, "--lateral-nm", "0", "5"], ["--lateral-nm"]),
    "lateral-negative": (["build", LI, "--lateral-nm", "-3", "5"], ["--lateral-nm"]),
    "lateral-one-number": (["build", LI, "--lateral-nm", "5"], ["--lateral-nm"]),
    "lateral-nan": (["build", LI, "--lateral-nm", "nan", "5"], ["--lateral-nm"]),
    "lateral-text": (["build", LI, "--lateral-nm", "wide", "5"], ["--lateral-nm"]),
    "depth-range-reversed": (["build", LI, "--depth-range-nm", "10", "5"], ["--depth-range-nm"]),
    "depth-range-equal": (["build", LI, "--depth-range-nm", "10", "10"], ["--depth-range-nm"]),
    "depth-range-inf": (["build", LI, "--depth-range-nm", "0", "inf"], ["--depth-range-nm"]),
    "depth-range-beyond-stack": (["build", LI, "--depth-range-nm", "1e8", "2e8"], ["--depth-range-nm"]),
    "max-depth-zero": (["build", LI, "--max-depth-nm", "0"], ["--max-depth-nm"]),
    "semi-infinite-negative": (["build", LI, "--semi-infinite-nm", "-1"], ["--semi-infinite-nm"]),
    "max-atoms-zero": (["build", LI, "--max-atoms", "0"], ["--max-atoms"]),
    "max-atoms-too-few": (["build", LI, "--max-atoms", "10"], ["--max-atoms"]),
    "formats-unknown": (["build", LI, "--formats", "xyz"], ["--formats"]),
    "formats-cif-too-big": (["build", LI, "--formats", "cif"], ["cif", "--formats"]),
    "hrtem-lateral-zero": (["simulate", "hrtem", LI, "--lateral-nm", "0"], ["--lateral-nm"]),
    "hrtem-thickness-negative": (["simulate", "hrtem", LI, "--thickness-nm", "-5"], ["--thickness-nm"]),
    "hrtem-sampling-zero": (["simulate", "hrtem", LI, "--sampling-A", "0"], ["--sampling-A"]),
    "hrtem-dose-negative": (["simulate", "hrtem", LI, "--dose", "-1"], ["--dose"]),
    "hrtem-defocus-huge": (["simulate", "hrtem", LI, "--defocus-A", "1e9"], ["--defocus-A"]),
    "hrtem-depth-range-reversed": (["simulate", "hrtem", LI, "--depth-range-nm", "10", "5"], ["--depth-range-nm"]),
    "hrtem-device-unknown": (["simulate", "hrtem", LI, "--device", "tpu"], ["--device"]),
    "data-without-equals": (["fit", LI, "--data", "spectrum.csv"], ["--data"]),
    "data-empty-path": (["fit", LI, "--data", "ndp="], ["--data"]),
    "data-unknown-kind": (["fit", LI, "--data", "xps={spectrum}"], ["--data"]),
    "data-missing-file": (["fit", LI, "--data", "ndp=nosuch.csv"], ["nosuch.csv"]),
    "fit-without-data": (["fit", LI], ["fit.data", "--data"]),
    "method-unknown": ([*FIT_NDP, "--method", "newton"], ["--method"]),
    "nwalkers-zero": ([*FIT_NDP, "--posterior", "--nwalkers", "0"], ["--nwalkers"]),
    "nwalkers-negative": ([*FIT_NDP, "--nwalkers", "-4"], ["--nwalkers"]),
    "nwalkers-float": ([*FIT_NDP, "--nwalkers", "3.5"], ["--nwalkers"]),
    "nsteps-negative": ([*FIT_NDP, "--posterior", "--nsteps", "-1"], ["--nsteps"]),
    "nsteps-zero": ([*FIT_NDP, "--nsteps", "0"], ["--nsteps"]),
    "energy-min-negative": ([*FIT_NDP, "--energy-min-keV", "-5"], ["--energy-min-keV"]),
    "energy-max-nan": ([*FIT_NDP, "--energy-max-keV", "nan"], ["--energy-max-keV"]),
    "energy-window-reversed": ([*FIT_NDP, "--energy-min-keV", "2000", "--energy-max-keV", "500"],
                               ["--energy-min-keV", "--energy-max-keV"]),
    "fit-gain-negative": ([*FIT_NDP, "--gain-keV", "-3"], ["--gain-keV"]),
    "fit-gain-nan": ([*FIT_NDP, "--gain-keV", "nan"], ["--gain-keV"]),
    "fit-offset-inf": ([*FIT_NDP, "--gain-keV", "3", "--offset-keV", "inf"], ["--offset-keV"]),
    "sweep-samples-zero": (["sweep", LI, "--samples", "0"], ["--samples"]),
    "sweep-samples-negative": (["sweep", LI, "--samples", "-5"], ["--samples"]),
    "sweep-batch-size-zero": (["sweep", LI, "--samples", "4", "--batch-size", "0"], ["--batch-size"]),
    "sweep-workers-zero": (["sweep", LI, "--workers", "0"], ["--workers"]),
    "sweep-two-samples": (["sweep", LI, LNMO], ["sweep"]),
    "sweep-no-parameters": (["sweep", LI, "--samples", "4"], ["sweep.parameters"]),
    "depth-gain-negative": (["ndp-depth", "{channels}", "--matrix", "LiPON", "--gain-keV", "-3"], ["--gain-keV"]),
    "depth-gain-zero": (["ndp-depth", "{channels}", "--matrix", "LiPON", "--gain-keV", "0"], ["--gain-keV"]),
    "depth-offset-nan": (["ndp-depth", "{channels}", "--matrix", "LiPON", "--gain-keV", "3", "--offset-keV", "nan"],
                         ["--offset-keV"]),
    "depth-channels-uncalibrated": (["ndp-depth", "{channels}", "--matrix", "LiPON"], ["--gain-keV"]),
    "depth-matrix-unknown": (["ndp-depth", "{spectrum}", "--matrix", "LiPONx"], ["--matrix"]),
    "depth-particle-unknown": ([*DEPTH, "--particle", "proton"], ["--particle"]),
    "depth-species-unknown": ([*DEPTH, "--species", "7Li"], ["--species"]),
    "depth-li-without-abundance": ([*DEPTH, "--species", "Li"], ["--li6-abundance"]),
    "depth-li6-above-one": ([*DEPTH, "--species", "Li", "--li6-abundance", "2"], ["--li6-abundance"]),
    "depth-fluence-zero": ([*DEPTH, "--fluence", "0"], ["--fluence"]),
    "depth-fluence-inf": ([*DEPTH, "--fluence", "inf"], ["--fluence"]),
    "depth-area-negative": ([*DEPTH, "--area-cm2", "-1"], ["--area-cm2"]),
    "depth-background-negative": ([*DEPTH, "--background", "-1"], ["--background"]),
    "depth-cutoff-negative": ([*DEPTH, "--cutoff-keV", "-10"], ["--cutoff-keV"]),
    "depth-angle-95": ([*DEPTH, "--detector-angle-deg", "95"], ["--detector-angle-deg"]),
    "depth-acceptance-zero": ([*DEPTH, "--acceptance-half-angle-deg", "0"], ["--acceptance-half-angle-deg"]),
    "depth-cone-grazing": ([*DEPTH, "--detector-angle-deg", "80", "--acceptance-half-angle-deg", "20"],
                           ["--acceptance-half-angle-deg", "--detector-angle-deg"]),
    "depth-dead-layer-unknown": ([*DEPTH, "--dead-layer", "Siliconx", "10"], ["--dead-layer"]),
    "depth-dead-layer-negative": ([*DEPTH, "--dead-layer", "Si", "-5"], ["--dead-layer"]),
    "depth-dead-layer-text": ([*DEPTH, "--dead-layer", "Si", "thin"], ["--dead-layer"]),
    "depth-settings-missing": ([*DEPTH, "--settings", "nosuch.toml"], ["nosuch.toml", "--settings"]),
    "depth-settings-folder": ([*DEPTH, "--settings", "."], ["--settings"]),
    "depth-spectrum-missing": (["ndp-depth", "nosuch.csv", "--matrix", "LiPON"], ["nosuch.csv"]),
    "depth-no-matrix": (["ndp-depth", "{spectrum}"], ["--matrix"]),
    "sample-missing": (["simulate", "ndp", "nosuch.toml"], ["nosuch.toml"]),
    "sample-shipped-typo": (["simulate", "ndp", "li_sei_lipn"], ["li_sei_lipn"]),
    "instrument-unknown": (["simulate", "xps", LI], ["xps"]),
}


def _fill(argv: list, tmp_path: Path) -> list[str]:
    spectrum = _data(tmp_path, SPECTRUM)
    channels = _data(tmp_path, b"channel,counts\n" + b"".join(b"%d,5\n" % c for c in range(900)), "channels.csv")
    return [str(a).format(spectrum=spectrum, channels=channels) for a in argv]


@pytest.mark.parametrize("argv, names", ARGUMENT_CASES.values(), ids=ARGUMENT_CASES.keys())
def test_bad_arguments(tmp_path, capsys, monkeypatch, argv, names):
    monkeypatch.chdir(tmp_path)  # relative names (nosuch.csv) resolve here
    out = tmp_path / "out"
    refused([*_fill(argv, tmp_path), "--out", out], capsys, out, *names)


@pytest.mark.parametrize("argv", [SIM_NDP, ["build", LI], DEPTH, FIT_NDP], ids=["simulate", "build", "ndp-depth", "fit"])
def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, lines = run_cli([*_fill(argv, tmp_path), "--out", ""], capsys)
    assert code == 2 and len(lines) == 1 and "--out" in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["channels.csv", "spectrum.csv"]


SWEEPABLE = {"samples": 2, "instruments": ["ndp"],
             "parameters": {"SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 50}}}


@pytest.mark.parametrize("argv", [SIM_NDP, ["build", LI], DEPTH, FIT_NDP, ["sweep", "{sweepable}"]],
                         ids=["simulate", "build", "ndp-depth", "fit", "sweep"])
def test_an_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys, argv):
    out = tmp_path / "results"
    out.write_text("mine\n")
    sweepable = write_doc(tmp_path, {**base_doc(), "sweep": SWEEPABLE}, "sweep.toml")
    argv = [str(a).replace("{sweepable}", str(sweepable)) for a in argv]
    code, lines = run_cli([*_fill(argv, tmp_path), "--out", out], capsys)
    assert code == 2 and len(lines) == 1 and "--out" in lines[0] and "is a file" in lines[0], lines
    assert out.read_text() == "mine\n"


@pytest.mark.parametrize("name", ["nosuch", "li_sei", "", "../li_sei_lipon"])
def test_samples_show_an_unknown_name(tmp_path, capsys, name):
    out = tmp_path / "out"
    refused(["samples", "show", name], capsys, out, "samples", pattern=re.escape(repr(name)))


# --------------------------------------------------------------------------- names that must match the sample

#: (command, where, value, any one of these must be in the error line)
CROSS_CASES = {
    "orientation-of-no-layer": ("build", "build.orientations", {"Nosuch": [1, 0, 0]}, ["build.orientations"]),
    "orientation-of-a-mosaic": ("build", "build.orientations", {"SEI-outer": [1, 0, 0]},
                                ["build.orientations.SEI-outer"]),
    "build-window-deep-in-substrate": ("build", "build.depth_range_nm", [1e6, 2e6], ["--depth-range-nm"]),
    "build-window-negative": ("build", "build.depth_range_nm", [-10.0, 20.0], ["build.depth_range_nm"]),
    "template-of-no-phase": ("eels", "eels.templates", {"Nosuch": {"Li K": "li.msa"}}, ["eels.templates"]),
    "template-missing-file": ("eels", "eels.templates", {"LiPON": {"Li K": "nosuch.msa"}},
                              ["eels.templates.LiPON", "nosuch.msa"]),
    "template-of-no-edge": ("eels", "eels.templates", {"LiPON": {"Xx K": "li.msa"}}, ["eels.templates.LiPON"]),
    "edge-unknown": ("eels", "eels.edges", ["Li K", "Qq K"], ["eels.edges"]),
    "edge-of-no-element": ("eels", "eels.edges", ["Au M4,5"], ["eels.edges"]),
    "xsec-scale-unknown-edge": ("eels", "eels.xsec_scale", {"Qq K": 1.0}, ["eels.xsec_scale"]),
    "scan-reversed": ("eels", "eels.scan_stop_nm", 100.0, ["eels.scan_stop_nm"]),
    "stopping-scale-unknown-phase": ("ndp", "ndp.stopping_scale", {"Nosuch": 1.0}, ["ndp.stopping_scale"]),
    "dead-layer-unknown-material": ("ndp", "ndp.dead_layers", [{"material": "Siliconx", "thickness_nm": 10.0}],
                                    ["ndp.dead_layers"]),
    "dead-layer-missing-thickness": ("ndp", "ndp.dead_layers", [{"material": "Si"}], ["ndp.dead_layers"]),
    "dead-layer-unknown-key": ("ndp", "ndp.dead_layers", [{"material": "Si", "thickness": 10}],
                               ["ndp.dead_layers"]),
    "cone-grazing": ("ndp", "ndp.detector_angle_deg", 88.0, ["ndp.acceptance_half_angle_deg",
                                                             "ndp.detector_angle_deg"]),
    "particles-empty": ("ndp", "ndp.particles", [], ["ndp.particles"]),
    "sweep-unknown-parameter": ("sweep", "sweep.parameters", {"Nosuch.thickness_nm": {"dist": "uniform", "low": 1,
                                                                                        "high": 2}},
                                ["sweep.parameters"]),
    "sweep-fixed-semi-infinite": ("sweep", "sweep.parameters", {"Li.thickness_nm": {"dist": "uniform", "low": 1,
                                                                                     "high": 2}},
                                  ["sweep.parameters"]),
    "sweep-bad-bounds": ("sweep", "sweep.parameters", {"SEI-outer.thickness_nm": {"dist": "uniform", "low": 50,
                                                                                  "high": -2}},
                         ["sweep.parameters"]),
    "sweep-grid-without-values": ("sweep", "sweep.design", "grid", ["sweep"]),
    "fit-data-missing-file": ("fit", "fit.data", {"ndp": "nosuch.csv"}, ["nosuch.csv"]),
    "fit-data-unknown-kind": ("fit", "fit.data", {"xps": "spectrum.csv"}, ["fit.data"]),
    "fit-calibration-unknown-key": ("fit", "fit.calibration", {"ndp": {"gain": 3.0}}, ["fit.calibration.ndp.gain"]),
    "fit-calibration-unknown-kind": ("fit", "fit.calibration", {"xps": {"gain": 3.0}}, ["fit.calibration.xps"]),
    "fit-nothing-varies": ("fit", "fit.data", {"ndp": "spectrum.csv"}, ["vary"]),
    "hrtem-window-wider-than-image": ("hrtem", "hrtem.window_nm", 50.0, ["hrtem.window_nm"]),
    "hrtem-window-deep-in-substrate": ("hrtem", "hrtem.depth_range_nm", [1e6, 2e6], ["depth_range_nm"]),
}


@pytest.mark.parametrize("table, where, value, names", CROSS_CASES.values(), ids=CROSS_CASES.keys())
def test_names_and_windows_that_do_not_fit_the_sample(tmp_path, capsys, table, where, value, names):
    doc = base_doc()
    if table == "sweep" and where != "sweep.parameters":
        doc["sweep"] = dict(SWEEPABLE)
    if value == {"ndp": "spectrum.csv"}:  # a good spectrum, a sample with nothing free
        _data(tmp_path, SPECTRUM)
        for layer in doc["layers"]:
            t = layer["thickness_nm"]
            layer["thickness_nm"] = t["value"] if isinstance(t, dict) else t
    set_key(doc, where, value)
    out = tmp_path / "out"
    refused(command(table, write_doc(tmp_path, doc), out), capsys, out, *names)


# --------------------------------------------------------------------------- calibrations and remedies

EELS_SCAN = b"position_nm," + b",".join(b"%g" % (40 + 0.3 * i) for i in range(64)) + b"\n" + b"".join(
    b"%d," % z + b",".join(b"%d" % (100 + i) for i in range(64)) + b"\n" for z in range(1450, 1460))


def _image(tmp_path: Path, pixel_nm: float | None = 0.02) -> Path:
    import numpy as np
    import tifffile

    from interphase_sim.core.fileio import write_tiff

    path, img = tmp_path / "image.tif", np.random.default_rng(0).random((64, 64)).astype("f4")
    if pixel_nm is None:
        tifffile.imwrite(path, img)  # no pixel size recorded
    else:
        write_tiff(path, img, pixel_nm)
    return path


#: [fit] data (written next to the sample) and a calibration the reader gets: (files, calibration, names)
CALIBRATION_CASES = {
    "hrtem-energy-negative": ("hrtem", {"pixel_nm": 0.02, "energy_eV": -1.0}, "fit.calibration.hrtem.energy_eV"),
    "hrtem-pixel-zero": ("hrtem", {"pixel_nm": 0.0}, "fit.calibration.hrtem.pixel_nm"),
    "hrtem-unknown-key": ("hrtem", {"pixel": 0.02}, "fit.calibration.hrtem.pixel"),
    "eels-dispersion-zero": ("eels", {"dispersion_eV": 0.0}, "fit.calibration.eels.dispersion_eV"),
    "eels-beam-negative": ("eels", {"beam_energy_eV": -3e5}, "fit.calibration.eels.beam_energy_eV"),
    "eels-collection-text": ("eels", {"collection_mrad": "wide"}, "fit.calibration.eels.collection_mrad"),
    "eels-step-nan": ("eels", {"step_nm": NAN}, "fit.calibration.eels.step_nm"),
    "ndp-gain-negative": ("ndp", {"gain_keV": -3.0, "offset_keV": 0.0}, "fit.calibration.ndp.gain_keV"),
    "ndp-offset-inf": ("ndp", {"gain_keV": 3.0, "offset_keV": INF}, "fit.calibration.ndp.offset_keV"),
    "ndp-key-of-eels": ("ndp", {"dispersion_eV": 0.3}, "fit.calibration.ndp.dispersion_eV"),
}


def _fit_files(tmp_path: Path, kind: str) -> str:
    if kind == "hrtem":
        return _image(tmp_path).name
    if kind == "eels":
        return _data(tmp_path, EELS_SCAN, "linescan.csv").name
    return _data(tmp_path, b"channel,counts\n" + b"".join(b"%d,5\n" % c for c in range(900)), "channels.csv").name


@pytest.mark.parametrize("case", CALIBRATION_CASES)
def test_a_bad_fit_calibration_names_the_table(tmp_path, capsys, case):
    kind, calibration, name = CALIBRATION_CASES[case]
    doc = base_doc()
    doc["fit"] = {"data": {kind: _fit_files(tmp_path, kind)}, "calibration": {kind: calibration}}
    out = tmp_path / "out"
    refused(["fit", write_doc(tmp_path, doc), "--out", out], capsys, out, name)


#: What only Python can do: keyword arguments, Phase objects, the loader's name.
PYTHON_ONLY = re.compile(r"\b\w+=(\s|$|\)|\.\.\.)|Phase\(|Phase\.|load_measurement|as an argument|kind='")


def _remedy_cases(tmp_path: Path) -> dict[str, tuple[list, list[str]]]:
    channels = _fit_files(tmp_path, "ndp")
    bare = _image(tmp_path, None)
    dead = base_doc()
    dead["ndp"]["dead_layers"] = [{"material": "Siliconx", "thickness_nm": 10.0}]
    return {
        "ndp-depth-channels": (["ndp-depth", tmp_path / channels, "--matrix", "LiPON"], ["--gain-keV"]),
        "fit-image-without-pixel-size": (["fit", LI, "--data", f"hrtem={bare}"],
                                         ["[fit] calibration = { hrtem = { pixel_nm"]),
        "ndp-depth-unknown-matrix": (["ndp-depth", _data(tmp_path, SPECTRUM), "--matrix", "LiPONx"],
                                     ["--matrix", "interphase-sim phases"]),
        "ndp-depth-unknown-dead-layer": (["ndp-depth", _data(tmp_path, SPECTRUM), "--matrix", "LiPON",
                                          "--dead-layer", "Siliconx", "10"], ["--dead-layer"]),
        "sample-unknown-dead-layer": (["simulate", "ndp", write_doc(tmp_path, dead)], ["ndp.dead_layers[0].material"]),
        "ndp-depth-bad-header-gain": (["ndp-depth", _data(tmp_path, NDP_CSV["channel-with-negative-gain"]), "--matrix",
                                       "LiPON"], ["'# gain_keV = -3.0' line"]),
    }


@pytest.mark.parametrize("case", ["ndp-depth-channels", "fit-image-without-pixel-size", "ndp-depth-unknown-matrix",
                                  "ndp-depth-unknown-dead-layer", "sample-unknown-dead-layer",
                                  "ndp-depth-bad-header-gain"])
def test_remedies_are_what_a_command_line_user_can_do(tmp_path, capsys, case):
    argv, names = _remedy_cases(tmp_path)[case]
    out = tmp_path / "out"
    line = refused([*argv, "--out", out], capsys, out, *names)
    assert all(n in line for n in names), line
    assert not PYTHON_ONLY.search(line), line


# --------------------------------------------------------------------------- the sample file itself

GOOD = samples.text(LI)
#: sample file contents (text or bytes) and any one of these must be in the error line (besides the path)
FILE_CASES = {
    "unclosed-table-header": (GOOD.replace("[ndp]", "[ndp", 1), ["TOML syntax error"]),
    "unterminated-string": (GOOD.replace('name = "LiPON"', 'name = "LiPON', 1), ["TOML syntax error"]),
    "missing-value": (GOOD.replace("fwhm_keV = 18.0", "fwhm_keV =", 1), ["TOML syntax error"]),
    "duplicate-key": (GOOD.replace("fwhm_keV = 18.0", "fwhm_keV = 18.0\nfwhm_keV = 19.0", 1), ["TOML syntax error"]),
    "duplicate-table": (GOOD + "\n[ndp]\nfwhm_keV = 3\n", ["TOML syntax error"]),
    "bare-word-value": (GOOD.replace("fwhm_keV = 18.0", "fwhm_keV = eighteen", 1), ["TOML syntax error"]),
    "python-syntax": (GOOD.replace("fwhm_keV = 18.0", "fwhm_keV: 18.0", 1), ["TOML syntax error"]),
    "json-file": ('{"layers": [{"name": "a"}]}', ["TOML syntax error"]),
    "unknown-table-typo": (GOOD + "\n[ndpp]\nfwhm_keV = 3\n", ["ndpp", "did you mean [ndp]"]),
    "unknown-table": (GOOD + "\n[xps]\nangle = 3\n", ["xps"]),
    "layers-as-table": (GOOD.replace("[[layers]]", "[layers]", 1), ["TOML syntax error", "layers"]),
    "no-layers": ('[sample]\nname = "empty"\n', ["layers"]),
    "empty-file": ("", ["layers"]),
    "comments-only": ("# nothing here\n", ["layers"]),
    "latin-1": (GOOD.replace("LiPON", "LiPÖN", 1).encode("latin-1"), ["UTF-8"]),
    "utf-16": (GOOD.encode("utf-16"), ["UTF-8"]),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ["UTF-8"]),
    "nul-bytes": ("\x00" * 16, ["TOML syntax error"]),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_a_broken_sample_file(tmp_path, capsys, case):
    content, names = FILE_CASES[case]
    path = tmp_path / "sample.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    out = tmp_path / "out"
    line = refused(["simulate", "ndp", path, "--out", out], capsys, out, *names)
    assert str(path) in line, line


@pytest.mark.parametrize("command", [["simulate", "ndp"], ["simulate", "eels"], ["simulate", "hrtem"], ["build"],
                                     ["fit"], ["sweep"]])
@pytest.mark.parametrize("what", ["missing", "folder"])
def test_a_sample_that_is_not_a_file(tmp_path, capsys, command, what):
    path = tmp_path / "sample.toml"
    if what == "folder":
        path.mkdir()
    out = tmp_path / "out"
    refused([*command, path, "--out", out], capsys, out, str(path),
            pattern="is a folder" if what == "folder" else "no such file")


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(thickness=st.one_of(st.floats(max_value=0.0, allow_nan=False, min_value=-1e300),
                           st.floats(min_value=1.0000001e7, max_value=1e300)),
       layer=st.integers(0, 2))
def test_random_layer_thicknesses_beyond_the_physical_range(tmp_path_factory, capsys, thickness, layer):
    tmp = tmp_path_factory.mktemp("t")
    doc = base_doc()
    doc["layers"][layer]["thickness_nm"] = thickness
    out = tmp / "out"
    refused(["simulate", "ndp", write_doc(tmp, doc), "--out", out], capsys, out, "thickness_nm")


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(content=st.binary(min_size=0, max_size=200))
def test_random_bytes_as_a_spectrum(tmp_path_factory, capsys, content):
    tmp = tmp_path_factory.mktemp("b")
    path, out = _data(tmp, content), tmp / "out"
    refused(["ndp-depth", path, "--matrix", "LiPON", "--out", out], capsys, out, str(path))


def test_a_spectrum_with_a_byte_order_mark_reads(tmp_path, capsys):
    """The one case that must work: a BOM (a Windows export) is not part of the first column's name."""
    path, out = _data(tmp_path, BOM + SPECTRUM), tmp_path / "out"
    code, lines = run_cli(["ndp-depth", path, "--matrix", "LiPON", "--out", out, "--cutoff-keV", "1500"], capsys)
    assert code == 0, lines
    assert (out / "depth_profile.csv").is_file()
