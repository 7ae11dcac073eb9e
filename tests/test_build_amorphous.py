"""Amorphous builder: composition, density, short-range order, no Bragg peaks, speed."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from interphase_sim import InterphaseInputError, phases
from interphase_sim.build.amorphous import (
    _round_counts,
    amorphous,
    amorphous_fill,
    structure_factor,
    structure_report,
)
from interphase_sim.sample.phases import Phase

# Li2.9PO3.3N0.46 per P (Bates et al. 1992; docs/references.md)
LIPON_PER_P = {"Li": 2.9, "P": 1.0, "O": 3.3, "N": 0.46}


def has_bragg_peaks(q, s):
    """The 'long-range order' criterion: a peak of S(q) above 3 (a glass stays near 1-2)."""
    return bool(np.max(s[q > 0.5]) > 3.0)


@pytest.fixture(scope="module")
def lipon():
    return amorphous(phases.get("LiPON"), (4.0, 4.0, 4.0), seed=11)


@pytest.fixture(scope="module")
def report(lipon):
    return structure_report(lipon)


def counts_of(symbols):
    el, n = np.unique(np.asarray(symbols), return_counts=True)
    return dict(zip(el.tolist(), n.tolist()))


def test_composition_within_3_percent(lipon, report):
    c = counts_of(lipon.get_chemical_symbols())
    assert c == report.counts
    for el, per_p in LIPON_PER_P.items():
        assert c[el] / c["P"] == pytest.approx(per_p, rel=0.03), el
    assert lipon.info["composition_max_rel_error"] < 0.01


def test_density_within_3_percent(lipon, report):
    assert report.density_g_cm3 == pytest.approx(2.4, rel=0.03)
    # the report weighs atoms with ASE's masses, the builder with pymatgen's (the phase's)
    assert report.density_g_cm3 == pytest.approx(lipon.info["density_g_cm3"], rel=1e-4)
    assert lipon.info["density_g_cm3"] == pytest.approx(2.4, rel=0.01)  # the builder's own promise


def test_density_follows_the_parameter():
    ph = phases.get("LiPON")
    ph.density_parameter.value = 2.3
    atoms = amorphous(ph, (2.5, 2.5, 2.5), seed=3)
    assert structure_report(atoms).density_g_cm3 == pytest.approx(2.3, rel=0.01)


def test_no_pair_closer_than_1p4_A_periodic(lipon, report):
    tree = cKDTree(lipon.positions, boxsize=np.diag(lipon.cell[:]))  # independent of the report code
    assert len(tree.query_pairs(1.4)) == 0
    assert report.min_distance_A >= 1.4


def test_atoms_inside_the_cell(lipon):
    box = np.diag(lipon.cell[:])
    assert np.all(lipon.positions >= 0.0) and np.all(lipon.positions < box)
    assert np.allclose(lipon.cell[:], np.diag([40.0, 40.0, 40.0])) and all(lipon.pbc)


def test_short_range_order(report):
    assert report.fraction_P_4fold >= 0.95
    assert 1.53 <= report.mean_P_O_A <= 1.65
    assert 1.55 <= report.mean_P_N_A <= 1.75
    assert 1.9 <= report.mean_Li_O_nearest_A <= 2.2
    r = report.r_A
    assert 1.45 < r[np.argmax(report.g_partial["P-O"])] < 1.65
    assert 1.8 < r[np.argmax(report.g_partial["Li-O"])] < 2.2


def test_nitrogen_both_bridging_and_apical(lipon, report):
    assert report.n_N_bridging > 0 and report.n_N_apical > 0
    n_total = report.counts["N"]
    assert report.n_N_bridging + report.n_N_apical == n_total
    # default split: half of the N bridges (the composition allows up to 0.24 per P)
    assert report.n_N_bridging == lipon.info["n_bridging_N"] == pytest.approx(n_total / 2, abs=1)


def test_bridging_fraction_zero_puts_all_n_apical():
    r = structure_report(amorphous("LiPON", (2, 2, 2), seed=5, n_bridging_fraction=0.0))
    assert r.n_N_bridging == 0 and r.n_N_apical == r.counts["N"]
    assert r.fraction_P_4fold == 1.0  # the bridges are P-O-P instead


def test_no_bragg_peaks_but_crystal_has_them(lipon):
    from pymatgen.io.ase import AseAtomsAdaptor

    q, s = structure_factor(lipon)
    assert q.shape == s.shape == (300,) and q.max() == pytest.approx(6.0)
    assert not has_bragg_peaks(q, s)
    assert 1.0 < s.max() < 3.0  # a first sharp peak, not flat noise
    crystal = AseAtomsAdaptor.get_atoms(phases.get("Li2O").structure) * (9, 9, 9)
    qc, sc = structure_factor(crystal)
    assert has_bragg_peaks(qc, sc)  # the criterion can fail
    # the strongest crystal peak is the Li2O (220) reflection, q = 2 pi / 1.63 Å
    assert qc[np.argmax(sc)] == pytest.approx(2 * np.pi / 1.633, abs=0.1)


def test_same_seed_same_structure_other_seed_differs():
    a = amorphous("LiPON", (2, 2, 2), seed=7)
    b = amorphous("LiPON", (2, 2, 2), seed=7)
    c = amorphous("LiPON", (2, 2, 2), seed=8)
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    assert np.array_equal(a.positions, b.positions)
    assert len(a) == len(c) and not np.allclose(a.positions, c.positions)


def test_fill_keeps_only_atoms_inside_and_whole_units():
    cell = np.array([30.0, 30.0, 30.0])

    def slab(p):
        return (p[:, 2] >= 8.0) & (p[:, 2] < 22.0)

    symbols, pos = amorphous_fill("LiPON", cell, slab, seed=4)
    symbols = np.array(symbols)
    assert pos.shape == (len(symbols), 3) and slab(pos).all()
    c = counts_of(symbols)
    assert c["Li"] / c["P"] == pytest.approx(2.9, rel=0.03)  # balanced
    assert (c["O"] + c["N"]) / c["P"] == pytest.approx(3.76, rel=0.03)
    is_p, is_x = symbols == "P", np.isin(symbols, ["O", "N"])
    tree_x = cKDTree(pos[is_x], boxsize=cell)
    n_bonds = np.array([len(b) for b in tree_x.query_ball_point(pos[is_p], 2.0)])
    assert np.all(n_bonds == 4)  # every kept PO4 / PO3N is whole
    tree_p = cKDTree(pos[is_p], boxsize=cell)
    assert np.all(tree_p.query(pos[is_x])[0] < 2.0)  # no anion lost its P


def test_fill_checks_the_mask():
    with pytest.raises(InterphaseInputError, match="inside"):
        amorphous_fill("LiPON", (12, 12, 12), lambda p: np.ones(3, bool), seed=0)
    with pytest.raises(InterphaseInputError, match="inside"):
        amorphous_fill("LiPON", (12, 12, 12), "not a function", seed=0)


@pytest.mark.parametrize("box", [(0, 2, 2), (2, -1, 2), (2, 2, float("nan")), (2, 2), "big", (0.5, 2, 2)])
def test_bad_box(box):
    with pytest.raises(InterphaseInputError, match="box_nm"):
        amorphous("LiPON", box, seed=0)


def test_box_over_budget_refused_before_allocating():
    t = time.perf_counter()
    with pytest.raises(InterphaseInputError, match=r"about 2,7\d\d,\d{3},\d{3} atoms") as err:
        amorphous("LiPON", (300, 300, 300), seed=0)  # ~2.7e9 atoms
    assert time.perf_counter() - t < 1.0
    assert err.value.field == "box_nm"
    with pytest.raises(InterphaseInputError, match="max_atoms"):
        amorphous("LiPON", (2, 2, 2), seed=0, max_atoms=100)


def test_crystal_phase_refused():
    with pytest.raises(InterphaseInputError, match="crystal builder"):
        amorphous(phases.get("Li2O"), (2, 2, 2), seed=0)


@pytest.mark.parametrize("kw", [dict(min_distance_A=0.1), dict(n_bridging_fraction=1.5), dict(max_atoms=0)])
def test_bad_options(kw):
    with pytest.raises(InterphaseInputError, match=next(iter(kw))):
        amorphous("LiPON", (2, 2, 2), seed=0, **kw)


def test_random_packing_without_phosphate():
    ph = Phase.amorphous("a-Li3N", "Li3N", 1.29)
    atoms = amorphous(ph, (2.5, 2.5, 2.5), seed=1)
    r = structure_report(atoms)
    assert atoms.info["structure_model"] == "random packing"
    assert r.counts["Li"] == 3 * r.counts["N"]
    assert r.density_g_cm3 == pytest.approx(1.29, rel=0.01)
    assert r.min_distance_A >= 1.85  # Li-N minimum 1.9 Å, within the relaxation tolerance


def test_amorphous_li3po4_monomers_and_free_oxide():
    a = structure_report(amorphous(Phase.amorphous("a-Li3PO4", "Li3PO4", 2.3), (2, 2, 2), seed=2))
    assert a.fraction_P_4fold == 1.0 and a.n_N_bridging == 0
    b = amorphous(Phase.amorphous("x", "Li5PO4.5", 2.2), (2, 2, 2), seed=2)  # Li3PO4 + Li2O
    assert b.info["n_free_anions"] == pytest.approx(0.5 * b.info["n_chains"], abs=1)
    assert structure_report(b).fraction_P_4fold == 1.0


def test_report_needs_an_orthorhombic_periodic_cell(lipon):
    skew = lipon.copy()
    skew.set_cell([[40, 0, 0], [5, 40, 0], [0, 0, 40]])
    with pytest.raises(InterphaseInputError, match="orthorhombic"):
        structure_report(skew)


@settings(max_examples=40, deadline=None)
@given(
    density=st.floats(0.3, 6.0),
    edges=st.tuples(*[st.floats(1.0, 30.0)] * 3),
    formula=st.sampled_from(["Li2.9PO3.3N0.46", "Li3PO4", "Li2O", "LiNi0.5Mn1.5O4", "Li3N"]),
)
def test_rounding_keeps_density_and_composition(density, edges, formula):
    ph = Phase.amorphous("x", formula, density)
    volume = float(np.prod(edges))
    counts = _round_counts(ph.number_density(), volume)
    ideal = ph.total_number_density() * volume
    total = sum(counts.values())
    assert abs(total - ideal) <= max(0.0025 * ideal, 0.5) + 1e-9
    fractions = {str(e): v for e, v in ph.composition.fractional_composition.get_el_amt_dict().items()}
    for el, n in counts.items():
        # no element is off by more than one atom from its exact share of the total
        assert abs(n - fractions[el] * total) < 1.0 + 1e-9


@settings(max_examples=12, deadline=None)
@given(edges=st.tuples(*[st.floats(1.0, 1.8)] * 3), seed=st.integers(0, 2**31))
def test_small_boxes_of_any_shape(edges, seed):
    atoms = amorphous("LiPON", edges, seed=seed)
    box = np.diag(atoms.cell[:])
    assert np.allclose(box, 10 * np.array(edges))
    assert np.all((atoms.positions >= 0) & (atoms.positions < box))
    assert len(cKDTree(atoms.positions, boxsize=box).query_pairs(1.4)) == 0
    assert structure_report(atoms, r_max_A=4.0).fraction_P_4fold >= 0.95


@pytest.mark.slow
def test_min_distance_floor_applies_to_non_bonded_pairs():
    atoms = amorphous("LiPON", (2, 2, 2), seed=1, min_distance_A=2.0)
    sym = np.array(atoms.get_chemical_symbols())
    pairs = cKDTree(atoms.positions, boxsize=np.diag(atoms.cell[:])).query_pairs(2.0, output_type="ndarray")
    kinds = {tuple(sorted(k)) for k in sym[pairs].tolist()}
    assert kinds <= {("N", "P"), ("O", "P")}  # only the P-O / P-N bonds are shorter
    assert len(pairs) == 4 * np.sum(sym == "P")  # four bonds per P, bridges counted from each side
