"""HRTEM sweeps: microscope-only parameters share one multislice; samples of a batch that
share a structure share one; each image is what the model gives on its own."""

from dataclasses import replace

import numpy as np
import pytest

from interphase_sim import InterphaseInputError
from interphase_sim.hrtem.model import HRTEMModel
from interphase_sim.sample.stack import Layer, Stack
from interphase_sim.sweep import SweepDesign
from interphase_sim.sweep.engine import _prepared, run_sweep
from interphase_sim.sweep.store import open_dataset, simulate_one

HRTEM = {"lateral_nm": 2.0, "thickness_nm": 1.5, "sampling_A": 0.25, "seed": 1, "aperture_mrad": 20.0,
         "depth_range_nm": [0.0, 3.0], "dose_e_per_A2": 2000.0}


def _stack():
    stack = Stack([Layer("top", {"Li2O": 1.0}, 2.0, grain_size_nm=1.5), Layer("Li", {"Li": 1.0}, "inf")])
    stack.sections["hrtem"] = dict(HRTEM)
    return stack


def _simulator(stack, table):
    return _prepared(stack.to_toml_string(), SweepDesign.from_table(table).to_dict()).simulator


def test_a_microscope_sweep_runs_one_multislice_and_each_image_is_the_models(tmp_path):
    table = {"design": "grid", "seed": 2, "instruments": ["hrtem"], "outputs": ["noisy", "expected"],
             "parameters": {"hrtem.defocus_A": {"values": [-50.0, 0.0, 150.0]}, "hrtem.Cs_mm": {"values": [0.5, 1.2]}}}
    stack = _stack()
    run = run_sweep(stack, SweepDesign.from_table(table), tmp_path / "h.zarr", batch_size=6)
    assert run.computed == 6
    assert _simulator(stack, table).models["hrtem"].multislice_runs == 1  # one exit wave, six transfer functions
    ds = open_dataset(tmp_path / "h.zarr")
    images = ds["hrtem_expected"].values
    assert ds["hrtem_expected"].dims == ("sample", "hrtem_depth", "hrtem_lateral")
    assert all(not np.allclose(images[0], images[j]) for j in range(1, 6))
    # sample 3 (defocus 150 Å, Cs 0.5 mm) from a model of its own
    model = HRTEMModel.from_stack(_stack())
    model.defocus_A.value = 150.0
    own = model.image(replace(model.microscope, Cs_mm=0.5, defocus_A=150.0)).values
    assert float(ds["hrtem.defocus_A"][4]) == 150.0 and float(ds["hrtem.Cs_mm"][4]) == 0.5
    np.testing.assert_allclose(images[4], own.astype("f4"), rtol=1e-5, atol=1e-6)
    image_axes = model.image(replace(model.microscope, Cs_mm=0.5, defocus_A=150.0)).axes  # the layout's, unimaged
    for axis, name in zip(image_axes, ("hrtem_depth", "hrtem_lateral")):
        np.testing.assert_array_equal(ds[name].values, axis.values)
    # noisy images are shot noise at the dose around the expected ones, and recomputed bit for bit
    noisy = ds["hrtem_counts"].values
    assert not np.array_equal(noisy[0], images[0]) and abs(noisy[0].mean() / images[0].mean() - 1) < 0.02
    np.testing.assert_array_equal(simulate_one(tmp_path / "h.zarr", 4)["hrtem_counts"], noisy[4])


def test_samples_of_a_batch_that_share_a_structure_share_one_multislice(tmp_path):
    """A grid listing defocus first alternates thicknesses; the batch is computed thickness
    by thickness, so two structures cost two multislices, not four."""
    table = {"design": "grid", "seed": 2, "instruments": ["hrtem"], "outputs": ["expected"],
             "parameters": {"hrtem.defocus_A": {"values": [0.0, 100.0]}, "top.thickness_nm": {"values": [1.5, 2.5]}}}
    stack = _stack()
    run_sweep(stack, SweepDesign.from_table(table), tmp_path / "g.zarr", batch_size=4)
    # the store's layout needs no multislice (the model knows its grid): one per thickness
    assert _simulator(stack, table).models["hrtem"].multislice_runs == 2
    ds = open_dataset(tmp_path / "g.zarr")
    one = simulate_one(tmp_path / "g.zarr", 1)  # recomputed alone, in a fresh simulator
    np.testing.assert_array_equal(one["hrtem_expected"], ds["hrtem_expected"].values[1])


def test_a_setting_that_changes_the_image_axes_is_refused_with_its_name(tmp_path):
    table = {"design": "grid", "seed": 2, "instruments": ["hrtem"], "outputs": ["expected"],
             "parameters": {"hrtem.lateral_nm": {"values": [2.0, 2.5]}}}
    with pytest.raises(InterphaseInputError, match=r"sweep.parameters.hrtem.lateral_nm: changes the instrument's"):
        run_sweep(_stack(), SweepDesign.from_table(table), tmp_path / "a.zarr", batch_size=2)
    assert not (tmp_path / "a.zarr").exists()  # refused before the store is laid out