"""Output folders: staged, moved into place whole with run.json, stale files of an earlier
run removed, nothing left by a failed, interrupted or killed run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from interphase_sim import InterphaseInputError
from interphase_sim.cli.main import main
from interphase_sim.core.outdir import MANIFEST, STAGING_PREFIX, RunOutput


def _write(run, name, text="x"):
    run.path(name).write_text(text)


def test_files_appear_with_a_manifest_and_the_earlier_runs_stale_files_go(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out").mkdir()
    (out / "notes.txt").write_text("mine")  # the user's own file: never touched
    with RunOutput(out, ["build", "s.toml"], "[sample]", seed=3) as run:
        _write(run, "model.cif")
        _write(run, "model.json")
        assert not (out / "model.cif").exists()  # staged until the run ends
    doc = json.loads((out / MANIFEST).read_text())
    assert doc["files"] == ["model.cif", "model.json"] and doc["seed"] == 3 and doc["command"][0] == "build"
    assert len(doc["sample_sha256"]) == 64 and doc["interphase_sim"]
    with RunOutput(out, ["build", "s.toml", "--formats", "extxyz"]) as run:
        _write(run, "model.extxyz")
        _write(run, "model.json")
    assert sorted(p.name for p in out.iterdir()) == ["model.extxyz", "model.json", "notes.txt", MANIFEST]


def test_a_failed_run_leaves_nothing_not_even_the_folder_it_made(tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError):
        with RunOutput(out, ["x"]) as run:
            _write(run, "half.csv")
            raise RuntimeError("boom")
    assert not (tmp_path / "a").exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "old.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with RunOutput(existing, ["x"]) as run:
            _write(run, "old.csv", "new")
            raise RuntimeError("boom")
    assert [p.name for p in existing.iterdir()] == ["old.csv"] and (existing / "old.csv").read_text() == "old"


def test_a_killed_runs_staging_is_cleaned_by_the_next_run(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f"{STAGING_PREFIX}{int(dead.stdout)}-abcdef"
    left.mkdir()
    (left / ".model.extxyz.x.tmp").write_bytes(b"0" * 1000)
    with RunOutput(tmp_path, ["x"]) as run:
        _write(run, "a.csv")
    assert not left.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", MANIFEST]


@pytest.mark.parametrize("bad, message", [("", "empty folder name"), ("FILE", "is a file, not a folder")])
def test_bad_out_is_refused_before_any_work(tmp_path, bad, message):
    if bad == "FILE":
        bad = tmp_path / "afile"
        bad.write_text("")
    with pytest.raises(InterphaseInputError, match=message):
        RunOutput(bad, ["x"])


def test_an_unwritable_out_is_refused_before_any_work(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere but in /proc
        ro = "/proc/interphase-sim-test"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        ro = ro / "sub"
    with pytest.raises(InterphaseInputError, match="--out: cannot write into"):
        RunOutput(ro, ["x"])


def test_simulate_into_a_file_fails_at_once_naming_out(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("")
    t0 = time.perf_counter()
    assert main(["simulate", "hrtem", "li_sei_lipon", "--out", str(target)]) == 2
    assert time.perf_counter() - t0 < 5.0  # before the multislice
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--out" in err and "is a file" in err


def _interrupt(cmd, tmp_path, sig, after_s):
    """Start ``interphase-sim cmd`` and send it ``sig`` after ``after_s`` seconds."""
    proc = subprocess.Popen([sys.executable, "-m", "interphase_sim.cli.main", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    time.sleep(after_s)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("command", [["build", "li_sei_lipon", "--lateral-nm", "14", "14"],
                                     ["simulate", "hrtem", "li_sei_lipon"]])
def test_an_interrupted_command_says_so_in_one_line_and_leaves_nothing(tmp_path, command, sig, status):
    out = tmp_path / "out"
    code, stderr = _interrupt([*command, "--out", str(out), "--quiet"], tmp_path, sig, after_s=6.0)
    assert code == status, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and ("interrupted" in lines[0] or "terminated" in lines[0]), stderr
    assert "Traceback" not in stderr and not out.exists()
