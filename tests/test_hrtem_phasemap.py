"""Phase maps: electron-intensity-weighted candidates and the per-window posterior.

Reference intensities come from pymatgen's ``TEMCalculator``, whose electron scattering
factors follow from X-ray form factors by the Mott-Bethe formula: an independent route
to the Lobato-van Dyck factors (tabulated in abTEM) that the package uses.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.analysis.diffraction.tem import TEMCalculator

from interphase_sim import InterphaseInputError, phases
from interphase_sim.hrtem.phasemap import candidate_reflections, electron_reflections, phase_map

SAMPLING = 0.1  # Å/pixel


def _pymatgen_intensity(name, hkl):
    tem = TEMCalculator()
    structure = phases.get(name).structure
    angles = tem.bragg_angles(tem.get_interplanar_spacings(structure, [tuple(hkl)]))
    return float(tem.cell_intensity(structure, angles)[tuple(hkl)])


@pytest.mark.parametrize("name", ["Li2O", "Li3N", "Li3P"])
def test_relative_electron_intensities_agree_with_pymatgen_mott_bethe(name):
    refl = electron_reflections(name, d_min_A=1.5)
    # per-reflection intensity: the family's sum over its multiplicity (families here are
    # symmetry-equivalent reflections, which share |F|)
    ours = {hkl: i / m for _, i, hkl, m in refl}
    ref = {hkl: _pymatgen_intensity(name, hkl) for hkl in ours}
    top = max(ours, key=ours.get)
    for hkl in ours:
        a, b = ours[hkl] / ours[top], ref[hkl] / ref[top]
        # the two parametrizations differ by a few % in f_e, which near-cancelling
        # reflections amplify: relative agreement for strong ones, absolute for weak
        if max(a, b) > 0.05:
            assert a == pytest.approx(b, rel=0.15), (name, hkl, a, b)
        else:
            assert abs(a - b) < 0.01, (name, hkl, a, b)
    if name == "Li2O":
        assert ref[(2, 0, 0)] / ref[(1, 1, 1)] < 1e-3  # the cancellation, by pymatgen too


def test_electron_cancellations_li2o_200_and_li3n_101():
    li2o = {hkl: i for _, i, hkl, _ in electron_reflections("Li2O", d_min_A=1.5)}
    # antifluorite (200): F = 4 (f_O - 2 f_Li), which nearly vanishes for electrons
    assert li2o[(2, 0, 0)] < 1e-3 * li2o[(1, 1, 1)]
    li3n = {hkl: i for _, i, hkl, _ in electron_reflections("Li3N", d_min_A=1.5)}
    # Li3N (101): F = f_N - 2 f_Li, small too, so it is no rival to bcc Li (110)
    assert li3n[(1, 0, 1)] < 0.02
    assert max(li3n.values()) == pytest.approx(1.0)
    # min_intensity drops such reflections
    weighted = candidate_reflections(["Li2O", "Li3N"], d_min_A=2.0, min_intensity=0.02)
    assert weighted["Li2O"]["d_A"] == pytest.approx([2.667], abs=2e-3)
    assert 2.448 not in np.round(weighted["Li3N"]["d_A"], 3)


def _fringes(pairs, shape=(300, 300)):
    """Cosine fringes: ``pairs`` of (spacing Å, direction rad), with mild noise."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] * SAMPLING
    img = sum(np.cos(2 * np.pi * (x * math.cos(a) + y * math.sin(a)) / d) for d, a in pairs)
    return img + 0.3 * rng.normal(size=shape)


def test_only_forbidden_spacings_above_d_min_give_no_reflection():
    """Li2O (fcc) has no (100) or (110): above 4 A only forbidden spacings remain, and
    rounding noise must not be normalized into a reflection of intensity 1."""
    assert electron_reflections("Li2O", d_min_A=4.0) == []
    assert electron_reflections("Li", d_min_A=3.0) == []  # bcc: (100) at 3.51 A is forbidden
    assert [r[2] for r in electron_reflections("Li2O", d_min_A=2.5)] == [(1, 1, 1)]


def test_one_spacing_of_a_phase_with_few_reflections_beats_a_rich_phase():
    # Li3PO4 has a strong 2.460 Å reflection 0.9 % from Li (110) 2.482 Å, but its weight is
    # shared among 16 spacings: a lone 2.48 Å fringe set is far likelier to be Li
    cands = candidate_reflections(["Li", "Li3PO4"], d_min_A=2.0)
    pm = phase_map(_fringes([(2.482, 0.4)]), SAMPLING, cands, window_nm=2.5, step_nm=2.5, min_peaks=1)
    assert np.all(pm.labels == "Li"), pm.labels
    assert np.all(pm.confidence > 0.8)
    # crossed Li3PO4 fringes (3.974 and 2.638 Å): Li2O (111) 2.667 Å is 1.1 % away, but
    # only Li3PO4 explains both
    cands = candidate_reflections(["Li", "Li2O", "Li3PO4"], d_min_A=2.0)
    pm = phase_map(_fringes([(3.974, 0.2), (2.638, 1.3)]), SAMPLING, cands, window_nm=2.5, step_nm=2.5)
    assert np.all(pm.labels == "Li3PO4"), pm.labels
    p = pm.probability
    assert np.all((p.sum(axis=-1) > 0.9) & (p.sum(axis=-1) <= 1.0))  # the rest: "none of them"
    assert np.all(p[..., pm.phase_names.index("Li3PO4")] == pm.confidence)


def test_coincident_spacings_are_left_unlabelled():
    # a phase listed twice under two names: every window is a tie, so none is labelled
    spec = candidate_reflections(["Li3N"], d_min_A=2.0)["Li3N"]
    pm = phase_map(_fringes([(3.866, 0.3), (3.163, 1.2)]), SAMPLING, {"A": spec, "B": spec},
                   window_nm=2.5, step_nm=2.5, min_probability=0.5)
    assert np.all(pm.labels == "") and np.all(pm.confidence == 0)
    p = pm.probability
    np.testing.assert_allclose(p[..., 0], p[..., 1])
    assert np.all(p[..., 0] > 0.45)  # each half of what "none" leaves


def test_peaks_no_candidate_explains_are_left_to_none():
    # a strong 2.39 Å fringe (no candidate has it) with a faint Li (110) fringe: with Li
    # as the only candidate the window must not be called Li just because Li is the
    # only name offered
    cands = candidate_reflections(["Li"], d_min_A=2.0)
    img = _fringes([(2.39, 0.4)]) + 0.2 * _fringes([(2.482, 1.3)])
    pm = phase_map(img, SAMPLING, cands, window_nm=2.5, step_nm=2.5, min_peaks=1)
    assert np.all(pm.labels == ""), (pm.labels, pm.probability)
    assert np.all(pm.probability[..., 0] < 0.5)
    # the kernel, with the faint Li peak detected: "none" stays the likelier reading, so
    # even a low min_probability cannot label the window (a label must beat "none")
    from interphase_sim.hrtem.phasemap import _window_posterior

    post, matched, _ = _window_posterior([(2.39, 999.0, 1000.0), (2.482, 99.0, 100.0)],
                                         {"Li": (np.array([2.482]), np.array([1.0]))}, 0.01, 1.0, 10.0)
    assert matched[0] == 1 and post[0] < 0.5 < 1.0 - post[0]
    # the clean Li fringe alone is Li
    pm = phase_map(_fringes([(2.482, 1.3)]), SAMPLING, cands, window_nm=2.5, step_nm=2.5, min_peaks=1)
    assert np.all(pm.labels == "Li") and np.all(pm.confidence > 0.9)


@settings(max_examples=30, deadline=None)
@given(r1=st.floats(10.0, 40.0), r2=st.floats(10.0, 40.0), off=st.floats(-0.015, 0.015))
def test_a_stronger_peak_is_more_convincing(r1, r2, off):
    # the per-window kernel: one peak near Li (110), its power r times the background
    # (prominence 10). Speckle reaches r with probability exp(-(r - 10)), so a stronger
    # peak is less likely speckle: the evidence it carries grows with r, for Li where it
    # matches (within 1.5 sigma), against Li where it does not (5 sigma off)
    from interphase_sim.hrtem.phasemap import _window_posterior

    cands = {"Li": (np.array([2.482]), np.array([1.0]))}

    def p_li(d, r):
        return _window_posterior([(d, r - 1.0, r)], cands, 0.01, 1.0, 10.0)[0][0]

    d = 2.482 * (1 + off)
    assert (p_li(d, r1) - p_li(d, r2)) * np.sign(r1 - r2) >= -1e-12
    far = 2.482 * 1.05
    assert (p_li(far, r1) - p_li(far, r2)) * np.sign(r1 - r2) <= 1e-12
    # just over the threshold a peak counts for less than a strong one
    weak = _window_posterior([(2.482, 11.0, 12.0)], cands, 0.01, 1.0, 10.0)[0][0]
    strong = _window_posterior([(2.482, 199.0, 200.0)], cands, 0.01, 1.0, 10.0)[0][0]
    # two threshold-level maxima merged into one spacing are still threshold-level
    merged = _window_posterior([(2.482, 18.0, 10.0)], cands, 0.01, 1.0, 10.0)[0][0]
    single = _window_posterior([(2.482, 9.0, 10.0)], cands, 0.01, 1.0, 10.0)[0][0]
    assert merged == pytest.approx(single)
    assert weak < 0.85 and strong > 0.95


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(1e-3, 1e3), reverse=st.booleans())
def test_posterior_ignores_weight_units_and_candidate_order(scale, reverse):
    img = _fringes([(3.866, 0.3), (3.163, 1.2)], shape=(250, 250))
    base = candidate_reflections(["Li3N", "Li3P", "Li"], d_min_A=2.0)
    ref = phase_map(img, SAMPLING, base, window_nm=2.5, step_nm=2.5)
    assert np.all(ref.labels == "Li3N")
    scaled = {k: {"d_A": v["d_A"], "weight": [w * scale for w in v["weight"]]} for k, v in base.items()}
    if reverse:
        scaled = dict(reversed(list(scaled.items())))
    out = phase_map(img, SAMPLING, scaled, window_nm=2.5, step_nm=2.5)
    np.testing.assert_array_equal(out.labels, ref.labels)
    order = [out.phase_names.index(n) for n in ref.phase_names]
    np.testing.assert_allclose(out.probability[..., order], ref.probability, atol=1e-12)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: electron_reflections("Li2O", min_intensity=1.0), "min_intensity"),
        (lambda: electron_reflections("Li2O", d_min_A=0.0), "d_min_A"),
        (lambda: electron_reflections("Li2O", min_intensity="abc"), "min_intensity"),
        (lambda: candidate_reflections(None), "phase_names"),
        (lambda: phase_map(np.zeros((256, 256)), SAMPLING, {"Li": [2.48]}, window_nm=2.0, min_probability=True),
         "min_probability"),
        (lambda: phase_map(np.zeros((64, 64)), SAMPLING, {"Li": {"d_A": [2.48, 1.75], "weight": [1.0]}},
                           window_nm=2.0), "candidates['Li'].weight"),
        (lambda: phase_map(np.zeros((256, 256)), SAMPLING, {"Li": [2.48]}, window_nm=2.0, min_probability=1.5),
         "min_probability"),
        (lambda: phase_map(np.zeros((256, 256)), SAMPLING, {"Li": [2.48]}, window_nm=2.0, tolerance=0.3),
         "tolerance"),
    ],
)
def test_bad_input_names_the_field(call, field):
    with pytest.raises(InterphaseInputError) as err:
        call()
    assert err.value.field == field
