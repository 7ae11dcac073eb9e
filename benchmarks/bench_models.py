"""The forward models the benchmarks time, each as a call that moves one thickness (as a
fit or a sweep does, so nothing but the stopping and cross-section tables is reused)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from interphase_sim import Layer, Stack


def ten_layer_ndp_stack() -> Stack:
    """10 layers with rough interfaces: an interphase over a cathode on a substrate."""
    spec = [("LiPON", 300), ("Li3PO4", 20), ("Li3P", 10), ("Li3N", 15), ("Li2O", 20), ("LiF", 10),
            ("LNMO", 200), ("SiO2", 50), ("Pt", 100), ("Si", "inf")]
    return Stack([Layer(f"L{i}-{ph}", {ph: 1.0}, t, roughness_nm=0.0 if t == "inf" else 2.0)
                  for i, (ph, t) in enumerate(spec)])


def ndp_spectrum() -> Callable[[], object]:
    """One 1024-channel alpha + triton spectrum of the 10-layer stack (straggling, 3 cone
    nodes, 5 deg acceptance), the top layer's thickness new on every call."""
    from interphase_sim.ndp import NDPModel

    stack = ten_layer_ndp_stack()
    model = NDPModel(stack, particles=("alpha", "triton"), channels=1024, gain_keV=3.0, straggling=True,
                     angle_nodes=3, acceptance_half_angle_deg=5.0)
    thickness, calls = stack[0].thickness_nm, count()

    def forward():
        thickness.value = 300.0 + next(calls) % 7
        return model.simulate()

    return forward


def eels_linescan() -> Callable[[], object]:
    """Expected counts of a 200 x 2048 line scan over the LNMO | LiPON sample (5 edges,
    plural scattering), the LiPON thickness new on every call."""
    from interphase_sim import samples
    from interphase_sim.eels.model import EELSModel

    model = EELSModel.from_stack(samples.load("lnmo_lipon"), positions=200, channels=2048)
    assert len(model.edges) == 5, model.edges
    positions = model.default_positions()
    thickness, calls = model.stack["LiPON"].thickness_nm, count()

    def linescan():
        thickness.value = 1500.0 + next(calls) % 5
        return model.expected_counts(positions)

    return linescan
