"""``interphase-sim sweep`` and ``sweep info``: a store from a sample file's [sweep] table,
resumed by the same command, bad input as one-line errors."""

import tomllib

import numpy as np

from interphase_sim import samples
from interphase_sim.cli.main import main
from interphase_sim.sweep import SweepDesign, open_dataset

SWEEP = """
[sweep]
samples = 6
seed = 5
design = "random"
instruments = ["ndp"]
outputs = ["noisy", "expected"]
batch_size = 4
[sweep.parameters]
"SEI-outer.thickness_nm" = { dist = "uniform", low = 10, high = 60 }
"ndp.fwhm_keV" = { dist = "uniform", low = 12, high = 25 }
"""


def _sample(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(samples.text("li_sei_lipon") + SWEEP)
    return path


def test_sweep_writes_the_store_and_info_describes_it(tmp_path, capsys):
    sample, store = _sample(tmp_path), tmp_path / "d.zarr"
    assert main(["sweep", str(sample), "--out", str(store), "--quiet"]) == 0
    assert "6 samples, 6 computed now" in capsys.readouterr().out
    ds = open_dataset(store)
    assert ds["ndp_counts"].shape[0] == 6 and bool(ds["done"].all())
    design = SweepDesign.from_table(tomllib.loads(SWEEP)["sweep"])
    np.testing.assert_array_equal(ds["ndp.fwhm_keV"].values, design.points()["ndp.fwhm_keV"])
    assert main(["sweep", str(sample), "--out", str(store), "--quiet"]) == 0  # the same command: nothing to do
    assert "6 samples, all already there (nothing computed)" in capsys.readouterr().out
    assert main(["sweep", "info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 samples done (100.0 %)" in out and "ndp_counts: sample 6 x ndp_energy" in out
    assert "SEI-outer.thickness_nm" in out


def test_sweep_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    sample = _sample(tmp_path)
    cases = [
        (["sweep", str(sample)], "--out"),
        (["sweep", str(sample), "--out", str(tmp_path / "x.zarr"), "--workers", "0"], "--workers"),
        (["sweep", str(sample), "--out", str(tmp_path / "x.zarr"), "--samples", "0"], "--samples ([sweep] samples)"),
        (["sweep", "info", str(tmp_path / "none.zarr")], "no such sweep store"),
        (["sweep", "info"], "give one store"),
        (["sweep", "info", str(tmp_path)], "not a sweep store"),
        (["sweep", "li_sei_lipon", "--out", str(tmp_path / "z.zarr")], "sweep.parameters: name what to vary"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and words in err, (argv, err)
    bad = tmp_path / "bad.toml"
    bad.write_text(samples.text("li_sei_lipon") + SWEEP.replace("ndp.fwhm_keV", "ndp.fwhm_kev"))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "y.zarr")]) == 2
    err = capsys.readouterr().err
    assert "sweep.parameters.ndp.fwhm_kev: not a Parameter" in err and "ndp.fwhm_keV" in err
    assert not (tmp_path / "y.zarr").exists()  # refused before anything was written
