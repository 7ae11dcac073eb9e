"""The validation report's two science studies (``study-ndp-detectability`` and
``study-information``): both run in quick mode, their rows pass and their figures exist;
the NDP detectability threshold falls with counts and rises with the detector FWHM; the
Asimov statistic is linear in the counts; Fisher information adds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interphase_sim.validation import studies_information as info
from interphase_sim.validation import studies_ndp as ndp

KEYS = ("study-ndp-detectability", "study-information")


def test_quick_studies_pass_and_write_their_figures(quick_sections):
    """The session's quick report (``validate --quick``, written): both studies there."""
    sections, out = quick_sections
    studies = [sections[k] for k in KEYS]
    assert [s.title.split(":")[0] for s in studies] == ["Study", "Study"]
    for section in studies:
        assert section.rows, section.title
        failed = [(r.name, r.value, r.reference, r.note) for r in section.rows if not r.ok]
        assert not failed, failed
        assert section.figures
        for name, _ in section.figures:
            assert (out / name).is_file() and (out / name).stat().st_size > 1000
    text = (out / "report.md").read_text()
    assert "Detectable SEI thickness" in text and "| li_sei_lipon: parameter" in text
    assert "| lnmo_lipon: parameter" in text


def test_detectable_thickness_falls_with_counts_and_rises_with_fwhm():
    grid = ndp.detectability_grid(np.geomspace(10.0, 400.0, 6), [10.0, 40.0], [1e11, 1e13])
    thr = grid.threshold_nm
    assert np.all(np.isfinite(thr)), thr
    assert np.all(thr[1] < thr[0]), thr  # 100x the counts: a thinner SEI is seen
    assert np.all(thr[:, 1] > thr[:, 0]), thr  # 4x the FWHM: a thicker one is needed
    assert np.all(np.diff(grid.q_ref, axis=1) > 0)  # q grows with the SEI's thickness


def test_threshold_interpolation_is_exact_for_a_power_law():
    t = np.geomspace(5.0, 500.0, 7)
    q_ref = 2.0 * t**3  # at the reference fluence
    fluence = ndp.REFERENCE_FLUENCE * 1e-4
    expected = (ndp.Q_DETECT / (2.0 * 1e-4)) ** (1 / 3)
    assert ndp.threshold_nm(t, q_ref, fluence) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(ndp.threshold_nm(t, q_ref, ndp.REFERENCE_FLUENCE * 1e-12))  # beyond the grid


def test_asimov_deviance_is_linear_in_the_counts():
    from interphase_sim.fit import Objective

    q = []
    for fluence in (1e12, 1e13):
        data = ndp.expected_spectrum(40.0, 20.0, fluence)
        null = ndp._model_at("null", 20.0, fluence, lipon_nm=1530.0, width_nm=15.0)
        q.append(Objective(null, data).statistic())
    assert q[0] > 0
    assert q[1] / q[0] == pytest.approx(10.0, rel=1e-6)


def test_combined_sigma_adds_information_and_flags_blind_parameters():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(30, 3))
    parts = [(["x", "y", "z"], a.T @ a), (["x", "y"], np.diag([4.0, 0.0]))]
    studied = ["x", "y", "z", "w"]
    single = info.combined_sigma(parts[:1], studied)
    both = info.combined_sigma(parts, studied)
    assert math.isinf(single["w"]) and math.isinf(both["w"])  # no instrument sees w
    for n in "xyz":
        assert both[n] <= single[n] * (1 + 1e-12)
    cov = np.linalg.inv(a.T @ a)
    assert single["z"] == pytest.approx(math.sqrt(cov[2, 2]), rel=1e-9)
    # y and a nuisance seen only together: singular, "no sensitivity"
    blind = info.combined_sigma([(["y", "n"], np.ones((2, 2)))], ["y"])
    assert math.isinf(blind["y"])
