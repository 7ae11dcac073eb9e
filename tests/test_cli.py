"""The command line: phases table, demo output, help, and exit codes on bad input."""

import subprocess
import sys

import numpy as np
import pytest

from interphase_sim import Stack, phases
from interphase_sim.cli.main import main


def test_phases_lists_every_phase_with_density_and_space_group(capsys):
    assert main(["phases"]) == 0
    out = capsys.readouterr().out
    for name in phases.names():
        ph = phases.get(name)
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert f"{ph.density:.3f}" in line
        if not ph.amorphous:
            assert ph.spacegroup in line
    assert "Li2.9PO3.3N0.46" in out


def _demo_on_a_terminal(out_dir):
    """(stdout, stderr) of ``interphase-sim demo``, stderr a pseudo-terminal, stdout a log file."""
    from terminal import stderr_on_a_terminal

    log = out_dir.parent / "demo.log"
    with open(log, "w") as stdout:
        code, err = stderr_on_a_terminal([sys.executable, "-m", "interphase_sim.cli.main", "demo", "--out",
                                          str(out_dir)], stdout=stdout, columns=160)
    assert code == 0, err[-3000:]
    return log.read_text(), err


def test_demo_writes_profiles_and_sample_files_that_load_back(tmp_path):
    out, err = _demo_on_a_terminal(tmp_path / "demo")
    tmp_path = tmp_path / "demo"
    # a progress bar over the demo's steps on the terminal, every step named; the report stays a clean log
    assert "demo:" in err and "stages" in err and "\r" not in out
    steps = {"li_sei_lipon": ["profile", "NDP", "NDP fit", "EELS", "atomistic model", "HRTEM", "joint fit"],
             "lnmo_lipon": ["profile", "NDP", "NDP fit", "EELS", "joint fit", "channel fit"]}
    for key, names in steps.items():
        for step in names:
            assert f"{key}: {step}" in err, (step, err[-2000:])
    assert "13/13 stages" in err or "12/13 stages" in err  # the last step, done (or shown running)
    assert "SEI-outer" in out and "LNMO" in out and "thickness nm" in out
    for key in ("li_sei_lipon", "lnmo_lipon"):
        png = tmp_path / f"{key}_profile.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        assert (tmp_path / f"{key}_ndp.png").stat().st_size > 20_000
        spectrum = np.loadtxt(tmp_path / f"{key}_ndp.csv", delimiter=",", skiprows=1)
        assert spectrum[:, 1].sum() > 0
        if key == "lnmo_lipon":  # Li only in the top 2 um: a gap between alphas (< 2055) and tritons
            between = (spectrum[:, 0] > 2055 + 60) & (spectrum[:, 0] < 2727 - 300)
            assert np.all(spectrum[between, 1] < 1e-6 * spectrum[:, 1].max())
        stack = Stack.from_toml(tmp_path / f"{key}.toml")
        # the stack it wrote is a physical one: Li everywhere, P only where LiPON or phosphates are
        prof = stack.profile(stack.depth_grid())
        assert np.all(prof.density("Li")[prof.z_nm < stack.finite_depth_nm()] > 0)
    assert (tmp_path / "li_sei_lipon_model.png").stat().st_size > 20_000  # the atomistic interphase
    assert "atomistic model" in out
    # the cross-section HRTEM image of the interphase and its phase map
    for name in ("hrtem_image.png", "hrtem_phase_map.png", "hrtem_diffractogram.png", "hrtem_image.tiff"):
        assert (tmp_path / f"li_sei_lipon_{name}").stat().st_size > 10_000
    assert "HRTEM" in out and "of labels name a phase present" in out
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("args", [["--help"], ["phases", "--help"], ["demo", "--help"]])
def test_help_everywhere(args):
    r = subprocess.run([sys.executable, "-m", "interphase_sim.cli.main", *args], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: interphase-sim" in r.stdout


def test_unknown_command_fails_with_usage():
    r = subprocess.run([sys.executable, "-m", "interphase_sim.cli.main", "demoo"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_a_shipped_sample_is_named_instead_of_a_path(tmp_path, capsys, monkeypatch):
    from interphase_sim import samples

    by_name, by_path = tmp_path / "by_name", tmp_path / "by_path"
    assert main(["simulate", "ndp", "li_sei_lipon", "--out", str(by_name)]) == 0
    assert main(["simulate", "ndp", str(samples.path("li_sei_lipon")), "--out", str(by_path)]) == 0
    a = np.loadtxt(by_name / "spectrum.csv", delimiter=",", skiprows=1)
    b = np.loadtxt(by_path / "spectrum.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(a, b)
    # a file of that name in the working folder wins over the shipped sample
    monkeypatch.chdir(tmp_path)
    samples.load("lnmo_lipon").to_toml(tmp_path / "li_sei_lipon.toml")
    assert samples.read("li_sei_lipon.toml").name == samples.load("lnmo_lipon").name
    assert samples.read("li_sei_lipon").name == samples.load("li_sei_lipon").name


def test_a_missing_sample_names_the_field_and_the_shipped_samples(tmp_path, capsys):
    code = main(["simulate", "ndp", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "sample file" in err and "li_sei_lipon" in err and "nope.toml" in err
