"""Whole-stack atomistic models: composition, density, fractions, distances, determinism."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from interphase_sim import InterphaseInputError, Layer, Stack, phases, samples
from interphase_sim.build import atoms_from_stack, cross_section, lnmo_lipon_interface, write_structure

MASS = {}


def mass(el):
    from pymatgen.core import Element

    if el not in MASS:
        MASS[el] = float(Element(el).atomic_mass)
    return MASS[el]


def three_layers(rough=0.0):
    return Stack([
        Layer("LiPON", {"LiPON": 1.0}, 8.0, roughness_nm=rough),
        Layer("SEI", {"Li2O": 0.5, "Li3N": 0.3, "LiPON": 0.2}, 12.0, grain_size_nm=2.5, roughness_nm=rough),
        Layer("Li", {"Li": 1.0}, "inf"),
    ])


@pytest.fixture(scope="module")
def model():
    return atoms_from_stack(three_layers(), lateral_nm=(6.0, 6.0), seed=3, semi_infinite_nm=4.0)


def layer_atoms(atoms, name):
    names = list(atoms.info["layer_names"])
    return atoms.arrays["layer"] == names.index(name)


def expected_composition(stack, layer):
    nd = {}
    for ph, f in stack[layer].normalized_fractions().items():
        for el, n in phases.get(ph).number_density().items():
            nd[el] = nd.get(el, 0.0) + f * n
    return nd  # atoms/nm3


@pytest.mark.parametrize("layer, z_range", [("LiPON", (0.0, 8.0)), ("SEI", (8.0, 20.0)), ("Li", (20.0, 24.0))])
def test_each_layer_has_its_composition_and_density(model, layer, z_range):
    stack = three_layers()
    sel = layer_atoms(model, layer)
    syms = np.array(model.get_chemical_symbols())[sel]
    want = expected_composition(stack, layer)
    total = sum(want.values())
    volume = 6.0 * 6.0 * (z_range[1] - z_range[0])  # nm3
    for el, n in want.items():
        got = np.sum(syms == el) / syms.size
        assert got == pytest.approx(n / total, abs=0.03 * max(n / total, 0.1)), (layer, el)
    density = sum(mass(s) for s in syms) / volume / 602.214076  # g/cm3
    want_rho = sum(n * mass(el) for el, n in want.items()) / 602.214076
    assert density == pytest.approx(want_rho, rel=0.03), layer


def test_mosaic_phase_fractions_follow_the_layer(model):
    stack = three_layers()
    sel = layer_atoms(model, "SEI")
    names = list(model.info["phase_names"])
    grains = np.unique(model.arrays["grain"][sel])
    assert (grains >= 0).sum() >= 20
    nd = {p: phases.get(p).total_number_density() for p in ("Li2O", "Li3N", "LiPON")}
    pid = model.arrays["phase"][sel]
    vol = {p: np.sum(pid == names.index(p)) / nd[p] for p in nd}  # atoms / (atoms/nm3) = nm3
    tot = sum(vol.values())
    for p, f in stack["SEI"].normalized_fractions().items():
        assert vol[p] / tot == pytest.approx(f, abs=0.05), p


def test_no_close_contacts_and_everything_inside_the_cell(model):
    pos = model.get_positions()
    cell = model.cell.lengths()
    assert np.all(pos >= -1e-9) and np.all(pos < cell + 1e-9)
    tree = cKDTree(pos, boxsize=[cell[0], cell[1], cell[2] + 10.0])
    assert len(tree.query_pairs(1.4)) == 0


def test_same_seed_same_model_other_seed_other_model():
    small = Stack([Layer("SEI", {"Li2O": 0.6, "Li3N": 0.4}, 4.0, grain_size_nm=2.0), Layer("Li", {"Li": 1}, "inf")])
    a = atoms_from_stack(small, (3.0, 3.0), seed=1, semi_infinite_nm=1.0)
    b = atoms_from_stack(small, (3.0, 3.0), seed=1, semi_infinite_nm=1.0)
    c = atoms_from_stack(small, (3.0, 3.0), seed=2, semi_infinite_nm=1.0)
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    np.testing.assert_array_equal(a.get_positions(), b.get_positions())
    assert len(a) != len(c) or not np.array_equal(a.get_positions(), c.get_positions())


def test_rough_interface_heights_have_the_stack_roughness():
    stack = Stack([Layer("top", {"LiPON": 1.0}, 6.0, roughness_nm=0.8), Layer("Li", {"Li": 1}, "inf")])
    atoms = atoms_from_stack(stack, (8.0, 8.0), seed=5, semi_infinite_nm=6.0, correlation_nm=1.0)
    pos = atoms.get_positions() / 10.0
    top = layer_atoms(atoms, "top")
    # deepest LiPON atom in each lateral 0.5 nm column (half the correlation length, so
    # the column maximum biases the height by only ~0.2 nm): the interface height there
    w = 0.5
    cols = (np.floor(pos[:, 0] / w).astype(int) * 16 + np.floor(pos[:, 1] / w).astype(int))
    heights = np.array([pos[top & (cols == c), 2].max() for c in np.unique(cols[top])])
    assert 0.55 < heights.std() < 1.05  # nm, sigma = 0.8 nm; a flat interface would give ~0.1
    assert abs(heights.mean() - 6.0) < 0.4


def test_cross_section_orientation_and_extxyz_round_trip(model, tmp_path):
    import ase.io

    xs = cross_section(model, vacuum_nm=0.0)
    np.testing.assert_allclose(xs.cell.lengths(), model.cell.lengths()[[1, 2, 0]])
    padded = cross_section(model)  # 1 nm of vacuum after the deepest plane by default
    np.testing.assert_allclose(padded.cell.lengths(), model.cell.lengths()[[1, 2, 0]] + [0.0, 10.0, 0.0])
    assert padded.get_positions()[:, 1].max() < padded.cell.lengths()[1] - 10.0
    with pytest.raises(InterphaseInputError, match="vacuum_nm"):
        cross_section(model, vacuum_nm=-1.0)
    np.testing.assert_allclose(xs.get_positions()[:, 1], model.get_positions()[:, 2])  # depth on image y
    assert xs.cell.orthorhombic and all(xs.pbc)
    write_structure(model, tmp_path / "m.extxyz")
    back = ase.io.read(tmp_path / "m.extxyz")
    np.testing.assert_array_equal(back.arrays["layer"], model.arrays["layer"])
    np.testing.assert_array_equal(back.arrays["phase"], model.arrays["phase"])
    assert back.info["layer_names"] == model.info["layer_names"]


def test_lnmo_lipon_interface_exposes_a_crystal_under_glass():
    atoms = lnmo_lipon_interface((3.0, 3.0), lnmo_nm=2.0, lipon_nm=2.0, facet=(1, 1, 1), seed=0)
    names = list(atoms.info["phase_names"])
    syms = np.array(atoms.get_chemical_symbols())
    lnmo = atoms.arrays["phase"] == names.index("LNMO")
    assert set(syms[lnmo]) == {"Li", "Mn", "Ni", "O"} and "P" in set(syms[~lnmo])
    z = atoms.get_positions()[:, 2]
    assert z[lnmo].min() > z[~lnmo].min() + 10.0  # LNMO below the LiPON


def test_bad_input_is_refused_before_building():
    with pytest.raises(InterphaseInputError, match=r"max_atoms.*about"):
        atoms_from_stack(three_layers(), (50.0, 50.0), max_atoms=100_000)
    with pytest.raises(InterphaseInputError, match="lateral_nm"):
        atoms_from_stack(three_layers(), (0.0, 5.0))
    with pytest.raises(InterphaseInputError, match="depth_range_nm"):
        atoms_from_stack(three_layers(), (3.0, 3.0), depth_range_nm=(10.0, 5.0))
    with pytest.raises(InterphaseInputError, match="depth_range_nm.*below the stack"):
        atoms_from_stack(three_layers(), (3.0, 3.0), depth_range_nm=(500.0, 600.0), semi_infinite_nm=2.0)
    with pytest.raises(InterphaseInputError, match="orientations.*no layer named 'nope'"):
        atoms_from_stack(three_layers(), (3.0, 3.0), orientations={"nope": (1, 1, 0)})
    with pytest.raises(InterphaseInputError, match="orientations.LiPON.*single-crystal"):
        atoms_from_stack(three_layers(), (3.0, 3.0), orientations={"LiPON": (1, 1, 0)})
    with pytest.raises(InterphaseInputError, match="seed.*integer"):
        atoms_from_stack(three_layers(), (3.0, 3.0), seed=1.5)


def test_cli_build_writes_model_and_picture(tmp_path, capsys):
    from interphase_sim.cli.main import main

    sample = tmp_path / "s.toml"
    sample.write_text(samples.text("li_sei_lipon"))
    out = tmp_path / "model"
    assert main(["build", str(sample), "--lateral-nm", "5.5", "5.5", "--depth-range-nm", "1535", "1560",
                 "--out", str(out), "--formats", "extxyz", "lammps", "--seed", "2"]) == 0
    text = capsys.readouterr().out
    assert "atoms/s" in text and "SEI-inner" in text
    assert (out / "model.extxyz").stat().st_size > 10_000 and (out / "model.lammps-data").exists()
    assert (out / "model_slice.png").stat().st_size > 20_000


def test_a_box_smaller_than_a_unit_cell_is_refused_with_the_numbers():
    stack = Stack([Layer("LNMO", {"LNMO": 1.0}, 3.0)])
    with pytest.raises(InterphaseInputError, match=r"smaller than a unit cell of LNMO \(0.817 nm\)"):
        atoms_from_stack(stack, (0.5, 0.5))


def test_lammps_and_cif_output(model, tmp_path):
    write_structure(model, tmp_path / "m.lammps-data", format="lammps-data")
    text = (tmp_path / "m.lammps-data").read_text()
    assert f"{len(model)} atoms" in text
    with pytest.raises(InterphaseInputError, match="use extxyz or lammps"):  # a CIF of this size would not load
        write_structure(model, tmp_path / "m.cif")
    write_structure(model[:500], tmp_path / "m.cif")
    assert "_cell_length_a" in (tmp_path / "m.cif").read_text()


def test_interfaces_never_cross_when_a_thin_layer_is_rougher_than_thick():
    # 0.3 nm of Li2O under a 1 nm rough interface: the two interfaces would cross in
    # about 40 % of the area; there the Li2O pinches out and LiPON meets Li directly
    stack = Stack([
        Layer("LiPON", {"LiPON": 1.0}, 3.0, roughness_nm=0.1),
        Layer("thin", {"Li2O": 1.0}, 0.3, roughness_nm=1.0),
        Layer("Li", {"Li": 1.0}, "inf"),
    ])
    atoms = atoms_from_stack(stack, (6.0, 6.0), seed=3, semi_infinite_nm=3.0, correlation_nm=1.5)
    pos = atoms.get_positions() / 10.0
    top, bottom = layer_atoms(atoms, "LiPON"), layer_atoms(atoms, "Li")
    w = 0.5
    cols = np.floor(pos[:, 0] / w).astype(int) * 12 + np.floor(pos[:, 1] / w).astype(int)
    overlap = [pos[top & (cols == c), 2].max() - pos[bottom & (cols == c), 2].min()
               for c in np.unique(cols) if (top & (cols == c)).any() and (bottom & (cols == c)).any()]
    # LiPON never reaches below the Li top in any column (beyond one bond length)
    assert max(overlap) < 0.2
    assert atoms.info["removed_at_interfaces"] < 0.002 * len(atoms)


def test_density_scale_of_an_amorphous_layer_scales_its_atoms():
    # a 20 % porous LiPON layer holds 0.8 of the atoms of a dense one, same composition
    def build(scale):
        stack = Stack([Layer("glass", {"LiPON": 1.0}, 3.0, density_scale=scale), Layer("Li", {"Li": 1.0}, "inf")])
        atoms = atoms_from_stack(stack, (3.0, 3.0), seed=2, semi_infinite_nm=1.0)
        return int(layer_atoms(atoms, "glass").sum())

    assert build(0.8) / build(1.0) == pytest.approx(0.8, rel=0.01)


def _b_site_direction_share(atoms, phase, n_dirs):
    """Share of the Ni/Mn-Ni/Mn nearest-neighbour vectors (< 3.1 Å) of ``phase`` along its
    ``n_dirs`` most common directions (sign ignored, 8° tolerance): close to 1 for one
    crystal, spread over many more directions for several orientations."""
    names = list(atoms.info["phase_names"])
    sel = (atoms.arrays["phase"] == names.index(phase)) & np.isin(atoms.get_chemical_symbols(), ["Ni", "Mn"])
    pos = atoms.get_positions()[sel]
    pairs = cKDTree(pos).query_pairs(3.1, output_type="ndarray")  # not periodic: no seam pairs
    v = pos[pairs[:, 1]] - pos[pairs[:, 0]]
    v /= np.linalg.norm(v, axis=1)[:, None]
    dirs, counts = [], []
    for u in v:
        for i, d in enumerate(dirs):
            if abs(u @ d) > np.cos(np.radians(8.0)):
                counts[i] += 1
                break
        else:
            dirs.append(u)
            counts.append(1)
    return sum(sorted(counts, reverse=True)[:n_dirs]) / len(v)


def test_grains_larger_than_the_box_give_one_crystal_across_it():
    # the shipped LNMO has 100 nm grains; a 3 x 3 nm box across the LiPON | LNMO
    # interface (1500 nm deep) holds one LNMO grain: a single crystal, not a refusal
    stack = samples.load("lnmo_lipon")
    assert stack["LNMO"].grain_size_nm.value == 100
    atoms = atoms_from_stack(stack, (3.0, 3.0), seed=0, depth_range_nm=(1490.0, 1510.0))
    names = list(atoms.info["phase_names"])
    syms = np.array(atoms.get_chemical_symbols())
    lnmo = atoms.arrays["phase"] == names.index("LNMO")
    assert lnmo.sum() > 3000 and (atoms.arrays["phase"] == names.index("LiPON")).sum() > 3000
    assert np.unique(atoms.arrays["grain"][lnmo]).tolist() == [0]  # one grain id
    assert atoms.info["n_grains"] == {"LNMO": 1}
    assert atoms.info["achieved_fractions"]["LNMO"]["achieved"] == {"LNMO": 1.0}
    # one orientation: the spinel's B-site (Ni, Mn) nearest neighbours lie along the six
    # <110> directions of that one crystal
    assert _b_site_direction_share(atoms, "LNMO", 6) > 0.9
    # LiNi0.5Mn1.5O4 composition
    got = {el: np.mean(syms[lnmo] == el) for el in ("Li", "Ni", "Mn", "O")}
    for el, n in {"Li": 1.0, "Ni": 0.5, "Mn": 1.5, "O": 4.0}.items():
        assert got[el] == pytest.approx(n / 7.0, rel=0.05), el
    # the check discriminates: 2.5 nm grains in a 5 nm box are several orientations
    mosaic = atoms_from_stack(Stack([Layer("m", {"LNMO": 1.0}, 6.0, grain_size_nm=2.5)]), (5.0, 5.0), seed=0)
    assert len(np.unique(mosaic.arrays["grain"])) > 1
    assert _b_site_direction_share(mosaic, "LNMO", 6) < 0.5


def test_info_holds_plain_values_that_survive_extxyz(model, tmp_path):
    import ase.io

    info = model.info
    assert info["layer_names"] == ["LiPON", "SEI", "Li"]
    assert info["phase_names"] == list(three_layers().phases)
    assert isinstance(info["seed"], int) and isinstance(info["depth_nm"], float)
    fr = info["achieved_fractions"]["SEI"]
    assert set(fr) == {"target", "achieved"} and sum(fr["achieved"].values()) == pytest.approx(1.0)
    assert info["n_grains"]["SEI"] >= 20
    write_structure(model, tmp_path / "m.extxyz")
    assert model.info is info  # the writer leaves the model alone
    back = ase.io.read(tmp_path / "m.extxyz")
    assert back.info["phase_names"] == info["phase_names"]
    assert back.info["achieved_fractions"] == info["achieved_fractions"]
    assert back.info["n_grains"] == info["n_grains"]
