"""A fuzz corpus for the command line (1 of 2): broken sample files and settings tables.

Every case asserts the same contract (:func:`fuzz.refused`): exit status 2, exactly one
line on stderr (no traceback) that names the offending field (the table and key, the file
or the flag), and an ``--out`` folder left with no files (not created, or empty if it
existed). Broken spectra and arguments: ``test_fuzz_inputs.py``.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz import INF, NAN, base_doc, command, refused, set_key, write_doc
from interphase_sim.core.settings import TABLES

def out_of_range(setting) -> object:
    """A value just outside a number's, integer's or pair's range (NaN when unbounded)."""
    rng = setting.range
    if setting.kind == "integer":
        return int(math.ceil(rng.low)) - 1 if math.isfinite(rng.low) else int(rng.high) + 1
    if math.isfinite(rng.low):
        v = rng.low if rng.low_open else rng.low - max(1.0, abs(rng.low))
    elif math.isfinite(rng.high):
        v = rng.high if rng.high_open else rng.high + max(1.0, abs(rng.high))
    else:
        v = math.nan
    return [v, v + 1.0] if setting.kind == "pair" else v


#: Out-of-range values of the keys checked by their own function (kind "any").
BAD_ANY = {
    ("ndp", "dead_layers"): [{"material": "Si", "thickness_nm": -5.0}],
    ("ndp", "channels"): 1,
    ("ndp", "stopping_scale"): {"LiPON": -1.0},
    ("eels", "edges"): ["Li K", ""],
    ("eels", "templates"): {"LiPON": {"Li K": 3}},
    ("eels", "positions"): 1,
    ("eels", "xsec_scale"): {"Li K": -0.5},
    ("hrtem", "mtf"): [0.5, 2.5, 1.5],
    ("build", "lateral_nm"): [0.0, 5.0],
    ("build", "orientations"): {"Li": [0, 0, 0]},
    ("fit", "data"): {"ndp": []},
    ("fit", "calibration"): {"ndp": {"gain_keV": -3.0}},
    ("sweep", "parameters"): {"layers.SEI-outer.thickness_nm": {"dist": "nosuch"}},
}
#: Values of the wrong type for each kind.
WRONG_TYPE = {"parameter": "fifteen", "number": "fifteen", "integer": 2.5, "bool": "yes", "choice": 3,
              "choices": [3], "pair": "1 to 2", "seed": 1.5, "string": 3}
WRONG_TYPE_ANY = {
    ("ndp", "dead_layers"): "Si 10 nm", ("ndp", "channels"): "many", ("ndp", "stopping_scale"): 1.0,
    ("eels", "edges"): 3, ("eels", "templates"): "Li.msa", ("eels", "positions"): "all",
    ("eels", "xsec_scale"): {"Li K": "big"}, ("hrtem", "mtf"): "perfect", ("build", "lateral_nm"): 10.0,
    ("build", "orientations"): [1, 0, 0], ("fit", "data"): "spectrum.csv", ("fit", "calibration"): 3.0,
    ("sweep", "parameters"): 3,
}


def _value_cases() -> list:
    cases = []
    for table in TABLES.values():
        for s in table.settings:
            key = (table.name, s.name)
            if s.kind == "any":
                bad = BAD_ANY[key]
            elif s.kind in ("choice", "choices"):
                bad = "nosuch" if s.kind == "choice" else ["nosuch"]
            elif s.kind == "bool":
                bad = 1
            elif s.kind == "seed":
                bad = -1
            else:
                bad = out_of_range(s)
            wrong = WRONG_TYPE_ANY[key] if s.kind == "any" else WRONG_TYPE[s.kind]
            cases.append(pytest.param(table.name, s.name, bad, id=f"range-{table.name}.{s.name}"))
            cases.append(pytest.param(table.name, s.name, wrong, id=f"type-{table.name}.{s.name}"))
    return cases


@pytest.mark.parametrize("table, key, value", _value_cases())
def test_every_settings_key_refuses_a_bad_value(tmp_path, capsys, table, key, value):
    doc = base_doc()
    doc.setdefault(table, {})[key] = value
    out = tmp_path / "out"
    refused(command(table, write_doc(tmp_path, doc), out), capsys, out, f"{table}.{key}")


@pytest.mark.parametrize("table", list(TABLES))
def test_an_unknown_key_in_every_table_suggests_the_closest(tmp_path, capsys, table):
    doc = base_doc()
    first = TABLES[table].settings[1].name
    doc.setdefault(table, {})[first + "x"] = 1.0
    out = tmp_path / "out"
    refused(command(table, write_doc(tmp_path, doc), out), capsys, out, f"{table}.{first}x",
            pattern=f"did you mean '{first}'")


_NUMBERS = [(t.name, s) for t in TABLES.values() for s in t.settings if s.kind in ("parameter", "number")
            and (math.isfinite(s.range.low) or math.isfinite(s.range.high))]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_out_of_range_numbers_are_refused_for_every_numeric_key(tmp_path_factory, capsys, data):
    table, s = data.draw(st.sampled_from(_NUMBERS), label="key")
    rng = s.range
    sides = []
    if math.isfinite(rng.low):
        sides.append(st.floats(max_value=rng.low, exclude_max=not rng.low_open, allow_nan=False,
                               allow_infinity=False, min_value=-1e300))
    if math.isfinite(rng.high):
        sides.append(st.floats(min_value=rng.high, exclude_min=not rng.high_open, allow_nan=False,
                               allow_infinity=False, max_value=1e300))
    value = data.draw(st.one_of(sides), label="value")
    tmp = tmp_path_factory.mktemp("h")
    doc = base_doc()
    doc.setdefault(table, {})[s.name] = value
    out = tmp / "out"
    refused(command(table, write_doc(tmp, doc), out), capsys, out, f"{table}.{s.name}")


# --------------------------------------------------------------------------- [sample], [[layers]], [phases]


#: (where in the document, value, any one of these must be in the error line)
LAYER_CASES = {
    "thickness-negative": ("layers.1.thickness_nm", -5.0, ["thickness_nm"]),
    "thickness-zero": ("layers.1.thickness_nm", 0.0, ["thickness_nm"]),
    "thickness-nan": ("layers.1.thickness_nm", NAN, ["thickness_nm"]),
    "thickness-1e9-nm": ("layers.1.thickness_nm", 1e9, ["thickness_nm"]),
    "thickness-1e9-first-layer": ("layers.0.thickness_nm", 1e9, ["thickness_nm"]),
    "thickness-bound-1e9": ("layers.1.thickness_nm", {"value": 30, "min": 5, "max": 1e9, "vary": True},
                            ["thickness_nm"]),
    "thickness-inf-not-last": ("layers.1.thickness_nm", "inf", ["thickness_nm", "semi-infinite"]),
    "thickness-minus-inf": ("layers.3.thickness_nm", -INF, ["thickness_nm"]),
    "thickness-text": ("layers.1.thickness_nm", "thirty", ["thickness_nm"]),
    "thickness-list": ("layers.1.thickness_nm", [30, 40], ["thickness_nm"]),
    "thickness-bool": ("layers.1.thickness_nm", True, ["thickness_nm"]),
    "thickness-missing": ("layers.1.thickness_nm", ..., ["thickness_nm"]),
    "roughness-negative": ("layers.1.roughness_nm", -1.0, ["roughness_nm"]),
    "roughness-huge": ("layers.1.roughness_nm", 2e6, ["roughness_nm"]),
    "roughness-text": ("layers.1.roughness_nm", "smooth", ["roughness_nm"]),
    "roughness-nan": ("layers.1.roughness_nm", NAN, ["roughness_nm"]),
    "grain-zero": ("layers.1.grain_size_nm", 0.0, ["grain_size_nm"]),
    "grain-negative": ("layers.1.grain_size_nm", -4.0, ["grain_size_nm"]),
    "grain-huge": ("layers.1.grain_size_nm", 1e7, ["grain_size_nm"]),
    "grain-list": ("layers.1.grain_size_nm", [4], ["grain_size_nm"]),
    "density-scale-zero": ("layers.1.density_scale", 0.0, ["density_scale"]),
    "density-scale-huge": ("layers.1.density_scale", 1e3, ["density_scale"]),
    "density-scale-bool": ("layers.1.density_scale", False, ["density_scale"]),
    "li6-negative": ("layers.1.li6_abundance", -0.1, ["li6_abundance"]),
    "li6-above-one": ("layers.1.li6_abundance", 1.5, ["li6_abundance"]),
    "li6-text": ("layers.1.li6_abundance", "enriched", ["li6_abundance"]),
    "fraction-negative": ("layers.1.phases.Li3N", -0.2, ["Li3N"]),
    "fraction-nan": ("layers.1.phases.Li3N", NAN, ["Li3N"]),
    "fraction-inf": ("layers.1.phases.Li3N", INF, ["Li3N"]),
    "fraction-text": ("layers.1.phases.Li3N", "a fifth", ["Li3N"]),
    "fraction-unknown-phase": ("layers.1.phases.Li3Nx", 0.2, ["Li3Nx"]),
    "fraction-all-zero": ("layers.1.phases", {"LiPON": 0.0, "Li3N": 0.0}, ["phases"]),
    "fractions-empty": ("layers.1.phases", {}, ["phases"]),
    "fractions-not-a-table": ("layers.1.phases", "LiPON", ["phases"]),
    "fractions-list": ("layers.1.phases", ["LiPON", "Li3N"], ["phases"]),
    "bottom-unknown-phase": ("layers.1.phases_bottom.Li3PP", 0.2, ["Li3PP"]),
    "bottom-negative": ("layers.1.phases_bottom.Li3N", -1.0, ["phases_bottom"]),
    "bottom-all-zero": ("layers.1.phases_bottom", {"Li3N": 0.0}, ["phases_bottom"]),
    "bottom-on-semi-infinite": ("layers.3.phases_bottom", {"Li": 1.0}, ["phases_bottom"]),
    "fraction-vary-unbounded": ("layers.1.phases.Li3N", {"value": 0.2, "vary": True}, ["Li3N"]),
    "name-missing": ("layers.1.name", ..., ["layers[1].name"]),
    "name-with-dot": ("layers.1.name", "SEI.outer", ["layers[1].name"]),
    "name-empty": ("layers.1.name", "", ["layers[1].name"]),
    "name-number": ("layers.1.name", 3, ["layers[1].name"]),
    "name-duplicate": ("layers.2.name", "SEI-outer", ["SEI-outer"]),
    "phases-missing": ("layers.1.phases", ..., ["layers[1].phases"]),
    "layer-unknown-key": ("layers.1.thickness", 30.0, ["layers[1].thickness"]),
    "layer-not-a-table": ("layers.1", 30.0, ["layers[1]"]),
    "layers-empty": ("layers", [], ["layers"]),
    "layers-not-a-list": ("layers", {"name": "x"}, ["layers"]),
    "sample-li6-negative": ("sample.li6_abundance", -0.5, ["sample.li6_abundance"]),
    "sample-li6-above-one": ("sample.li6_abundance", 2.0, ["sample.li6_abundance"]),
    "sample-li6-nan": ("sample.li6_abundance", NAN, ["sample.li6_abundance"]),
    "sample-li6-text": ("sample.li6_abundance", "natural", ["sample.li6_abundance"]),
    "sample-unknown-key": ("sample.nmae", "x", ["sample.nmae"]),
    "sample-not-a-table": ("sample", 3, ["sample"]),
    "sample-name-number": ("sample.name", 3, ["sample.name"]),
}


def test_an_unknown_layer_key_suggests_the_closest(tmp_path, capsys):
    doc = base_doc()
    doc["layers"][1]["thicknes_nm"] = doc["layers"][1].pop("thickness_nm")
    out = tmp_path / "out"
    refused(["simulate", "ndp", write_doc(tmp_path, doc), "--out", out], capsys, out, "layers[1].thicknes_nm",
            pattern="did you mean 'thickness_nm'")


#: Parameter tables {value, min, max, vary, prior}, put in three places.
PARAMETER_CASES = {
    "min-above-max": {"value": 30, "min": 80, "max": 5, "vary": True},
    "min-equals-max": {"value": 30, "min": 30, "max": 30},
    "value-below-min": {"value": 2, "min": 5, "max": 80, "vary": True},
    "value-above-max": {"value": 90, "min": 5, "max": 80},
    "min-nan": {"value": 30, "min": NAN, "max": 80},
    "min-text": {"value": 30, "min": "five", "max": 80},
    "max-bool": {"value": 30, "min": 5, "max": True},
    "value-missing": {"min": 5, "max": 80},
    "value-text": {"value": "thirty", "min": 5, "max": 80},
    "vary-text": {"value": 30, "min": 5, "max": 80, "vary": "yes"},
    "vary-unbounded": {"value": 30, "vary": True},
    "unknown-key": {"value": 30, "min": 5, "mx": 80},
    "prior-unknown-dist": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "gaussian", "loc": 30, "scale": 5}},
    "prior-not-continuous": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "poisson", "mu": 30}},
    "prior-bad-args": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "norm", "mean": 30, "sd": 5}},
    "prior-shape-missing": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "gamma", "loc": 30, "scale": 5}},
    "prior-negative-scale": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "norm", "loc": 30, "scale": -5}},
    "prior-no-dist": {"value": 30, "min": 5, "max": 80, "prior": {"loc": 30, "scale": 5}},
    "prior-not-a-table": {"value": 30, "min": 5, "max": 80, "prior": "norm(30, 5)"},
    "prior-zero-at-value": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "uniform", "loc": 50, "scale": 5}},
    "prior-text-arg": {"value": 30, "min": 5, "max": 80, "prior": {"dist": "norm", "loc": "thirty", "scale": 5}},
}
PARAMETER_PLACES = {
    "layer": ("layers.1.thickness_nm", "thickness_nm", 1.0),
    "ndp": ("ndp.fwhm_keV", "ndp.fwhm_keV", 0.6),
    "phase": ("phases.LiPON.density", "phases.LiPON.density", 0.08),
}


def _scaled(table: dict, factor: float) -> dict:
    out = copy.deepcopy(table)
    for k in ("value", "min", "max"):
        if isinstance(out.get(k), (int, float)) and not isinstance(out[k], bool):
            out[k] = out[k] * factor
    prior = out.get("prior")
    if isinstance(prior, dict):
        for k in ("loc", "scale"):
            if isinstance(prior.get(k), (int, float)):
                prior[k] = prior[k] * factor
    return out


@pytest.mark.parametrize("place", PARAMETER_PLACES)
@pytest.mark.parametrize("case", PARAMETER_CASES)
def test_broken_parameter_tables(tmp_path, capsys, case, place):
    where, name, factor = PARAMETER_PLACES[place]
    doc = base_doc()
    set_key(doc, where, _scaled(PARAMETER_CASES[case], factor))
    out = tmp_path / "out"
    line = refused(["simulate", "ndp", write_doc(tmp_path, doc), "--out", out], capsys, out, name)
    assert "Parameter" not in line.split(":")[1]  # a Parameter's own error names its field


PHASE_CASES = {
    "unknown-builtin": ("phases.LiPONx", {"density": 2.4}, ["phases.LiPONx"]),
    "crystal-density": ("phases.Li2O", {"density": 2.0}, ["phases.Li2O.density"]),
    "formula-no-density": ("phases.Glass", {"formula": "Li2S"}, ["phases.Glass.density"]),
    "density-negative": ("phases.Glass", {"formula": "Li2S", "density": -1.0}, ["phases.Glass.density"]),
    "density-zero": ("phases.LiPON", {"density": 0.0}, ["phases.LiPON.density"]),
    "density-huge": ("phases.Glass", {"formula": "Li2S", "density": 1e6}, ["phases.Glass.density"]),
    "density-text": ("phases.LiPON", {"density": "dense"}, ["phases.LiPON.density"]),
    "bad-formula": ("phases.Glass", {"formula": "Xq2S", "density": 1.7}, ["phases.Glass"]),
    "empty-formula": ("phases.Glass", {"formula": "", "density": 1.7}, ["phases.Glass"]),
    "cif-missing": ("phases.MyCrystal", {"cif": "nosuch.cif"}, ["nosuch.cif", "phases.MyCrystal"]),
    "cif-and-density": ("phases.MyCrystal", {"cif": "x.cif", "density": 2.0}, ["phases.MyCrystal"]),
    "cif-not-text": ("phases.MyCrystal", {"cif": 3}, ["phases.MyCrystal"]),
    "unknown-key": ("phases.LiPON", {"densty": 2.4}, ["phases.LiPON.densty"]),
    "not-a-table": ("phases.LiPON", 2.4, ["phases.LiPON"]),
    "phases-not-a-table": ("phases", 3, ["phases"]),
}


TABLE_CASES = {**{f"layer-{k}": v for k, v in LAYER_CASES.items()}, **{f"phase-{k}": v for k, v in PHASE_CASES.items()}}


@pytest.mark.parametrize("where, value, names", TABLE_CASES.values(), ids=TABLE_CASES.keys())
def test_broken_layers_sample_and_phase_tables(tmp_path, capsys, where, value, names):
    doc = base_doc()
    set_key(doc, where, value)
    out = tmp_path / "out"
    refused(["simulate", "ndp", write_doc(tmp_path, doc), "--out", out], capsys, out, *names)


