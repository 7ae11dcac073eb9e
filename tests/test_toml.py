"""Sample files: exact round trip, shipped samples, and every malformed-file error."""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from interphase_sim import InterphaseInputError, Layer, Parameter, Phase, Stack, samples

DESIGN_EXAMPLE = """
[sample]
name = "Li | SEI | LiPON"
li6_abundance = 0.0759

[[layers]]
name = "LiPON"
thickness_nm = 1500
phases = { LiPON = 1.0 }

[[layers]]
name = "SEI"
thickness_nm = { value = 60, min = 10, max = 200, vary = true }
phases = { Li2O = 0.5, Li3N = 0.3, Li3PO4 = 0.2 }
grain_size_nm = 5
roughness_nm = 3

[[layers]]
name = "Li"
thickness_nm = "inf"
phases = { Li = 1.0 }
"""


def param_state(stack):
    out = {}
    for name, p in stack.parameters().items():
        prior = None if p.prior is None else (p.prior.dist.name, p.prior.args, tuple(sorted(p.prior.kwds.items())))
        out[name] = (p.value, p.bounds, p.vary, prior)
    return out


def assert_same_stack(a, b):
    assert [l.name for l in a] == [l.name for l in b]
    assert param_state(a) == param_state(b)
    assert a.name == b.name and a.sections == b.sections
    assert {k: (ph.formula, ph.density) for k, ph in a.phases.items()} == {
        k: (ph.formula, ph.density) for k, ph in b.phases.items()
    }
    z = np.linspace(-1, a.finite_depth_nm() + 50, 3001)
    pa, pb = a.profile(z), b.profile(z)
    # parameters are equal bit for bit (above); profiles to rounding
    np.testing.assert_allclose(pa.densities, pb.densities, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pa.fractions, pb.fractions, rtol=1e-12, atol=1e-12)


def test_design_example_reads_as_written():
    stack = Stack.from_toml_string(DESIGN_EXAMPLE)
    ps = stack.parameters()
    t = ps["SEI.thickness_nm"]
    assert (t.value, t.bounds, t.vary) == (60.0, (10.0, 200.0), True)
    assert stack["Li"].semi_infinite and stack["SEI"].grain_size_nm.value == 5
    assert stack["SEI"].normalized_fractions()["Li3PO4"] == pytest.approx(0.2)
    assert stack.phases["Li3PO4"].spacegroup == "Pnma"  # bare name = gamma


@pytest.mark.parametrize("name", samples.names())
def test_round_trip_is_exact_for_shipped_samples(name, tmp_path):
    a = samples.load(name)
    path = tmp_path / "s.toml"
    a.to_toml(path)
    b = Stack.from_toml(path)
    assert_same_stack(a, b)
    assert b.to_toml_string() == a.to_toml_string()


def test_round_trip_keeps_priors_phase_overrides_instrument_sections_and_cif(tmp_path):
    from pymatgen.io.cif import CifWriter

    from interphase_sim import phases

    CifWriter(phases.get("LiF").structure).write_file(tmp_path / "lif.cif")
    text = DESIGN_EXAMPLE + """
[phases.LiPON]
density = { value = 2.35, min = 2.2, max = 2.6, vary = true, prior = { dist = "norm", loc = 2.4, scale = 0.05 } }

[phases.Glass]
formula = "Li2S"
density = 1.66

[phases.MyLiF]
cif = "lif.cif"

[ndp]
fwhm_keV = { value = 18, min = 5, max = 40, vary = true }
particles = ["alpha", "triton"]
"""
    text = text.replace('phases = { Li = 1.0 }', 'phases = { Li = 1.0 }\nli6_abundance = 0.95')
    text = text.replace('phases = { LiPON = 1.0 }', 'phases = { LiPON = 0.9, Glass = 0.05, MyLiF = 0.05 }\nphases_bottom = { LiPON = 1 }')
    (tmp_path / "a.toml").write_text(text)
    a = Stack.from_toml(tmp_path / "a.toml")
    dens = a.parameters()["phases.LiPON.density"]
    assert dens.vary and dens.prior.mean() == pytest.approx(2.4) and dens.value == 2.35
    assert a.phases["MyLiF"].density == pytest.approx(phases.get("LiF").density, rel=1e-6)
    assert a.sections["ndp"]["particles"] == ["alpha", "triton"]
    a.to_toml(tmp_path / "b.toml")
    b = Stack.from_toml(tmp_path / "b.toml")
    assert_same_stack(a, b)
    assert (tmp_path / "b.toml").read_text() == b.to_toml_string()
    assert not list(tmp_path.glob("*.tmp"))  # nothing half-written left behind


names = st.text("abcdefghijklmnopqrstuvwxyzABC-_ |0123", min_size=1, max_size=8).filter(str.strip)
numbers = st.floats(0.01, 1e4, allow_nan=False)


@st.composite
def params(draw, lo=0.0, hi=1e4):
    """A plain number in (lo, hi], or a Parameter with bounds inside [lo, hi]."""
    v = draw(st.floats(lo + 0.01, hi))
    if draw(st.booleans()):
        return v
    a, b = draw(st.floats(lo, v)), draw(st.floats(v, hi))
    if not a < b:
        return v
    return Parameter(v, bounds=(a, b), vary=draw(st.booleans()))


@given(st.lists(names, min_size=1, max_size=4, unique=True), st.data())
def test_round_trip_is_exact_for_any_stack(layer_names, data):
    phs = ["Li", "Li2O", "Li3N", "Li3PO4-beta", "LiPON", "LNMO-disordered", "Cu"]
    layers = []
    for i, n in enumerate(layer_names):
        last = i == len(layer_names) - 1
        semi = last and data.draw(st.booleans())
        fr = data.draw(st.dictionaries(st.sampled_from(phs), params(0, 10), min_size=1, max_size=3))
        fb = None if semi else data.draw(st.none() | st.dictionaries(st.sampled_from(phs), params(0, 10), min_size=1, max_size=2))
        layers.append(
            Layer(n, fr, "inf" if semi else data.draw(params(0, 1e3)), roughness_nm=data.draw(params(0, 10)),
                  grain_size_nm=data.draw(st.none() | params(0, 50)), phases_bottom=fb,
                  density_scale=data.draw(params(0.5, 2)), li6_abundance=data.draw(st.none() | params(0, 1)))
        )
    a = Stack(layers, li6_abundance=data.draw(params(0, 0.9)), name=data.draw(st.none() | names))
    b = Stack.from_toml_string(a.to_toml_string())
    assert_same_stack(a, b)
    assert b.to_toml_string() == a.to_toml_string()


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.replace('name = "SEI"', 'name = "SEI'), r"TOML syntax error: .*line 12"),
        (lambda t: t.replace("grain_size_nm = 5", "grain_sise_nm = 5"), r"layers\[1\]\.grain_sise_nm: unknown key \(did you mean 'grain_size_nm'\?\)"),
        (lambda t: t + "\n[nddp]\nfwhm_keV = 3\n", r"nddp: unknown section \(did you mean \[ndp\]\?\)"),
        (lambda t: t.replace("Li3PO4 = 0.2", "Li3P04 = 0.2"), r"layers\.SEI\.phases\.Li3P04: unknown phase 'Li3P04'; close matches: Li3PO4"),
        (lambda t: t.replace("thickness_nm = 1500", "thickness_nm = -1500"), r"LiPON\.thickness_nm: value -1500.0 is outside the physical range \(0.0, inf\]"),
        (lambda t: t.replace("thickness_nm = 1500", "thickness_nm = 0"), r"thickness_nm: value 0.0 is outside"),
        (lambda t: t.replace("thickness_nm = 1500", 'thickness_nm = "thick"'), r"layers\[0\]\.thickness_nm: expected a number"),
        (lambda t: t.replace("value = 60, min = 10", "value = 6, min = 10"), r"value 6.0 is outside its bounds \[10.0, 200.0\]"),
        (lambda t: t.replace('name = "Li"', 'name = "SEI"'), r"duplicate layer name 'SEI'"),
        (lambda t: t.replace("thickness_nm = 1500", 'thickness_nm = "inf"'), r"only the last layer may be semi-infinite"),
        (lambda t: t.replace("Li2O = 0.5, Li3N = 0.3, Li3PO4 = 0.2", "Li2O = -0.5, Li3N = 0.3"), r"phases\.Li2O: value -0.5"),
        (lambda t: t.replace("Li2O = 0.5, Li3N = 0.3, Li3PO4 = 0.2", "Li2O = 0, Li3N = 0"), r"sum to zero"),
        (lambda t: t.replace("vary = true", "vary = 1"), r"vary: expected true or false"),
        (lambda t: t.replace("vary = true", "vary = true, step = 2"), r"step: unknown key"),
        (lambda t: t + '\n[phases.Li2O]\ndensity = 2.1\n', r"Li2O is crystalline"),
        (lambda t: t + '\n[phases.Glass]\nformula = "Li2Qz"\ndensity = 2\n', r"unknown element"),
        (lambda t: t.replace('[sample]', '[sample]\nthickness = 3'), r"sample\.thickness: unknown key"),
        (lambda t: t.replace('li6_abundance = 0.0759', 'li6_abundance = 1.2'), r"li6_abundance: value 1.2 is outside the physical range \[0.0, 1.0\]"),
    ],
)
def test_malformed_sample_files_name_file_field_and_range(edit, match, tmp_path):
    path = tmp_path / "sample.toml"
    path.write_text(edit(DESIGN_EXAMPLE))
    with pytest.raises(InterphaseInputError, match=match) as exc:
        Stack.from_toml(path)
    assert str(path) in str(exc.value)


def test_missing_file_and_missing_layers():
    with pytest.raises(InterphaseInputError, match="cannot read"):
        Stack.from_toml("/nonexistent/sample.toml")
    with pytest.raises(InterphaseInputError, match=r"at least one \[\[layers\]\]"):
        Stack.from_toml_string('[sample]\nname = "x"\n')
    with pytest.raises(InterphaseInputError, match=r"layers\[0\]\.phases: required key is missing"):
        Stack.from_toml_string('[[layers]]\nname = "x"\nthickness_nm = 3\n')


def test_writing_a_structure_without_cif_is_refused_clearly(tmp_path):
    from interphase_sim import phases

    ph = Phase.from_structure("Mine", phases.get("Li2O").structure)
    stack = Stack([Layer("A", {ph: 1}, math.inf)])
    with pytest.raises(InterphaseInputError, match="save its structure as CIF"):
        stack.to_toml(tmp_path / "x.toml")
    assert not list(tmp_path.iterdir())  # no half-written file
    prior = Parameter(1.0, bounds=(0, 2), prior=scipy.stats.gamma(2.0, scale=0.5))
    s2 = Stack([Layer("A", {"Li": 1}, prior)])
    back = Stack.from_toml_string(s2.to_toml_string()).parameters()["A.thickness_nm"].prior
    assert back.logpdf(0.7) == pytest.approx(prior.prior.logpdf(0.7))
