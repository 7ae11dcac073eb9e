"""The sweep's Zarr store: laid out first, written in place, resumable, reproducible."""

import json

import numpy as np
import pytest
import xarray as xr

from interphase_sim import InterphaseInputError, samples
from interphase_sim.sweep import SweepDesign
from interphase_sim.sweep.engine import run_sweep
from interphase_sim.sweep.store import done_mask, open_dataset, simulate_one

TABLE = {
    "samples": 12, "seed": 3, "design": "lhs", "instruments": ["ndp", "eels"], "outputs": ["noisy", "expected"],
    "parameters": {
        "SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 60},
        "ndp.fwhm_keV": {"dist": "norm", "loc": 20, "scale": 2},
    },
}


def _stack():
    stack = samples.load("li_sei_lipon")
    stack.sections["eels"] = {"positions": 20, "channels": 256, "offset_eV": 380.0, "dispersion_eV": 1.0,
                              "edges": ["N K", "O K"], "plural": False}
    return stack


def _arrays(path):
    ds = xr.open_zarr(str(path), consolidated=False)  # plain xarray opens it
    return ds, {k: ds[k].values for k in ("ndp_counts", "ndp_expected", "eels_counts", "eels_expected", "done")}


def test_the_store_holds_every_sample_with_its_coordinates_and_records(tmp_path):
    design = SweepDesign.from_table(TABLE)
    run = run_sweep(_stack(), design, tmp_path / "s.zarr", batch_size=5)
    assert run.computed == 12 and run.resumed == 0
    ds, a = _arrays(tmp_path / "s.zarr")
    assert a["done"].all()
    assert ds["ndp_counts"].dims == ("sample", "ndp_energy") and ds["eels_counts"].dims == (
        "sample", "eels_depth", "eels_energy")
    assert ds["ndp_counts"].shape[0] == 12 and ds["eels_counts"].shape[1:] == (20, 256)
    pts = design.points()
    np.testing.assert_array_equal(ds["SEI-outer.thickness_nm"].values, pts["SEI-outer.thickness_nm"])
    np.testing.assert_array_equal(ds["seed"].values, design.sample_seeds())
    assert json.loads(ds.attrs["sweep"])["design"] == "lhs" and "[[layers]]" in ds.attrs["sample_file"]
    assert "numpy" in json.loads(ds.attrs["versions"]) and "ndp" in json.loads(ds.attrs["settings"])
    # noisy counts are integers around the expected ones; expected counts differ between samples
    assert np.all(a["ndp_counts"] == np.round(a["ndp_counts"]))
    total = a["ndp_expected"].sum(axis=1)
    assert np.all(np.abs(a["ndp_counts"].sum(axis=1) - total) < 5 * np.sqrt(total))
    assert not np.array_equal(a["ndp_expected"][0], a["ndp_expected"][1])


def test_any_sample_is_recomputed_bit_for_bit_from_the_store(tmp_path):
    run_sweep(_stack(), SweepDesign.from_table(TABLE), tmp_path / "s.zarr", batch_size=4)
    ds = open_dataset(tmp_path / "s.zarr")
    for i in (0, 7, 11):
        one = simulate_one(tmp_path / "s.zarr", i)
        for k, v in one.items():
            np.testing.assert_array_equal(v, ds[k].values[i])
    with pytest.raises(InterphaseInputError, match=r"i: must be in \[0, 12\)"):
        simulate_one(tmp_path / "s.zarr", 12)


def test_batch_sizes_and_an_interrupted_run_give_the_same_store(tmp_path):
    design = SweepDesign.from_table(TABLE)
    run_sweep(_stack(), design, tmp_path / "a.zarr", batch_size=12)
    run_sweep(_stack(), design, tmp_path / "b.zarr", batch_size=5)
    _, a = _arrays(tmp_path / "a.zarr")
    _, b = _arrays(tmp_path / "b.zarr")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # interrupt: a batch's data written but not marked done (the client killed in between)
    run_sweep(_stack(), design, tmp_path / "c.zarr", batch_size=5)
    import zarr

    group = zarr.open_group(str(tmp_path / "c.zarr"), mode="r+")
    group["done"][5:] = False
    group["ndp_counts"][5:10] = -1.0  # half-written garbage in the unmarked batch
    resumed = run_sweep(_stack(), design, tmp_path / "c.zarr", batch_size=3)  # the store keeps its batches
    assert resumed.computed == 7 and resumed.resumed == 5  # nothing computed twice
    _, c = _arrays(tmp_path / "c.zarr")
    for k in a:
        np.testing.assert_array_equal(a[k], c[k])
    again = run_sweep(_stack(), design, tmp_path / "c.zarr")
    assert again.computed == 0 and done_mask(tmp_path / "c.zarr").all()


def test_a_different_sweep_refuses_the_store_unless_overwritten(tmp_path):
    path = tmp_path / "s.zarr"
    run_sweep(_stack(), SweepDesign.from_table(TABLE), path, batch_size=6)
    other = SweepDesign.from_table({**TABLE, "seed": 4})
    with pytest.raises(InterphaseInputError, match="holds another sweep.*--overwrite"):
        run_sweep(_stack(), other, path)
    run = run_sweep(_stack(), other, path, overwrite=True)
    assert run.computed == 12
    np.testing.assert_array_equal(open_dataset(path)["seed"].values, other.sample_seeds())
    (tmp_path / "not_a_store").mkdir()
    with pytest.raises(InterphaseInputError, match="not a sweep store"):
        run_sweep(_stack(), other, tmp_path / "not_a_store")


def test_bad_names_fail_before_any_store_is_written(tmp_path):
    bad = SweepDesign.from_table({**TABLE, "parameters": {"SEI.thickness_nm": {"dist": "uniform", "low": 1,
                                                                                   "high": 2}}})
    with pytest.raises(InterphaseInputError, match="sweep.parameters.SEI.thickness_nm: not a Parameter"):
        run_sweep(_stack(), bad, tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize("workers", [0, -2, 1.5, "many", True])
def test_a_bad_worker_count_fails_before_any_store_is_written(tmp_path, workers):
    with pytest.raises(InterphaseInputError, match="workers: must be a whole number >= 1 or 'auto'"):
        run_sweep(_stack(), SweepDesign.from_table(TABLE), tmp_path / "s.zarr", workers=workers)
    assert not (tmp_path / "s.zarr").exists()


def test_warming_a_simulator_changes_no_sample():
    """What a worker runs before its first batch (each model once, noise included)."""
    from interphase_sim.sweep.simulate import SampleSimulator

    design = SweepDesign.from_table(TABLE)
    points, seeds = design.points(), design.sample_seeds()
    cold = SampleSimulator(_stack(), design).simulate_batch(points, seeds, 0, 4)
    warmed = SampleSimulator(_stack(), design)
    warmed.warm()
    for k, v in warmed.simulate_batch(points, seeds, 0, 4).items():
        np.testing.assert_array_equal(v, cold[k])


def test_batches_are_sized_by_their_bytes():
    """A 200 x 2048 EELS line scan is 1.6 MB a sample in float32: noisy and expected make
    ten samples a 32 MB batch; small NDP spectra fill a batch of 1024."""
    from interphase_sim.sweep.engine import BATCH_BYTES, DEFAULT_BATCH, _prepared, auto_batch_size

    stack = samples.load("li_sei_lipon")
    stack.sections["eels"].update(positions=200, channels=2048)
    for instruments, want in ((["eels"], BATCH_BYTES // (2 * 4 * 200 * 2048)), (["ndp"], DEFAULT_BATCH)):
        table = {**TABLE, "samples": 5000, "instruments": instruments,
                 "parameters": {"SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 60}}}
        sim = _prepared(stack.to_toml_string(), SweepDesign.from_table(table).to_dict()).simulator
        assert auto_batch_size(sim, 5000) == want
        assert auto_batch_size(sim, 3) == 3
