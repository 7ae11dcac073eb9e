"""The instrument registry and the protocol every registered model follows.

One parametrized test per protocol rule, over every instrument of
``interphase_sim.instruments`` and every shipped sample it can image, so a new
instrument is checked by adding it to the registry.
"""

from __future__ import annotations

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, Parameter, instruments, samples
from interphase_sim.core.measurement import Measurement

# A small, cheap model per instrument. HRTEM images a 2 nm LiPON lamella (amorphous, so the
# grain-size rule does not apply) at coarse sampling.
CHEAP = {
    "ndp": {},
    "eels": {},
    "hrtem": {"lateral_nm": 2.0, "thickness_nm": 2.0, "depth_range_nm": (1400.0, 1403.0), "seed": 1,
              "sampling": 0.1},
}
CASES = [("ndp", "li_sei_lipon"), ("ndp", "lnmo_lipon"), ("eels", "li_sei_lipon"), ("eels", "lnmo_lipon"),
         ("hrtem", "li_sei_lipon")]


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(kind, sample):
        if (kind, sample) not in cache:
            cache[kind, sample] = instruments[kind].from_stack(samples.load(sample), **CHEAP[kind])
        return cache[kind, sample]

    return get


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
