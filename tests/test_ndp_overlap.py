"""spectrum_to_depth refuses or separates particles whose energies overlap."""

import warnings

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, Layer, Stack, phases, samples
from interphase_sim.ndp import NDPModel, spectrum_to_depth

LIPON_6LI = phases.get("LiPON").number_density()["Li"] * 0.0759  # atoms/nm3


@pytest.fixture(scope="module")
def li_sei_lipon():
    """The README's sample: LiPON 1.5 um | SEI | semi-infinite Li, and its noise-free spectrum."""
    m = NDPModel.from_stack(samples.load("li_sei_lipon"))
    return m, m.simulate()


def test_alphas_over_semi_infinite_li_are_refused_with_the_clean_range(li_sei_lipon):
    m, spec = li_sei_lipon
    # tritons born deep in the Li substrate arrive at every energy below ~2650 keV: the
    # whole alpha band sits on them (6Li in LiPON would come out 23 x too high)
    with pytest.raises(InterphaseInputError, match=r"triton") as err:
        spectrum_to_depth(spec, "LiPON", "alpha", model=m)
    msg = str(err.value)
    assert "no alpha energy is free" in msg and "triton alone above" in msg and "keV" in msg


def test_tritons_are_converted_only_where_no_alpha_lands(li_sei_lipon):
    from interphase_sim.ndp.overlap import clean_ranges

    m, spec = li_sei_lipon
    with pytest.warns(UserWarning, match=r"triton.*keV.*free of alpha"):
        res = spectrum_to_depth(spec, "LiPON", "triton", model=m)
    lo, hi = res.metadata["clean_energy_keV"][0]
    alpha_top = m.particles[0].max_energy_keV
    assert alpha_top < lo < alpha_top + 60.0 and hi > 2700.0
    own, clean, _ = clean_ranges(m, "triton")
    assert clean == res.metadata["clean_energy_keV"]
    z = res.axis("depth")
    inner = (z > 200) & (z < 1300)
    assert np.median(res.values[inner]) == pytest.approx(LIPON_6LI, rel=0.02)
    # every converted channel lies above the alpha band (plus the resolution)
    assert z.max() < 2.0e4


def test_ignore_converts_everything_and_reproduces_the_old_error(li_sei_lipon):
    m, spec = li_sei_lipon
    res = spectrum_to_depth(spec, "LiPON", "alpha", model=m, overlap="ignore")
    z = res.axis("depth")
    ratio = np.median(res.values[(z > 200) & (z < 1300)]) / LIPON_6LI
    assert ratio > 10.0  # what the contamination does


def test_raise_refuses_a_partial_overlap(li_sei_lipon):
    m, spec = li_sei_lipon
    with pytest.raises(InterphaseInputError, match=r"free of alpha"):
        spectrum_to_depth(spec, "LiPON", "triton", model=m, overlap="raise")


def test_separated_particles_convert_without_a_warning():
    stack = samples.load("lnmo_lipon")  # Li only in the top 2 um: tritons stay above the alphas
    m = NDPModel.from_stack(stack)
    spec = m.simulate()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = spectrum_to_depth(spec, "LiPON", "alpha", model=m)
    z = res.axis("depth")
    assert np.median(res.values[(z > 200) & (z < 1300)]) == pytest.approx(LIPON_6LI, rel=0.03)


def test_the_partner_particle_counts_even_if_the_model_does_not():
    # a model counting only alphas still warns: a measured spectrum always holds both
    from interphase_sim.ndp.overlap import clean_ranges

    stack = Stack([Layer("LiPON", {"LiPON": 1}, 500), Layer("Li", {"Li": 1}, "inf")])
    m = NDPModel(stack, particles=["alpha"])
    own, clean, others = clean_ranges(m, "alpha")
    assert "triton" in others and clean == []
