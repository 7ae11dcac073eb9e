"""Voronoi mosaics of nanocrystallites in an amorphous matrix (the multilayer-mosaic)."""

import importlib.util
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from scipy.stats import spearmanr

from interphase_sim import InterphaseInputError, phases
from interphase_sim.core.constants import MIN_DISTANCE_A
from interphase_sim.build.mosaic import _voronoi_cells, assign_phases, grain_seeds, mosaic_fill

MIX = {"Li2O": 0.5, "Li3N": 0.3, "LiPON": 0.2}


def standin_amorphous_fill(phase, cell_A, inside, seed):
    """Random packing at the phase's number density, close pairs removed.

    A stand-in with the signature of interphase_sim.build.amorphous.amorphous_fill, so
    these tests exercise the mosaic alone, fast and independent of the amorphous builder.
    """
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell_A, dtype=float)
    n = rng.poisson(phase.total_number_density() * 1e-3 * np.prod(cell))
    pos = rng.random((n, 3)) * cell
    pos = pos[inside(pos)]
    pairs = cKDTree(pos, boxsize=[cell[0], cell[1], 3 * cell[2]]).query_pairs(MIN_DISTANCE_A, output_type="ndarray")
    keep = np.ones(len(pos), dtype=bool)
    keep[pairs.max(axis=1)] = False
    pos = pos[keep]
    nd = phase.number_density()
    names = list(nd)
    w = np.array([nd[k] for k in names])
    return list(np.array(names)[rng.choice(len(names), len(pos), p=w / w.sum())]), pos


def _phases(*names):
    return {n: phases.get(n) for n in names}


def _min_distance(pos, cell):
    tree = cKDTree(pos, boxsize=[cell[0], cell[1], 3 * cell[2]])
    return float(tree.query(pos, k=2)[0][:, 1].min())


@pytest.fixture(scope="module")
def mix():
    cell = np.array([60.0, 60.0, 60.0])
    out = mosaic_fill(_phases(*MIX), MIX, None, cell, None, 2.0, seed=7, amorphous_fill=standin_amorphous_fill)
    return cell, out


def test_mosaic_meets_the_volume_fractions(mix):
    cell, out = mix
    assert len(out.seeds_A) >= 20
    for k, v in MIX.items():
        assert out.target_fractions[k] == pytest.approx(v)
        assert out.achieved_fractions[k] == pytest.approx(v, abs=0.05)
    # independent check: label a point grid by nearest seed (periodic in x, y)
    g = (np.arange(40) + 0.5) * cell[0] / 40
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    lab = cKDTree(out.seeds_A, boxsize=[cell[0], cell[1], 1e6]).query(pts)[1]
    grain_phase = np.array(out.grain_phase)
    for k, v in MIX.items():
        assert np.mean(grain_phase[lab] == k) == pytest.approx(v, abs=0.05)
    assert sum(out.grain_volume_A3) == pytest.approx(np.prod(cell))


def test_mosaic_atoms_fill_their_grains(mix):
    cell, out = mix
    pos = out.positions_A
    assert len(out.symbols) == len(pos) == len(out.atom_phase) == len(out.atom_grain)
    assert np.all(pos >= 0) and np.all(pos < cell)
    assert _min_distance(pos, cell) >= MIN_DISTANCE_A
    # each atom's grain is its nearest seed, and its phase is the grain's
    lab = cKDTree(out.seeds_A, boxsize=[cell[0], cell[1], 1e6]).query(pos)[1]
    assert np.mean(lab == out.atom_grain) > 0.999
    assert np.all(np.array(out.grain_phase)[out.atom_grain] == out.atom_phase)
    # crystalline grains hold their phase's composition and (nearly) its atom density
    vol = np.prod(cell)
    for k in ("Li2O", "Li3N"):
        ph = phases.get(k)
        sel = out.atom_phase == k
        syms = np.array(out.symbols)[sel]
        assert set(syms) == set(ph.elements)
        assert np.mean(syms == "Li") == pytest.approx(ph.composition.get_atomic_fraction("Li"), abs=0.02)
        frac_from_atoms = sel.sum() / (ph.total_number_density() * 1e-3 * vol)
        assert frac_from_atoms == pytest.approx(out.achieved_fractions[k], rel=0.06)
    # contacts at grain boundaries are pushed apart; hardly any atom has to be deleted
    assert out.removed_at_boundaries < 0.01 * len(out.symbols)


def test_gradient_puts_li3n_deeper():
    cell = np.array([50.0, 50.0, 90.0])
    out = mosaic_fill(_phases("Li2O", "Li3N"), {"Li2O": 1.0}, {"Li3N": 1.0}, cell, (5.0, 85.0), 2.0, seed=3)
    prof = out.depth_profile
    li3n = prof.achieved_fractions["Li3N"]
    assert spearmanr(prof.z_A, li3n)[0] > 0.85
    assert li3n[0] < 0.25 and li3n[-1] > 0.75
    assert out.achieved_fractions["Li3N"] == pytest.approx(0.5, abs=0.05)
    # the same from the atoms: Li3N's share of atoms grows from top to bottom third
    z = out.positions_A[:, 2]
    assert z.min() >= 5.0 and z.max() < 85.0
    thirds = np.digitize(z, [5 + 80 / 3, 5 + 160 / 3])
    share = [np.mean(out.atom_phase[thirds == i] == "Li3N") for i in range(3)]
    assert share[0] < share[1] < share[2]
    assert _min_distance(out.positions_A, cell) >= MIN_DISTANCE_A


def test_same_seed_same_mosaic_other_seed_other():
    ph = _phases(*MIX)
    cell = (40.0, 40.0, 40.0)
    kw = dict(amorphous_fill=standin_amorphous_fill)
    a = mosaic_fill(ph, MIX, None, cell, None, 2.0, seed=11, **kw)
    b = mosaic_fill(ph, MIX, None, cell, None, 2.0, seed=11, **kw)
    c = mosaic_fill(ph, MIX, None, cell, None, 2.0, seed=12, **kw)
    assert a.symbols == b.symbols
    assert np.array_equal(a.positions_A, b.positions_A)
    assert np.array_equal(a.atom_grain, b.atom_grain)
    assert len(a.symbols) != len(c.symbols) or not np.array_equal(a.positions_A, c.positions_A)


def test_too_few_grains_warns_with_what_was_achieved():
    with pytest.warns(UserWarning, match=r"cannot meet.*achieved.*LiPON"):
        out = mosaic_fill(_phases(*MIX), MIX, None, (30.0, 30.0, 30.0), None, 3.0, seed=1,
                          amorphous_fill=standin_amorphous_fill)
    assert len(out.seeds_A) == 1
    assert sum(out.achieved_fractions.values()) == pytest.approx(1.0)


def test_bad_inputs_name_the_field():
    ph = _phases("Li2O", "Li3N")
    with pytest.raises(InterphaseInputError, match=r"grain_size_nm.*8 nm.*5 x 5 nm"):
        mosaic_fill(ph, {"Li2O": 1}, None, (50.0, 50.0, 50.0), None, 8.0, seed=1)
    with pytest.raises(InterphaseInputError, match="fractions_top.*sum to zero"):
        mosaic_fill(ph, {"Li2O": 0.0, "Li3N": 0.0}, None, (50.0, 50.0, 50.0), None, 2.0, seed=1)
    with pytest.raises(InterphaseInputError, match="fractions_bottom.Li3P.*unknown phase"):
        mosaic_fill(ph, {"Li2O": 1}, {"Li3P": 1}, (50.0, 50.0, 50.0), None, 2.0, seed=1)
    with pytest.raises(InterphaseInputError, match="fractions_top.Li2O"):
        mosaic_fill(ph, {"Li2O": -1, "Li3N": 2}, None, (50.0, 50.0, 50.0), None, 2.0, seed=1)
    with pytest.raises(InterphaseInputError, match="z_range_A"):
        mosaic_fill(ph, {"Li2O": 1}, None, (50.0, 50.0, 50.0), (30.0, 10.0), 2.0, seed=1)
    with pytest.raises(InterphaseInputError, match="grain_size_nm"):
        mosaic_fill(ph, {"Li2O": 1}, None, (50.0, 50.0, 50.0), None, 0.0, seed=1)
    with pytest.raises(InterphaseInputError, match="cell_A"):
        mosaic_fill(ph, {"Li2O": 1}, None, (50.0, -50.0, 50.0), None, 2.0, seed=1)
    with pytest.raises(InterphaseInputError, match="phases"):
        mosaic_fill({}, {"Li2O": 1}, None, (50.0, 50.0, 50.0), None, 2.0, seed=1)


@pytest.mark.parametrize("spread", [0.0, 0.2, 0.5])
def test_grain_seeds_spacing_and_spread(spread):
    box = np.array([100.0, 100.0, 100.0])
    seeds = grain_seeds(box, 1.25, spread, np.random.default_rng(0))
    assert len(seeds) == 512  # mean spacing 1.25 nm
    assert np.all(seeds >= 0) and np.all(seeds < box)
    _, _, vol = _voronoi_cells(seeds, 100.0, 100.0, 0.0, 100.0, margin=40.0)  # exact volumes
    assert vol.sum() == pytest.approx(1e6)
    rel_std = vol.std() / vol.mean()
    assert rel_std == pytest.approx(min(spread, 0.42), abs=0.07)


FRACTION = st.floats(0, 1).map(lambda x: round(x, 3))  # no denormals: their ratios underflow


@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 2**16),
    top=st.dictionaries(st.sampled_from("ABCD"), FRACTION, min_size=1).filter(lambda d: sum(d.values()) > 0),
    bottom=st.dictionaries(st.sampled_from("ABCD"), FRACTION, min_size=1).filter(lambda d: sum(d.values()) > 0),
)
def test_assign_phases_properties(n, seed, top, bottom):
    rng = np.random.default_rng(seed)
    z = rng.random(n) * 10
    vol = rng.uniform(0.5, 1.5, n)
    got, rep = assign_phases(z, top, bottom, (0.0, 10.0), vol, rng)
    assert len(got) == n
    assert sum(rep.achieved_fractions.values()) == pytest.approx(1.0)
    assert sum(rep.target_fractions.values()) == pytest.approx(1.0)
    t_top, t_bot = sum(top.values()), sum(bottom.values())
    for zi, p in zip(z, got):  # never a phase where its target is zero
        t = zi / 10
        assert (1 - t) * top.get(p, 0) / t_top + t * bottom.get(p, 0) / t_bot > 0
    # error diffusion + refinement: within about one grain of the target overall
    assert rep.max_abs_error <= vol.max() / vol.sum() + 1e-9


def test_assign_phases_with_many_grains_is_accurate():
    rng = np.random.default_rng(4)
    vol = rng.uniform(0.5, 1.5, 300)
    _, rep = assign_phases(rng.random(300), {"a": 0.5, "b": 0.3, "c": 0.2}, None, (0, 1), vol, rng)
    assert rep.max_abs_error < 0.005


@pytest.mark.skipif(importlib.util.find_spec("interphase_sim.build.amorphous") is None,
                    reason="interphase_sim.build.amorphous not written yet")
def test_default_amorphous_builder_is_used():
    cell = (30.0, 30.0, 30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few grains in a small box
        out = mosaic_fill(_phases("Li2O", "LiPON"), {"Li2O": 0.5, "LiPON": 0.5}, None, cell, None, 1.5, seed=2)
    syms = np.array(out.symbols)[out.atom_phase == "LiPON"]
    assert {"P", "O", "N"} <= set(syms)
    assert _min_distance(out.positions_A, cell) >= MIN_DISTANCE_A


def test_wide_grains_span_the_box_as_one_crystal_when_asked():
    ph = _phases("Li2O")
    cell = (30.0, 30.0, 40.0)
    out = mosaic_fill(ph, {"Li2O": 1}, None, cell, None, 8.0, seed=1, wide_grains="span")
    assert out.n_grains == 1 and out.grain_phase == ("Li2O",)
    assert np.all(out.atom_grain == 0) and np.isfinite(out.grain_rotation[0]).all()
    assert out.grain_size_nm == 8.0 and out.z_range_A == (0.0, 40.0)
    assert out.grain_volume_A3[0] == pytest.approx(np.prod(cell))
    # Li2O's atom density, less the few atoms removed at the periodic seam
    n_ideal = phases.get("Li2O").total_number_density() * 1e-3 * np.prod(cell)
    assert len(out.symbols) == pytest.approx(n_ideal, rel=0.03)
    assert _min_distance(out.positions_A, cell) >= MIN_DISTANCE_A
    with pytest.raises(InterphaseInputError, match="wide_grains"):
        mosaic_fill(ph, {"Li2O": 1}, None, cell, None, 8.0, seed=1, wide_grains="yes")


def test_mosaic_result_is_a_frozen_dataclass(mix):
    import dataclasses

    _, out = mix
    assert dataclasses.is_dataclass(out)
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.grain_size_nm = 3.0
    nan_rot = np.isnan(out.grain_rotation[:, 0, 0])
    assert np.array_equal(nan_rot, np.array(out.grain_phase) == "LiPON")  # amorphous grains have no rotation
