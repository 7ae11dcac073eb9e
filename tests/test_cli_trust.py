"""The command line a user can trust: each defect found by trying it as a new user would,
one test each (exit status 2 and one line naming the field; nothing left in --out)."""

import pytest

from interphase_sim.cli.main import main
from interphase_sim.sample import shipped


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    return code, _one_line(capsys)


def test_a_binary_sample_file_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / "garbage.toml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    out = tmp_path / "out"
    code, err = _run(["simulate", "ndp", str(bad), "--out", str(out)], capsys)
    assert code == 2 and str(bad) in err and "UTF-8" in err and not out.exists()


def test_a_sample_file_with_a_byte_order_mark_reads(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + shipped.text("lnmo_lipon").encode())
    assert main(["simulate", "ndp", str(path), "--out", str(tmp_path / "o")]) == 0


@pytest.mark.parametrize("argv", [
    ["simulate", "ndp", "li_sei_lipon", "--noise", "--seed", "-1"],
    ["simulate", "eels", "li_sei_lipon", "--noise", "--seed", "-3"],
    ["build", "li_sei_lipon", "--seed", "-1"],
    ["fit", "li_sei_lipon", "--seed", "-2"],
    ["simulate", "ndp", "li_sei_lipon", "--noise", "--seed", "1.5"],
    ["sweep", "li_sei_lipon", "--seed", "-1"],
])
def test_a_negative_or_fractional_seed_is_one_line(tmp_path, capsys, argv):
    out = tmp_path / "out"
    code, err = _run([*argv, "--out", str(out)], capsys)
    assert code == 2 and "--seed" in err and not out.exists()


@pytest.mark.parametrize("instrument", ["ndp", "eels"])
def test_a_seed_without_noise_is_refused_not_ignored(tmp_path, capsys, instrument):
    code, err = _run(["simulate", instrument, "li_sei_lipon", "--seed", "4", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--seed" in err and "--noise" in err and not (tmp_path / "o").exists()


def test_an_empty_out_is_refused_and_the_current_folder_untouched(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run(["simulate", "ndp", "li_sei_lipon", "--out", ""], capsys)
    assert code == 2 and "--out" in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, words", [
    (["simulate"], ["simulate", "INSTRUMENT"]),
    (["nonsense"], ["invalid choice"]),
    (["simulate", "ndp"], ["required"]),
    (["fit", "li_sei_lipon", "--out", "x", "--method", "newton"], ["--method", "least_squares"]),
])
def test_argument_errors_are_one_line_with_a_pointer_to_help(capsys, argv, words):
    code, err = _run(argv, capsys)
    assert code == 2 and all(w in err for w in words) and "--help" in err


def test_the_posterior_flag_no_longer_clashes_with_the_sample_argument(capsys):
    from interphase_sim.cli.main import build_parser

    fit = build_parser()._subparsers._group_actions[0].choices["fit"]
    flags = {s: a for a in fit._actions for s in a.option_strings}
    assert "--posterior" in flags and "--sample" not in flags
    for flag in ("--method", "--nwalkers", "--nsteps", "--posterior", "--seed"):
        assert len(flags[flag].help) > 40, flag  # says what it does and its default


def test_samples_list_show_and_copy(tmp_path, capsys, monkeypatch):
    assert main(["samples", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in shipped.names())
    assert main(["samples", "show", "lnmo_lipon"]) == 0
    assert capsys.readouterr().out == shipped.text("lnmo_lipon")
    monkeypatch.chdir(tmp_path)
    assert main(["samples", "copy", "lnmo_lipon"]) == 0
    assert (tmp_path / "lnmo_lipon.toml").read_text() == shipped.text("lnmo_lipon")
    code, err = _run(["samples", "copy", "lnmo_lipon"], capsys)  # exists: refused, not overwritten
    assert code == 2 and "--overwrite" in err
    code, err = _run(["samples", "show", "li_sei"], capsys)
    assert code == 2 and "did you mean 'li_sei_lipon'" in err


def test_build_records_the_seed_it_drew_and_warns_when_the_depth_range_is_cut(tmp_path, capsys):
    import json

    sample = tmp_path / "s.toml"
    sample.write_text(shipped.text("li_sei_lipon").replace("semi_infinite_nm = 10.0\nseed = 1\n", ""))
    out = tmp_path / "b"
    argv = ["build", str(sample), "--out", str(out), "--lateral-nm", "2.5", "2.5", "--depth-range-nm", "1560", "1580"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: depth_range_nm stops at 1580 nm but the model ends at 1575 nm" in err
    assert "--semi-infinite-nm 10" in err and err.count("depth_range_nm") == 1 and "Traceback" not in err
    seed = json.loads((out / "run.json").read_text())["seed"]
    model = json.loads((out / "model.json").read_text())
    assert isinstance(seed, int) and seed >= 0 and model["seed"] == seed and model["settings"]["seed"] == seed
    assert isinstance(model["atoms"], int) and isinstance(model["cell_A"][0], float)
    assert main([*argv, "--semi-infinite-nm", "10", "--seed", str(seed)]) == 0  # the same model, now reaching 1580
    assert "depth_range_nm" not in capsys.readouterr().err
    again = json.loads((out / "model.json").read_text())
    assert again["cell_A"][2] == 200.0 and again["seed"] == seed


def test_build_max_atoms_is_a_flag_the_message_names(tmp_path, capsys):
    code, err = _run(["build", "li_sei_lipon", "--out", str(tmp_path / "b"), "--max-atoms", "1000"], capsys)
    assert code == 2 and "max_atoms = 1,000" in err and "--max-atoms" in err and not (tmp_path / "b").exists()


def _big(tmp_path, old, new):
    path = tmp_path / "big.toml"
    path.write_text(shipped.text("li_sei_lipon").replace(old, new))
    return str(path)


@pytest.mark.parametrize("argv, words", [
    (["simulate", "eels", "POSITIONS", "--max-memory-gb", "8"], ["[eels] positions x channels = 100000 x 2048",
                                                                 "--max-memory-gb 8"]),
    (["simulate", "eels", "POSITIONS", "--max-memory-gb", "100"], ["GB written", "--max-output-gb"]),
    (["simulate", "hrtem", "li_sei_lipon", "--lateral-nm", "500", "--max-memory-gb", "8"], ["[hrtem] lateral_nm",
                                                                                          "--max-memory-gb"]),
    (["build", "li_sei_lipon", "--lateral-nm", "200", "200"], ["[build] lateral_nm", "atoms", "--max-memory-gb"]),
])
def test_sizes_are_estimated_and_refused_before_anything_is_allocated(tmp_path, capsys, argv, words):
    import time

    argv = [_big(tmp_path, "positions = 170", "positions = 100000") if a == "POSITIONS" else a for a in argv]
    out = tmp_path / "out"
    t0 = time.perf_counter()
    code, err = _run([*argv, "--out", str(out)], capsys)
    assert code == 2 and all(w in err for w in words), err
    assert time.perf_counter() - t0 < 10 and not out.exists()


def test_ndp_channels_beyond_the_range_are_refused(tmp_path, capsys):
    code, err = _run(["simulate", "ndp", _big(tmp_path, "channels = 1024", "channels = 1e8"), "--out",
                      str(tmp_path / "o")], capsys)
    assert code == 2 and "ndp.channels" in err and "10000000" in err


def test_the_shipped_sample_quantifies_li_k_and_says_which_edges_it_cannot(tmp_path, capsys):
    assert main(["simulate", "eels", "li_sei_lipon", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "quantified: Li K, P L2,3, N K, O K" in out and "not " not in out.split("quantified:")[1].split("\n")[0]
    narrow = tmp_path / "narrow.toml"  # an axis from 50 eV: Li K (55 eV) has no pre-edge to fit
    narrow.write_text(shipped.text("li_sei_lipon").replace("offset_eV = 40.0", "offset_eV = 50.0"))
    assert main(["simulate", "eels", str(narrow), "--out", str(tmp_path / "n")]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("quantified:"))
    assert "not Li K: the axis starts 5 eV below its onset, 14 eV of pre-edge are needed" in line


def test_a_default_scan_resolves_a_thin_interphase_under_a_thick_film():
    from interphase_sim.eels.model import EELSModel

    stack = shipped.load("li_sei_lipon")
    stack.sections.pop("eels")
    z = EELSModel.from_stack(stack).default_positions()
    inside = (z > 1500) & (z < 1570)  # the 70 nm SEI under 1500 nm of LiPON
    assert inside.sum() >= 80 and z[0] < 1500 and z[-1] > 1570


def test_noise_dominated_quantification_is_flagged(tmp_path, capsys):
    low = tmp_path / "low.toml"
    low.write_text(shipped.text("li_sei_lipon").replace("dose_e_per_A2 = 100000.0", "dose_e_per_A2 = 100.0"))
    assert main(["simulate", "eels", str(low), "--noise", "--seed", "2", "--out", str(tmp_path / "o")]) == 0
    warned = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("warning: EELS quantification")]
    assert warned and all("dose_e_per_A2" in w or "background" in w for w in warned)


def _spectrum(tmp_path, scale=1.0, zero=False):
    from interphase_sim.ndp import NDPModel

    meas = NDPModel.from_stack(shipped.load("lnmo_lipon")).simulate(noise=True, seed=1)
    path = tmp_path / "spectrum.csv"
    rows = ["energy_keV,counts"] + [f"{e * scale:.6g},{0 if zero else c:g}"
                                    for e, c in zip(meas.axis("energy"), meas.values)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_an_energy_axis_in_ev_labelled_kev_is_refused(tmp_path, capsys):
    path = _spectrum(tmp_path, scale=1000.0)
    code, err = _run(["fit", "lnmo_lipon", "--data", f"ndp={path}", "--out", str(tmp_path / "f")], capsys)
    assert code == 2 and str(path) in err and "in eV" in err and not (tmp_path / "f").exists()


def test_an_all_zero_spectrum_is_refused_not_fitted(tmp_path, capsys):
    path = _spectrum(tmp_path, zero=True)
    code, err = _run(["fit", "lnmo_lipon", "--data", f"ndp={path}", "--out", str(tmp_path / "f")], capsys)
    assert code == 2 and str(path) in err and "no counts" in err and not (tmp_path / "f").exists()


def _stderr_of(argv, tty, cwd):
    """stderr of ``interphase-sim argv``, written to a pseudo-terminal (``tty``) or a pipe (a log file)."""
    import subprocess
    import sys

    from terminal import stderr_on_a_terminal

    cmd = [sys.executable, "-m", "interphase_sim.cli.main", *argv]
    if not tty:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300).stderr
    return stderr_on_a_terminal(cmd, cwd=cwd, timeout=300)[1]


BUILD = ["build", "li_sei_lipon", "--lateral-nm", "3", "3", "--depth-range-nm", "1520", "1580"]


def test_progress_bars_on_a_terminal_none_in_a_log_and_none_with_quiet(tmp_path):
    on_tty = _stderr_of([*BUILD, "--out", "a"], True, tmp_path)
    assert "build:" in on_tty and "stages" in on_tty and "layer SEI-inner" in on_tty
    assert "\r" not in _stderr_of([*BUILD, "--out", "b"], False, tmp_path)  # a log: no carriage-return frames
    assert "stages" not in _stderr_of([*BUILD, "--out", "c", "--quiet"], True, tmp_path)


def test_the_hrtem_command_logs_no_progress_frames(tmp_path):
    err = _stderr_of(["simulate", "hrtem", "li_sei_lipon", "--lateral-nm", "3", "--out", "h"], False, tmp_path)
    assert "\r" not in err and len(err.splitlines()) <= 3, err


def test_a_cif_too_big_to_load_is_refused_before_the_build(tmp_path, capsys):
    import time

    t0 = time.perf_counter()
    code, err = _run([*BUILD[:2], *BUILD[5:], "--lateral-nm", "8", "8", "--formats", "cif", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "--formats" in err and "extxyz or lammps" in err and not (tmp_path / "c").exists()
    assert time.perf_counter() - t0 < 5


def test_channel_numbers_given_as_a_list_are_estimated_not_crashed(tmp_path, capsys):
    """The size estimate reads the [ndp] table's list form too (the channel numbers): it
    counts them, and the command runs (it raised a TypeError traceback)."""
    text = shipped.text("lnmo_lipon").replace("channels = 1024", "channels = [300, 301, 302, 303, 304, 305]")
    assert "channels = [300" in text
    path = tmp_path / "lists.toml"
    path.write_text(text)
    code, err = _run(["simulate", "ndp", str(path), "--out", str(tmp_path / "ndp")], capsys)
    assert code == 0, err
