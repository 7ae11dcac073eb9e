"""Per-edge cross-section scales: systematic Parameters ``eels.xsec_scale.<edge>``.

The hydrogenic K-shell cross-section is good to ~5-10 %, the L2,3 one worse (no white
lines): each simulated edge carries a scale with prior norm(1, 0.05) (K) or norm(1, 0.15)
(L2,3), bounds (0.5, 1.5), free by default, role "systematic".
"""

import numpy as np
import pytest

from interphase_sim import InterphaseInputError, Layer, Stack, samples
from interphase_sim.eels.model import EELSModel


def test_every_edge_has_a_systematic_scale_with_its_prior():
    model = EELSModel.from_stack(samples.load("li_sei_lipon"))
    params = model.parameters()
    names = {e: f"eels.xsec_scale.{e.replace(' ', '_').replace(',', '')}" for e in model.edges}
    assert sorted(names.values()) == sorted(n for n in params if n.startswith("eels.xsec_scale."))
    assert names["P L2,3"] == "eels.xsec_scale.P_L23" and "eels.xsec_scale.O_K" in params
    for edge, name in names.items():
        p = params[name]
        assert p.role == "systematic" and p.vary and p.value == 1.0 and p.bounds == (0.5, 1.5)
        width = 0.15 if "L" in edge.split()[1] else 0.05
        assert p.prior.mean() == pytest.approx(1.0) and p.prior.std() == pytest.approx(width), edge


def test_a_scale_multiplies_its_edge_and_nothing_else():
    stack = Stack([Layer("Li2O", {"Li2O": 1}, "inf")])
    kw = dict(plural=False, background_counts=0.0)
    both = EELSModel(stack, edges=["Li K", "O K"], **kw)
    base = both.spectrum(50.0).values
    o_only = EELSModel(stack, edges=["O K"], **kw).spectrum(50.0).values
    both.parameters()["eels.xsec_scale.O_K"].value = 1.2
    np.testing.assert_allclose(both.spectrum(50.0).values, base + 0.2 * o_only, rtol=1e-10, atol=1e-10 * base.max())


def test_scales_from_the_eels_table():
    stack = samples.load("li_sei_lipon")
    stack.sections["eels"]["xsec_scale"] = {
        "O K": 1.1, "P_L23": {"value": 1.0, "min": 0.8, "max": 1.2, "vary": True,
                             "prior": {"dist": "norm", "loc": 1.0, "scale": 0.03}}}
    params = EELSModel.from_stack(stack).parameters()
    o, p = params["eels.xsec_scale.O_K"], params["eels.xsec_scale.P_L23"]
    assert o.value == 1.1 and o.prior.mean() == pytest.approx(1.1) and o.role == "systematic"
    assert p.bounds == (0.8, 1.2) and p.prior.std() == pytest.approx(0.03) and p.role == "systematic"
    again = EELSModel.from_stack(stack, **EELSModel.from_stack(stack).settings())
    assert again.parameters()["eels.xsec_scale.O_K"].value == 1.1
    stack.sections["eels"]["xsec_scale"] = {"F K": 1.0}
    with pytest.raises(InterphaseInputError, match="eels.xsec_scale"):
        EELSModel.from_stack(stack)
