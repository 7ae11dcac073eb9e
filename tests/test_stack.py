"""Layer / Stack / DepthProfile: conservation, splitting invariance, roughness, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interphase_sim import InterphaseInputError, Layer, Parameter, Stack, phases

PHASES = ["Li", "Li2O", "Li3N", "Li3P", "Li3PO4", "LiPON", "LiF", "LNMO", "Au", "SiO2"]
ND = {p: phases.get(p).number_density() for p in PHASES}  # atoms/nm3 per element


def expected_layer_atoms(frac_top, frac_bot, thickness, scale=1.0):
    """Atoms/nm2 of each element in a layer: thickness x mean number density."""
    out = {}
    for where in (frac_top, frac_bot or frac_top):
        tot = sum(where.values())
        for ph, f in where.items():
            for el, n in ND[ph].items():
                out[el] = out.get(el, 0.0) + 0.5 * scale * thickness * n * f / tot
    return out


fractions = st.dictionaries(st.sampled_from(PHASES), st.floats(0.05, 5.0), min_size=1, max_size=3)


@st.composite
def layer_specs(draw, n_min=1, n_max=5):
    n = draw(st.integers(n_min, n_max))
    specs = []
    for i in range(n):
        t = draw(st.floats(5.0, 200.0))
        specs.append(
            dict(
                name=f"L{i}",
                phases=draw(fractions),
                phases_bottom=draw(st.none() | fractions),
                thickness_nm=t,
                # interfaces further apart than 8 sigma on both sides
                roughness_nm=draw(st.floats(0.0, 1.0)) * t / 16,
                density_scale=draw(st.floats(0.7, 1.3)),
            )
        )
    return specs


def make_stack(specs):
    specs = [dict(s) for s in specs]
    for a, b in zip(specs, specs[1:]):  # an interface's width must also fit the layer below
        a["roughness_nm"] = min(a["roughness_nm"], b["thickness_nm"] / 16)
    return Stack([Layer(**s) for s in specs])


def integrate(stack, z):
    prof = stack.profile(z)
    return {el: np.trapezoid(prof.density(el), z) for el in prof.elements}, prof


# -- conservation ------------------------------------------------------------------------
@given(layer_specs())
def test_sharp_layers_hold_thickness_times_number_density(specs):
    for s in specs:
        s["roughness_nm"] = 0.0
    stack = make_stack(specs)
    bottoms = stack.interfaces_nm()
    top = 0.0
    for lay, spec, bot in zip(stack, specs, bottoms):
        # grid on [top, bot) closed with the last interior point: integrate exactly
        z = np.linspace(top, bot, 4001)
        z[-1] = np.nextafter(bot, -np.inf)
        got, _ = integrate(stack, z)
        want = expected_layer_atoms(spec["phases"], spec["phases_bottom"], spec["thickness_nm"], spec["density_scale"])
        for el, w in want.items():
            assert got[el] == pytest.approx(w, rel=1e-3), (lay.name, el)
        top = bot


@given(layer_specs(n_min=2), st.floats(20.0, 100.0))
def test_roughness_conserves_every_elements_total(specs, extra):
    sharp = make_stack([{**s, "roughness_nm": 0.0} for s in specs])
    rough = make_stack(specs)
    depth = sharp.finite_depth_nm()
    z = np.linspace(0.0, depth + extra, 200001)  # to the stack's end + vacuum below
    got_sharp, _ = integrate(sharp, z)
    got_rough, _ = integrate(rough, z)
    for el in got_sharp:
        want = sum(
            expected_layer_atoms(s["phases"], s["phases_bottom"], s["thickness_nm"], s["density_scale"]).get(el, 0.0)
            for s in specs
        )
        assert got_sharp[el] == pytest.approx(want, rel=1e-3)
        assert got_rough[el] == pytest.approx(want, rel=1e-3)


def test_roughness_moves_atoms_across_an_interface():
    def two(rough):
        return Stack([Layer("A", {"Li2O": 1}, 50, roughness_nm=rough), Layer("B", {"Li3N": 1}, 50)])

    z = np.linspace(0, 100, 100001)
    sharp, rough = two(0.0).profile(z), two(4.0).profile(z)
    n_sharp, n_rough = sharp.density("N"), rough.density("N")
    above = z < 50
    # N leaks into A and is missing from B by the same amount
    leak_up = np.trapezoid(n_rough[above], z[above])
    lost = np.trapezoid((n_sharp - n_rough)[~above], z[~above])
    assert leak_up > 1.0
    assert leak_up == pytest.approx(lost, rel=1e-3)
    # analytic: N in A = n_N * sigma / sqrt(2 pi) (half-Gaussian integral of the erf tail)
    n_n = phases.get("Li3N").number_density()["N"]
    assert leak_up == pytest.approx(n_n * 4.0 / math.sqrt(2 * math.pi), rel=1e-3)
    # at the interface itself the blend is exactly half and half
    i = np.searchsorted(z, 50.0)
    assert rough.fraction("Li3N")[i] == pytest.approx(0.5, abs=1e-3)


# -- splitting invariance ----------------------------------------------------------------
def split_specs(specs, i):
    s = specs[i]
    top = {k: v / sum(s["phases"].values()) for k, v in s["phases"].items()}
    bot_src = s["phases_bottom"] or s["phases"]
    bot = {k: v / sum(bot_src.values()) for k, v in bot_src.items()}
    mid = {k: 0.5 * (top.get(k, 0.0) + bot.get(k, 0.0)) for k in set(top) | set(bot)}
    half = s["thickness_nm"] / 2
    a = {**s, "name": s["name"] + "a", "thickness_nm": half, "roughness_nm": 0.0,
         "phases": top, "phases_bottom": mid if s["phases_bottom"] else None}
    b = {**s, "name": s["name"] + "b", "thickness_nm": half,
         "phases": mid if s["phases_bottom"] else top, "phases_bottom": bot if s["phases_bottom"] else None}
    return specs[:i] + [a, b] + specs[i + 1:]


@given(layer_specs(), st.data())
def test_splitting_a_layer_in_two_identical_halves_changes_nothing(specs, data):
    specs = [dict(s) for s in specs]
    for a, b in zip(specs, specs[1:]):
        a["roughness_nm"] = min(a["roughness_nm"], b["thickness_nm"] / 16)
    i = data.draw(st.integers(0, len(specs) - 1))
    whole = Stack([Layer(**s) for s in specs])
    halves = Stack([Layer(**s) for s in split_specs(specs, i)])
    z = np.linspace(-5, whole.finite_depth_nm() + 30, 20001)
    p1, p2 = whole.profile(z), halves.profile(z)
    assert p1.elements == p2.elements
    np.testing.assert_allclose(p2.densities, p1.densities, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(p2.li6, p1.li6, rtol=1e-10, atol=1e-9)
    for ph in p1.phases:
        np.testing.assert_allclose(p2.fraction(ph), p1.fraction(ph), atol=1e-10)


def test_splitting_a_semi_infinite_layer_changes_nothing():
    base = [Layer("SEI", {"Li2O": 1, "Li3N": 1}, 40, roughness_nm=3)]
    whole = Stack(base + [Layer("Li", {"Li": 1}, "inf")])
    split = Stack(base + [Layer("Li1", {"Li": 1}, 100), Layer("Li2", {"Li": 1}, "inf")])
    z = np.linspace(0, 500, 5001)
    np.testing.assert_allclose(split.profile(z).densities, whole.profile(z).densities, rtol=1e-12)


# -- fractions ---------------------------------------------------------------------------
@given(layer_specs(), st.booleans())
def test_fractions_are_normalized_inside_and_zero_outside(specs, semi):
    specs = [dict(s) for s in specs]
    if semi:
        specs[-1]["thickness_nm"] = math.inf
        specs[-1]["phases_bottom"] = None
        specs[-1]["roughness_nm"] = 0.0
    stack = make_stack(specs)
    depth = stack.finite_depth_nm()
    z = np.linspace(-10, depth + 200, 5001)
    prof = stack.profile(z)
    total = prof.fractions.sum(axis=0)
    np.testing.assert_allclose(total[z < 0], 0.0)
    inside = (z >= 0) & ((z < depth - 1e-9) if not semi else True)
    np.testing.assert_allclose(total[inside & (z < depth - 8 * specs[-1]["roughness_nm"] - 1e-6)], 1.0, atol=1e-12)
    assert np.all(prof.fractions >= 0) and np.all(total <= 1 + 1e-12)
    if not semi:
        np.testing.assert_allclose(total[z > depth + 8 * specs[-1]["roughness_nm"] + 1e-6], 0.0)
    # unnormalized weights give the same profile as normalized ones
    norm = [{**s, "phases": {k: v / sum(s["phases"].values()) for k, v in s["phases"].items()}} for s in specs]
    np.testing.assert_allclose(make_stack(norm).profile(z).densities, prof.densities, rtol=1e-12, atol=1e-12)


def test_gradient_is_linear_through_the_layer():
    stack = Stack([Layer("G", {"Li2O": 1.0}, 100, phases_bottom={"Li3N": 1.0}), Layer("Li", {"Li": 1}, "inf")])
    z = np.array([0.0, 25.0, 50.0, 99.999])
    prof = stack.profile(z)
    np.testing.assert_allclose(prof.fraction("Li3N"), z / 100, atol=1e-4)
    np.testing.assert_allclose(prof.fraction("Li2O") + prof.fraction("Li3N"), 1.0)


# -- isotopes and shared parameters ------------------------------------------------------
def test_li6_is_the_abundance_times_lithium_with_layer_override():
    stack = Stack(
        [Layer("enriched", {"Li2O": 1}, 50, li6_abundance=0.95), Layer("natural", {"Li3N": 1}, "inf")],
        li6_abundance=0.0759,
    )
    prof = stack.profile(np.array([10.0, 100.0]))
    li = prof.density("Li")
    np.testing.assert_allclose(prof.li6, [0.95 * li[0], 0.0759 * li[1]])
    np.testing.assert_allclose(prof.density("7Li"), li - prof.li6)
    assert li[0] == pytest.approx(phases.get("Li2O").number_density()["Li"])


def test_a_shared_parameter_is_one_variable_and_moves_both_layers():
    t = Parameter(20.0, bounds=(5, 50), vary=True)
    stack = Stack([Layer("A", {"Li2O": 1}, t), Layer("B", {"Li3N": 1}, t), Layer("C", {"Li": 1}, "inf")])
    ps = stack.parameters()
    assert "A.thickness_nm" in ps and "B.thickness_nm" not in list(ps)
    assert ps.aliases("A.thickness_nm") == ["A.thickness_nm", "B.thickness_nm"]
    # the natural 6Li abundance is a free systematic too (within its prior)
    assert list(ps.varying()) == ["li6_abundance", "A.thickness_nm"]
    assert ps["li6_abundance"].role == "systematic"
    t.value = 30.0
    np.testing.assert_allclose(stack.interfaces_nm()[:2], [30.0, 60.0])


def test_lipon_density_is_one_parameter_across_layers():
    stack = Stack([Layer("E", {"LiPON": 1}, 100), Layer("M", {"LiPON": 1, "Li2O": 1}, 50), Layer("Li", {"Li": 1}, "inf")])
    ps = stack.parameters()
    dens = ps["phases.LiPON.density"]
    before = stack.profile(np.array([50.0, 120.0])).density("P")
    dens.value = 2.2
    after = stack.profile(np.array([50.0, 120.0])).density("P")
    np.testing.assert_allclose(after / before, 2.2 / 2.4)
    assert {"E.phases.LiPON", "M.phases.Li2O", "li6_abundance"} <= set(ps)


def test_profile_rejects_bad_grids_and_unknown_elements():
    stack = Stack([Layer("Li", {"Li": 1}, "inf")])
    with pytest.raises(InterphaseInputError, match="z_nm"):
        stack.profile([0.0, np.nan])
    with pytest.raises(InterphaseInputError, match="z_nm"):
        stack.profile(np.zeros((2, 2)))
    with pytest.raises(InterphaseInputError, match="expected an array of depths"):
        stack.profile("abc")
    prof = stack.profile([1.0])
    assert prof.density("O")[0] == 0.0
    with pytest.raises(InterphaseInputError, match="unknown element"):
        prof.density("Qq")


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(phases={"Unobtainium": 1}), r"unknown phase 'Unobtainium'"),
        (dict(phases={"Li2O": -0.1}), r"phases\.Li2O: value -0.1 is outside the physical range"),
        (dict(phases={"Li2O": 0.0, "Li3N": 0.0}), "sum to zero"),
        (dict(phases={}), "non-empty mapping"),
        (dict(thickness_nm=-5), r"thickness_nm: value -5.0 is outside the physical range \(0.0, inf\]"),
        (dict(thickness_nm=0), r"thickness_nm: value 0.0 is outside"),
        (dict(thickness_nm=float("nan")), "NaN"),
        (dict(thickness_nm=Parameter(10, bounds=(-5, 20), vary=True)), "reach outside the physical range"),
        (dict(thickness_nm=1e9), r"layers\.SEI\.thickness_nm: value 1e\+09 nm is thicker than any layer"),
        (dict(thickness_nm=Parameter(10, bounds=(1, 1e30), vary=True)), r"thickness_nm: max 1e\+30 nm"),
        (dict(roughness_nm=-1), "roughness_nm"),
        (dict(density_scale=0), "density_scale"),
        (dict(li6_abundance=1.5), r"li6_abundance: value 1.5 is outside the physical range \[0.0, 1.0\]"),
        (dict(name="a.b"), "without dots"),
        (dict(thickness_nm="inf", phases_bottom={"Li": 1}), "semi-infinite layer has no bottom"),
    ],
)
def test_bad_layer_input_names_the_field(kwargs, match):
    args = dict(name="SEI", phases={"Li2O": 1.0}, thickness_nm=10.0)
    args.update(kwargs)
    with pytest.raises(InterphaseInputError, match=match):
        Layer(**args)


def test_a_python_caller_cannot_set_an_absurd_thickness_either():
    """A value set after construction (a user, a fit) is re-checked against the 1 cm limit
    before the profile is computed: a 1e9 nm layer would give impossible NDP yields."""
    lay = Layer("SEI", {"Li2O": 1.0}, 10.0)
    lay.thickness_nm.value = 1e9
    with pytest.raises(InterphaseInputError, match=r"layers\.SEI\.thickness_nm: value 1e\+09 nm"):
        lay.check_values()
    Layer("Sub", {"Li": 1.0}, "inf").check_values()  # a semi-infinite substrate stays fine


def test_bad_stack_input_names_the_field():
    a = Layer("A", {"Li": 1}, 10)
    with pytest.raises(InterphaseInputError, match="duplicate layer name 'A'"):
        Stack([a, Layer("A", {"Li": 1}, 10)])
    with pytest.raises(InterphaseInputError, match="only the last layer may be semi-infinite"):
        Stack([Layer("B", {"Li": 1}, "inf"), a])
    with pytest.raises(InterphaseInputError, match="at least one layer"):
        Stack([])
    with pytest.raises(InterphaseInputError, match=r"sample.li6_abundance"):
        Stack([a], li6_abundance=-0.1)
    other = phases.get("LiPON")
    with pytest.raises(InterphaseInputError, match="two different Phase objects"):
        Stack([Layer("X", {phases.get("LiPON"): 1}, 5), Layer("Y", {other: 1}, 5)])


def test_table_reports_layers_and_densities():
    stack = Stack([Layer("SEI", {"Li2O": 1, "Li3N": 1}, 60, grain_size_nm=5), Layer("Li", {"Li": 1}, "inf")])
    text = stack.table()
    rho = 0.5 * (phases.get("Li2O").density + phases.get("Li3N").density)
    assert f"{rho:.3f}" in text and "Li2O 50" in text and "inf" in text


@given(layer_specs(n_min=2), st.integers(0, 2**32 - 1))
def test_any_grid_order_gives_the_same_profile(specs, seed):
    stack = make_stack(specs)
    z = np.linspace(-3, stack.finite_depth_nm() + 20, 2001)
    perm = np.random.default_rng(seed).permutation(z.size)
    ref, shuffled = stack.profile(z), stack.profile(z[perm])
    np.testing.assert_array_equal(shuffled.densities, ref.densities[:, perm])
    np.testing.assert_array_equal(shuffled.fractions, ref.fractions[:, perm])


@given(st.floats(0.5, 5.0), st.floats(5.0, 40.0), st.floats(0.0, 40.0))
def test_overlapping_rough_interfaces_stay_physical(thin, rough_top, rough_bottom):
    # a thin layer between two very rough interfaces: erf tails overlap and are clipped
    stack = Stack([
        Layer("A", {"Li2O": 1}, 50, roughness_nm=rough_top),
        Layer("thin", {"Li3PO4": 1}, thin, roughness_nm=rough_bottom, phases_bottom={"Li3N": 1}),
        Layer("B", {"Li": 1}, "inf"),
    ])
    prof = stack.profile(np.linspace(0, 300, 6001))
    assert np.all(prof.densities >= 0) and np.all(prof.li6 >= 0) and np.all(prof.fractions >= 0)
    assert np.all(prof.fractions.sum(axis=0) <= 1 + 1e-12)
    assert np.all(np.isfinite(prof.densities))


def test_atom_fractions_follow_stoichiometry():
    stack = Stack([Layer("A", {"Li2O": 1}, 20), Layer("B", {"Li3PO4": 1}, 20)])
    prof = stack.profile(np.array([-1.0, 10.0, 30.0, 50.0]))
    frac = dict(zip(prof.elements, prof.atom_fractions()))
    np.testing.assert_allclose(frac["O"], [0, 1 / 3, 4 / 8, 0])
    np.testing.assert_allclose(frac["P"], [0, 0, 1 / 8, 0])
    np.testing.assert_allclose(prof.atom_fractions().sum(axis=0), [0, 1, 1, 0])
    d = prof.as_dict()
    assert set(d) == {"z_nm", "Li", "O", "P", "6Li", "phase:Li2O", "phase:Li3PO4"}


@given(st.floats(0.5, 10.0), st.floats(0.1, 6.0))
def test_roughness_near_the_top_surface_conserves_atoms(thin, rough):
    # a thin top layer whose rough bottom interface reaches above z = 0
    stack = Stack([Layer("A", {"Li2O": 1}, thin, roughness_nm=rough), Layer("B", {"Li3N": 1}, 40.0)])
    z = np.linspace(0.0, thin + 40.0 + 1.0, 200001)
    prof = stack.profile(z)
    want = thin * phases.get("Li2O").number_density()["O"]
    assert np.trapezoid(prof.density("O"), z) == pytest.approx(want, rel=2e-3)
