"""The instrument registry and the protocol every registered model follows.

One parametrized test per protocol rule, over every instrument of
``interphase_sim.instruments`` and every shipped sample it can image, so a new
instrument is checked by adding it to the registry.
"""

from __future__ import annotations

import inspect
import json
import re

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, Parameter, instruments, samples
from interphase_sim.core.measurement import Measurement
from interphase_sim.core.model import METADATA_KEYS
from interphase_sim.core.settings import TABLES

# A small, cheap model per instrument. HRTEM images a 2 x 2 nm lamella at coarse sampling:
# amorphous LiPON in li_sei_lipon; in lnmo_lipon, across the LiPON | LNMO interface, where
# the LNMO's 100 nm grains become one crystal across the box.
CHEAP = {
    "ndp": {},
    "eels": {},
    "hrtem": {"lateral_nm": 2.0, "thickness_nm": 2.0, "depth_range_nm": (1400.0, 1403.0), "seed": 1,
              "sampling_A": 0.1},
}
CHEAP_ON = {("hrtem", "lnmo_lipon"): {"depth_range_nm": (1498.0, 1502.0)}}
CASES = [(kind, sample) for kind in ("ndp", "eels", "hrtem") for sample in samples.names()]


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(kind, sample):
        if (kind, sample) not in cache:
            settings = {**CHEAP[kind], **CHEAP_ON.get((kind, sample), {})}
            cache[kind, sample] = instruments[kind].from_stack(samples.load(sample), **settings)
        return cache[kind, sample]

    return get


def test_every_instrument_runs_on_every_shipped_sample():
    assert sorted(samples.names()) == ["li_sei_lipon", "lnmo_lipon"]
    assert len(CASES) == 3 * len(samples.names())


def test_registry_names_the_three_instruments():
    assert sorted(instruments) == ["eels", "hrtem", "ndp"]
    assert len(instruments) == 3
    assert {instruments[k].__name__ for k in instruments} == {"NDPModel", "EELSModel", "HRTEMModel"}


def test_unknown_instrument_names_the_accepted_ones():
    with pytest.raises(InterphaseInputError, match="ndp, eels, hrtem"):
        instruments["xrd"]


@pytest.mark.parametrize("kind", ["ndp", "eels", "hrtem"])
def test_every_model_offers_the_protocol(kind):
    cls = instruments[kind]
    for name in ("from_stack", "parameters", "simulate", "expected"):
        assert callable(getattr(cls, name)), f"{kind}: no {name}"


@pytest.mark.parametrize("kind,sample", CASES)
def test_simulate_is_a_measurement_and_deterministic(models, kind, sample):
    model = models(kind, sample)
    a = model.simulate(noise=True, seed=7)
    b = model.simulate(noise=True, seed=7)
    c = model.simulate(noise=True, seed=8)
    assert isinstance(a, Measurement)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    assert np.all(np.isfinite(a.values))


@pytest.mark.parametrize("kind,sample", CASES)
def test_expected_matches_the_measurement_and_the_noise_free_simulation(models, kind, sample):
    model = models(kind, sample)
    noisy = model.simulate(noise=True, seed=3)
    mean = model.expected(noisy)
    assert mean.shape == np.shape(noisy.values)
    clean = model.simulate(noise=False)
    np.testing.assert_allclose(mean, clean.values * (model.scale.value if kind == "hrtem" else 1.0),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,sample", CASES)
def test_parameters_are_parameters_by_identity(models, kind, sample):
    params = models(kind, sample).parameters()
    assert len(params) > 0
    assert all(isinstance(p, Parameter) for p in params.values())
    again = models(kind, sample).parameters()
    assert all(params[k] is again[k] for k in params)


# -- settings: one vocabulary, a round trip, keywords over the table -------------------------
def _plain_json(value):
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("kind,sample", CASES)
def test_settings_round_trip_rebuilds_the_same_model(models, kind, sample):
    """from_stack(stack, **model.settings()) rebuilds the model: same settings, same
    noise-free simulation (HRTEM: the same atoms), through plain JSON values."""
    model = models(kind, sample)
    settings = _plain_json(model.settings())  # JSON-able, and what a file would hold
    again = instruments[kind].from_stack(model.stack, **settings)
    assert _plain_json(again.settings()) == settings
    if kind == "hrtem":
        np.testing.assert_array_equal(again.atoms.get_atomic_numbers(), model.atoms.get_atomic_numbers())
        np.testing.assert_allclose(again.atoms.positions, model.atoms.positions, atol=1e-9)
    np.testing.assert_allclose(again.simulate().values, model.simulate().values, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", ["ndp", "eels", "hrtem"])
def test_every_setting_key_is_a_table_key(models, kind):
    """settings() speaks the sample file's vocabulary: every key is a key of the table."""
    model = models(kind, "li_sei_lipon")
    assert set(model.settings()) <= set(TABLES[kind]), set(model.settings()) - set(TABLES[kind])


@pytest.mark.parametrize("kind,key,value", [("ndp", "fwhm_keV", 31.0), ("eels", "collection_mrad", 27.0),
                                            ("hrtem", "defocus_A", 123.0)])
def test_keywords_override_the_sample_table(kind, key, value):
    stack = samples.load("li_sei_lipon")
    assert stack.sections[kind].get(key) != value  # the shipped table says otherwise (or nothing)
    model = instruments[kind].from_stack(stack, **{**CHEAP[kind], key: value})
    assert model.settings()[key] == value
    assert model.parameters()[f"{kind}.{key}"].value == value


@pytest.mark.parametrize("kind", ["ndp", "eels"])
def test_a_sample_without_a_table_gets_the_vocabulary_defaults(kind):
    """No [ndp]/[eels] table: every number is the vocabulary's default (one default per key)."""
    stack = samples.load("li_sei_lipon")
    stack.sections.pop(kind)
    settings = instruments[kind].from_stack(stack).settings()
    for key, default in TABLES[kind].defaults().items():
        if default is not None and key in settings and TABLES[kind][key].kind in ("parameter", "number"):
            assert settings[key] == pytest.approx(default), key


def test_hrtem_constructor_defaults_are_the_vocabulary_defaults():
    params = inspect.signature(instruments["hrtem"].__init__).parameters
    for key in ("sampling_A", "slice_thickness_A", "frozen_phonons", "max_memory_gb"):
        assert params[key].default == TABLES["hrtem"][key].default, key


# -- parameters: the stack's by identity, the instrument's prefixed ----------------------------
@pytest.mark.parametrize("kind,sample", CASES)
def test_instrument_parameters_are_prefixed_and_the_stack_s_shared(models, kind, sample):
    model = models(kind, sample)
    params = model.parameters()
    stack_params = model.stack.parameters()
    for name, p in params.items():
        if name in stack_params:
            assert p is stack_params[name], name  # shared by identity: a fit moves the sample
        else:
            assert name.startswith(f"{kind}."), name
    own = [n for n in params if n not in stack_params]
    assert own, f"{kind}: no instrument parameters"


# -- measurements: shared axis names and metadata ------------------------------------------------
@pytest.mark.parametrize("kind,sample", CASES)
def test_measurements_share_axis_names_and_metadata_keys(models, kind, sample):
    model = models(kind, sample)
    m = model.simulate(noise=True, seed=2)
    for key in METADATA_KEYS:
        assert key in m.metadata, key
    assert m.metadata["instrument"] == kind and m.metadata["noise"] is True and m.metadata["seed"] == 2
    assert m.metadata["sample"] == model.stack.name
    json.dumps(m.metadata["settings"])  # plain values
    names = [a.name for a in m.axes]
    if kind == "ndp":
        assert names == ["energy"]
    else:  # a depth axis is called depth, in nm, everywhere
        assert "depth" in names and m.axes[names.index("depth")].units == "nm"
    assert all(a.name not in ("position", "x", "y") for a in m.axes)


# -- every table of a sample file is read when the file is read --------------------------------
_BAD_TABLES = [
    ("[eels]\nbeam_energy_ev = 200e3\n", "eels.beam_energy_ev", "beam_energy_eV"),
    ("[ndp]\nfwhm_kev = 20\n", "ndp.fwhm_kev", "fwhm_keV"),
    ("[hrtem]\nsampling = 0.2\n", "hrtem.sampling", "sampling_A"),
    ("[build]\nlateral = [5, 5]\n", "build.lateral", "lateral_nm"),
    ("[fit]\nmethdo = \"least_squares\"\n", "fit.methdo", "method"),
    ("[sweep]\nsample = 10\n", "sweep.sample", "samples"),
]


@pytest.mark.parametrize("extra,field,suggestion", _BAD_TABLES)
def test_an_unknown_key_in_any_table_fails_when_the_file_is_read(extra, field, suggestion):
    text = samples.path("li_sei_lipon").read_text()
    text = text[:text.index("\n[ndp]")] + "\n" + extra  # the sample and its layers, then one bad table
    from interphase_sim.sample.stack import Stack

    with pytest.raises(InterphaseInputError, match=re.escape(field) + r".*did you mean '" + suggestion):
        Stack.from_toml_string(text)


def test_a_typo_in_eels_fails_simulate_ndp_with_exit_2(tmp_path, capsys):
    from interphase_sim.cli.main import main

    text = samples.path("li_sei_lipon").read_text().replace("collection_mrad", "colection_mrad", 1)
    assert "colection_mrad" in text
    path = tmp_path / "typo.toml"
    path.write_text(text)
    assert main(["simulate", "ndp", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "typo.toml" in err and "eels.colection_mrad" in err, err
    assert not (tmp_path / "out").exists()
