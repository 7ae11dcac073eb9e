"""``interphase-sim fit`` on measured files of every kind: NDP CSV, EELS .hspy, HRTEM .tiff.

The "measured" files are made by the package itself (noisy simulations of the shipped
Li | SEI | LiPON sample), written to disk and read back by the loaders, so these tests
cover the whole path a user takes: files -> load_measurement -> one model per data set
-> joint fit -> result.json. (On the old code ``--data eels=...`` and ``--data hrtem=...``
failed with "available: ndp".)
"""

import json
import math
import shutil

import pytest

from interphase_sim import samples
from interphase_sim import instruments
from interphase_sim.cli.main import main

THICKNESSES = ("SEI-outer.thickness_nm", "SEI-inner.thickness_nm")
#: the [ndp] table with a free energy offset (a nuisance each spectrum has its own of)
FREE_OFFSET = "offset_keV = { value = 0.0, min = -30.0, max = 30.0, vary = true }"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A folder with s.toml (the shipped sample), spec.csv, scan.hspy and image.tiff."""
    pytest.importorskip("exspy")  # .hspy writing
    pytest.importorskip("abtem")  # HRTEM multislice
    d = tmp_path_factory.mktemp("measured")
    sample = d / "s.toml"
    text = samples.text("li_sei_lipon")
    assert "[fit]" not in text  # the [fit]-table test below appends one
    sample.write_text(text)
    stack = samples.read(str(sample))
    instruments["ndp"].from_stack(stack).simulate(noise=True, seed=1).to_csv(d / "spec.csv")
    assert main(["simulate", "eels", str(sample), "--out", str(d / "eels"), "--noise", "--seed", "2"]) == 0
    shutil.copy(d / "eels" / "linescan.hspy", d / "scan.hspy")
    assert main(["simulate", "hrtem", str(sample), "--out", str(d / "hrtem"), "--noise", "--seed", "3",
                 "--lateral-nm", "6", "--no-progress"]) == 0
    shutil.copy(d / "hrtem" / "image.tiff", d / "image.tiff")
    return d


def _truth(sample_path):
    stack = samples.read(str(sample_path))
    return {n: p.value for n, p in stack.parameters().varying().items() if p.role != "systematic"}


def _check_thicknesses(doc, truth):
    params = doc["fit"]["parameters"]
    assert set(truth) == set(THICKNESSES)
    for name, value in truth.items():
        p = params[name]
        assert math.isfinite(p["stderr"]) and p["stderr"] > 0
        assert p["stat_err"] is not None and p["stderr"] >= p["stat_err"] * (1 - 1e-9)
        assert not p["at_bound"]
        assert abs(p["value"] - value) < 3.0 * p["stderr"], (name, p)


def test_fit_ndp_eels_hrtem_files_jointly(measured, tmp_path, capsys):
    sample = measured / "s.toml"
    out = tmp_path / "fit"
    assert main(["fit", str(sample), "--data", f"ndp={measured / 'spec.csv'}",
                 "--data", f"eels={measured / 'scan.hspy'}", "--data", f"hrtem={measured / 'image.tiff'}",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "result.json").read_text())
    assert [d["kind"] for d in doc["data"]] == ["ndp", "eels", "hrtem"]
    stats = doc["fit"]["statistics"]
    assert len(stats) == 3 and all(s["points"] > 0 and math.isfinite(s["statistic"]) for s in stats)
    assert [s["loss"] for s in stats] == ["poisson", "poisson", "poisson"]  # the map as grain counts
    _check_thicknesses(doc, _truth(sample))
    # each instrument brings its own nuisances / systematics into the one fit
    names = set(doc["fit"]["parameters"])
    assert any(n.startswith("ndp.") for n in names) and any(n.startswith("eels.") for n in names)
    assert doc["fit"]["correlation"]
    assert (out / "report.txt").read_text().count("thickness_nm") >= 2
    assert (out / "fit.png").stat().st_size > 0 and not (out / "corner.png").exists()
    assert "SEI-inner.thickness_nm" in capsys.readouterr().out


def test_fit_data_from_the_fit_table_relative_to_the_sample_file(measured, tmp_path, monkeypatch):
    sample = measured / "with_fit.toml"
    sample.write_text(samples.text("li_sei_lipon") + '\n[fit]\ndata = { ndp = "spec.csv", eels = "scan.hspy" }\n')
    monkeypatch.chdir(tmp_path)  # paths are relative to the sample file, not the working folder
    assert main(["fit", str(sample), "--out", "fit"]) == 0
    doc = json.loads((tmp_path / "fit" / "result.json").read_text())
    assert [d["kind"] for d in doc["data"]] == ["ndp", "eels"]
    assert len(doc["fit"]["statistics"]) == 2
    _check_thicknesses(doc, _truth(sample))


def test_two_ndp_spectra_have_their_own_nuisances_and_share_the_sample(tmp_path):
    from interphase_sim.fit.objective import free_parameters
    from interphase_sim.jointfit import joint_fit

    sample = tmp_path / "s.toml"
    text = samples.text("li_sei_lipon")
    assert text.count("offset_keV = 0.0") == 1
    sample.write_text(text.replace("offset_keV = 0.0", FREE_OFFSET))
    model = instruments["ndp"].from_stack(samples.read(str(sample)))
    model.simulate(noise=True, seed=1).to_csv(tmp_path / "a.csv")
    model.simulate(noise=True, seed=2).to_csv(tmp_path / "b.csv")

    out = tmp_path / "fit"
    assert main(["fit", str(sample), "--data", f"ndp={tmp_path / 'a.csv'}", "--data", f"ndp={tmp_path / 'b.csv'}",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "result.json").read_text())
    params = doc["fit"]["parameters"]
    assert len(doc["fit"]["statistics"]) == 2
    assert {"ndp.offset_keV", "ndp.offset_keV#2"} <= set(params)
    for name in THICKNESSES:  # one variable each, shared by both spectra
        assert [n for n in params if n.split("#")[0] == name] == [name]
    # the free offsets are really fitted: a spectrum's first channel sits exactly on the
    # low-energy cutoff, and a mask that kept it froze the fit at its start (offset
    # "stderr" ~1e-7 keV, every value exactly its start value)
    for name in ("ndp.offset_keV", "ndp.offset_keV#2"):
        p = params[name]
        assert 1e-3 < p["stderr"] < 1.0 and abs(p["value"]) < 3 * p["stderr"] and not p["at_bound"]
    assert any(params[n]["value"] != v for n, v in _truth(sample).items())

    # the same in Python: one Parameter object per thickness, one offset per spectrum
    run = joint_fit(samples.read(str(sample)), {"ndp": [tmp_path / "a.csv", tmp_path / "b.csv"]})
    a, b = (d.model for d in run.data)
    assert a.offset_keV is not b.offset_keV and a.gain_keV is not b.gain_keV
    free = free_parameters([d.objective for d in run.data])
    assert free["SEI-outer.thickness_nm"] is a.stack.parameters()["SEI-outer.thickness_nm"]
    assert free["SEI-outer.thickness_nm"] is b.stack.parameters()["SEI-outer.thickness_nm"]
    assert free["ndp.offset_keV"] is a.offset_keV and free["ndp.offset_keV#2"] is b.offset_keV
    # a stopping power is one unknown however many spectra measure through it: shared, so
    # that more spectra do not shrink its prior (finding of the review: 6.2 -> 4.2 nm)
    assert a.stopping_scale and all(b.stopping_scale[k] is p for k, p in a.stopping_scale.items())
    assert not [n for n in free if n.startswith("ndp.stopping_scale") and "#" in n]
    assert not [n for n in params if n.startswith("ndp.stopping_scale") and "#" in n]


def test_ndp_spectrum_on_a_channel_axis_with_other_channels_than_the_table(tmp_path):
    """A channel,counts CSV whose length is not [ndp] channels (the mask was built on the
    model's own 1024-channel axis: "mask: shape (1024,) differs from the data's")."""
    from interphase_sim.jointfit import joint_fit

    stack = samples.load("li_sei_lipon")
    spec = instruments["ndp"].from_stack(stack).simulate(noise=True, seed=4)
    path = tmp_path / "chan.csv"
    path.write_text("channel,counts\n" + "".join(f"{i},{int(c)}\n" for i, c in enumerate(spec.values[:900])))
    run = joint_fit(samples.load("li_sei_lipon"), {"ndp": path})
    assert run.result.statistics[0]["points"] < 900
    for name in THICKNESSES:
        assert math.isfinite(run.result.stderr[name])


def _sample(tmp_path):
    sample = tmp_path / "s.toml"
    sample.write_text(samples.text("li_sei_lipon"))
    instruments["ndp"].from_stack(samples.read(str(sample))).simulate(noise=True, seed=1).to_csv(
        tmp_path / "spectrum.csv")
    return sample


def _error_line(capsys):
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("interphase-sim: error:")]
    assert len(err) == 1
    return err[0]


def test_unknown_data_kind_is_exit_2(tmp_path, capsys):
    sample = _sample(tmp_path)
    out = tmp_path / "never"
    assert main(["fit", str(sample), "--data", f"xrd={tmp_path / 'spectrum.csv'}", "--out", str(out)]) == 2
    assert "unknown data kind" in _error_line(capsys) and not out.exists()
    assert main(["fit", str(sample), "--data", "ndp", "--out", str(out)]) == 2
    assert "KIND=PATH" in _error_line(capsys) and not out.exists()


def test_ndp_csv_given_as_eels_is_exit_2_naming_the_file(tmp_path, capsys):
    sample = _sample(tmp_path)
    out = tmp_path / "never"
    spectrum = tmp_path / "spectrum.csv"
    assert main(["fit", str(sample), "--data", f"eels={spectrum}", "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert str(spectrum) in line and "energy_keV" in line and not out.exists()
    assert main(["fit", str(sample), "--data", f"hrtem={spectrum}", "--out", str(out)]) == 2
    assert str(spectrum) in _error_line(capsys) and not out.exists()
    assert main(["fit", str(sample), "--data", f"ndp={tmp_path / 'missing.csv'}", "--out", str(out)]) == 2
    assert "missing.csv" in _error_line(capsys) and not out.exists()


def test_no_data_and_no_fit_table_is_exit_2(tmp_path, capsys):
    sample = _sample(tmp_path)
    out = tmp_path / "never"
    assert main(["fit", str(sample), "--out", str(out)]) == 2
    assert "no data" in _error_line(capsys) and not out.exists()
    assert main(["fit", "li_sei_lipon", "--out", str(out)]) == 2  # a shipped name: no [fit] either
    assert "no data" in _error_line(capsys) and not out.exists()
