"""Layer thicknesses fitted to HRTEM phase maps have honest errors: pulls over seeds.

Six small noise-free lamellas of the shipped Li | SEI | LiPON sample (6 nm wide, 5 nm
thick, depths 1490-1580 nm: the last 10 nm of LiPON, both SEI sublayers and 10 nm of
Li, so both SEI thicknesses have a boundary in view) are imaged and mapped by
``run_hrtem``. Each map's SEI-outer and SEI-inner thicknesses are fitted from 1.2 x and
0.85 x the truth (30 and 40 nm). The label confusion of each fit is calibrated on the
other five runs (leave one out), so no map is fitted with its own truth.

Today's model (labels taken for phases, binomial errors over overlapping windows)
fails on these seeds: pulls (fitted - truth) / stderr, SEI-outer / SEI-inner

    seed      7             8             9             10            11            12
    old   -0.61 / -0.88  +3.33 / -1.83  +4.10 / -0.32  +9.21 / -8.55  +1.57 / -0.14  +1.38 / -1.31
    new   -0.11 / -0.84  +2.06 / -1.01  +1.06 / +0.44  +0.83 / -1.34  +0.34 / +0.41  +0.37 / -0.40

old: mean +3.16 / -2.17, RMS 4.42 / 3.63; new: mean +0.76 / -0.46, RMS 1.03 / 0.82.
(Seed 10: a Li3N grain fills the 1557-1563 nm bin; eleven overlapping windows counted
as 2.75 labels give that bin an error of 0.18, and the fit moves the SEI-outer/inner
boundary 30 nm to reach it.) The same comparison on seeds 1-24 in blocks of six,
old / new: seeds 1-6 mean -0.27 / +0.41 and -0.40 / +0.68, RMS 1.06 / 1.23 and
0.73 / 1.15 (the only block the old model passes); 13-18: RMS 1.58 / 1.97 against
0.95 / 1.34; 19-24: mean +1.94 / +0.27, RMS 2.85 / 1.21 against mean +0.21 / +0.35,
RMS 0.72 / 0.92. All 24: old mean +1.33 / -0.39, RMS 2.80 / 2.24; new mean
+0.25 / +0.13, RMS 0.87 / 1.07.
"""

import warnings

import numpy as np
import pytest

from interphase_sim import samples
from interphase_sim.fit import Objective, fit
from interphase_sim.hrtem.fitting import StackPhaseFractions, label_confusion, phase_map_depth_fractions
from interphase_sim.hrtem.workflow import run_hrtem

SEEDS = (7, 8, 9, 10, 11, 12)
SETTINGS = {"lateral_nm": 6.0, "thickness_nm": 5.0, "depth_range_nm": [1490.0, 1580.0]}
THICKNESSES = ("SEI-outer.thickness_nm", "SEI-inner.thickness_nm")
START = (1.2, 0.85)


@pytest.fixture(scope="module")
def runs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few grains cannot meet the fractions
        return {s: run_hrtem(samples.load("li_sei_lipon"), {**SETTINGS, "seed": s}) for s in SEEDS}


def _pull(run, fractions, confusion):
    """(fitted - truth) / stderr of the SEI thicknesses, from a start off the truth."""
    stack = samples.load("li_sei_lipon")
    params = stack.parameters()
    truth = {n: params[n].value for n in THICKNESSES}
    for name, factor in zip(THICKNESSES, START):
        params[name].value = truth[name] * factor
    model = StackPhaseFractions(stack, window_nm=2.0 * run.phase_map.window_nm, confusion=confusion)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the old model's fits can end at a bound
        result = fit(Objective(model, fractions, loss="gaussian"))
    return [(result.values[n] - truth[n]) / result.stderr[n] for n in THICKNESSES]


def _stats(pulls):
    p = np.asarray(pulls)
    return p.mean(axis=0), np.sqrt((p**2).mean(axis=0))


@pytest.mark.slow
def test_thickness_pulls_from_phase_maps_are_calibrated(runs):
    new, old = [], []
    for seed, run in runs.items():
        others = [r for s, r in runs.items() if s != seed]
        labels = sorted(run.candidates)
        confusion = label_confusion([r.phase_map for r in others], [r.truth for r in others], labels)
        # run_hrtem's fractions count grains (correlation_nm = the 5 nm grains)
        new.append(_pull(run, run.depth_fractions, confusion))
        binomial = phase_map_depth_fractions(run.phase_map, labels, bin_nm=2.0 * run.phase_map.window_nm)
        old.append(_pull(run, binomial, None))
    mean, rms = _stats(new)
    assert np.all(np.abs(mean) < 1.0), (mean, new)
    assert np.all((rms >= 0.5) & (rms <= 1.6)), (rms, new)
    # labels taken for phases with window-counted binomial errors: biased and overconfident
    old_mean, old_rms = _stats(old)
    assert np.any(np.abs(old_mean) >= 1.0) or np.any(old_rms > 1.6), (old_mean, old_rms, old)
