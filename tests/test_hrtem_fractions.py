"""Phase-map label fractions: the label confusion, its use in StackPhaseFractions, grain-counted errors."""

import numpy as np
import pytest

from interphase_sim import InterphaseInputError
from interphase_sim.hrtem.fitting import (
    LabelConfusion,
    PhaseMapTruth,
    StackPhaseFractions,
    label_confusion,
    phase_map_depth_fractions,
)
from interphase_sim.hrtem.phasemap import PhaseMap
from interphase_sim.sample.stack import Layer, Stack

TRUE = ["LiPON", "Li2O", "Li3N"]


def _map(labels, depth_nm=None, window_nm=1.0, step_nm=1.0):
    labels = np.asarray(labels, dtype=object)
    zeros = np.zeros(labels.shape)
    depth = np.arange(labels.shape[0], dtype=float) if depth_nm is None else np.asarray(depth_nm, dtype=float)
    return PhaseMap(labels=labels, confidence=zeros, probability=np.zeros((*labels.shape, 2)),
                    phase_names=["Li2O", "Li3N"], score=zeros, depth_nm=depth,
                    lateral_nm=np.arange(labels.shape[1], dtype=float), window_nm=window_nm, step_nm=step_nm)


def _calibration():
    """Rows of 10 windows: 10 of Li2O (6 labelled Li2O, 2 Li3N, 2 none), 10 of Li3N (5 Li3N),
    10 of LiPON (none), and 10 half Li2O, half LiPON (3 Li2O, 1 Li3N): rates known exactly."""
    labels = np.full((4, 10), "", dtype=object)
    labels[0, :6], labels[0, 6:8] = "Li2O", "Li3N"
    labels[1, :5] = "Li3N"
    labels[3, :3], labels[3, 3] = "Li2O", "Li3N"
    fr = np.zeros((4, 10, 3))
    fr[0, :, 1] = fr[1, :, 2] = fr[2, :, 0] = 1.0
    fr[3, :, 0] = fr[3, :, 1] = 0.5
    return _map(labels), PhaseMapTruth(fractions=fr, phase_names=list(TRUE))


def test_label_confusion_regresses_labels_on_the_windows_make_up():
    pm, truth = _calibration()
    c = label_confusion(pm, truth)
    assert isinstance(c, LabelConfusion) and c.labels == ["Li2O", "Li3N"] and c.phase_names == TRUE
    assert c.windows == 40
    np.testing.assert_allclose(c.content, [15.0, 15.0, 10.0])
    # the half windows' labels (0.3 Li2O, 0.1 Li3N) come from their Li2O, not from LiPON
    np.testing.assert_allclose(c.rates, [[0.0, 0.6, 0.0], [0.0, 0.2, 0.5]], atol=1e-9)
    # a window's label probabilities are linear in its make-up
    np.testing.assert_allclose(c.label_rates([0.0, 0.5, 0.5]), 0.5 * (c.rates[:, 1] + c.rates[:, 2]))
    # pooled maps: the same rates from two copies
    both = label_confusion([pm, pm], [truth, truth])
    np.testing.assert_allclose(both.rates, c.rates, atol=1e-9)
    assert both.windows == 80


def test_label_confusion_checks_its_inputs():
    pm, truth = _calibration()
    with pytest.raises(InterphaseInputError, match="one truth per map"):
        label_confusion([pm, pm], [truth])
    bad = PhaseMapTruth(fractions=np.zeros((3, 10, 3)), phase_names=list(TRUE))
    with pytest.raises(InterphaseInputError, match="truth of"):
        label_confusion(pm, bad)
    empty = _map(np.full((4, 10), "", dtype=object))
    with pytest.raises(InterphaseInputError, match="no window"):
        label_confusion(empty, truth)


def _stack():
    return Stack([
        Layer("top", {"Li3N": 0.8, "LiPON": 0.2}, thickness_nm=10.0, grain_size_nm=4.0),
        Layer("bottom", {"Li2O": 0.6, "Li3N": 0.2, "LiPON": 0.2}, thickness_nm=10.0, grain_size_nm=4.0),
    ])


def _fractions():
    labels = np.array([["Li3N", "", "Li3N", "Li3N"], ["Li3N", "Li3N", "", "Li3N"],
                       ["Li2O", "Li2O", "Li3N", "Li2O"], ["Li2O", "", "Li2O", "Li2O"]], dtype=object)
    return phase_map_depth_fractions(_map(labels, [3.0, 7.0, 13.0, 17.0]), ["Li2O", "Li3N"])


def test_stack_fractions_through_a_confusion():
    meas = _fractions()
    plain = StackPhaseFractions(_stack(), window_nm=2.0).expected(meas)
    # perfect labels that see every crystal alike: the same as labels taken for phases
    exact = LabelConfusion(rates=np.array([[0.0, 0.4, 0.0], [0.0, 0.0, 0.4]]), labels=["Li2O", "Li3N"],
                           phase_names=list(TRUE), content=np.ones(3), windows=1)
    np.testing.assert_allclose(StackPhaseFractions(_stack(), 2.0, confusion=exact).expected(meas), plain, atol=1e-12)
    # Li2O labelled Li3N as often as Li2O: the bottom layer's Li3N labels are
    # (0.2 + 0.5 x 0.6) / 0.8 = 0.625 of its labels, not 0.25
    mixed = LabelConfusion(rates=np.array([[0.0, 0.2, 0.0], [0.0, 0.2, 0.4]]), labels=["Li2O", "Li3N"],
                           phase_names=list(TRUE), content=np.ones(3), windows=1)
    exp = StackPhaseFractions(_stack(), 2.0, confusion=mixed).expected(meas)
    np.testing.assert_allclose(exp.sum(axis=1), 1.0)
    np.testing.assert_allclose(exp[2:, 1], (0.2 * 0.4 + 0.6 * 0.2) / (0.2 * 0.4 + 0.6 * 0.4), atol=1e-6)
    np.testing.assert_allclose(exp[:2, 1], 1.0, atol=1e-6)


def test_stack_fractions_refuse_an_unfit_confusion():
    meas = _fractions()
    no_lipon = LabelConfusion(rates=np.eye(2), labels=["Li2O", "Li3N"], phase_names=["Li2O", "Li3N"],
                              content=np.ones(2), windows=1)
    with pytest.raises(InterphaseInputError, match="LiPON"):
        StackPhaseFractions(_stack(), 2.0, confusion=no_lipon)
    one_label = LabelConfusion(rates=np.array([[0.0, 0.4, 0.0]]), labels=["Li2O"], phase_names=list(TRUE),
                               content=np.ones(3), windows=1)
    with pytest.raises(InterphaseInputError, match="Li3N are not calibrated"):
        StackPhaseFractions(_stack(), 2.0, confusion=one_label).expected(meas)
    with pytest.raises(InterphaseInputError, match="LabelConfusion"):
        StackPhaseFractions(_stack(), 2.0, confusion=np.eye(2))


def test_fraction_errors_count_grains_not_windows():
    # 8 rows x 16 columns of 1 nm windows at 1 nm: each row 16 independent windows
    labels = np.full((8, 16), "Li3N", dtype=object)
    labels[:, ::4] = "Li2O"
    pm = _map(labels)
    default = phase_map_depth_fractions(pm, ["Li2O", "Li3N"])
    np.testing.assert_allclose(default.values[:, 0], 0.25)
    # the shares of a row are one multinomial draw: sqrt(f / n) each, so that the chi-square
    # over both shares is the binomial one of either share alone (not twice it)
    np.testing.assert_allclose(default.uncertainties, np.sqrt(np.array([0.25, 0.75]) / 16)[None, :].repeat(8, 0))
    shift = np.array([0.05, -0.05])  # a model 5 % off
    chi2 = np.sum((shift / default.uncertainties[0]) ** 2)
    assert chi2 == pytest.approx(0.05**2 * 16 / (0.25 * 0.75))
    assert default.metadata["n_eff"] == [16.0] * 8
    # 2 nm grains: 4 windows per grain, a row holds 4 independent labels
    grains = phase_map_depth_fractions(pm, ["Li2O", "Li3N"], correlation_nm=2.0)
    np.testing.assert_allclose(grains.values, default.values)
    np.testing.assert_allclose(grains.uncertainties, 2.0 * default.uncertainties)
    # a correlation length under the window changes nothing; never fewer than one label
    np.testing.assert_allclose(phase_map_depth_fractions(pm, ["Li2O", "Li3N"], correlation_nm=0.5).uncertainties,
                               default.uncertainties)
    wide = phase_map_depth_fractions(pm, ["Li2O", "Li3N"], correlation_nm=100.0)
    assert wide.metadata["n_eff"] == [1.0] * 8
    np.testing.assert_allclose(wide.uncertainties, np.sqrt([[0.25, 0.75]] * 8))  # floored at 0.5 / n_eff
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(InterphaseInputError, match="correlation_nm"):
            phase_map_depth_fractions(pm, correlation_nm=bad)
