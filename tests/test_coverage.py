"""Coverage: over many seeded data sets made with other physics than the fit model
assumes, the 68 % intervals of the thicknesses contain the truth in 60-76 % of the
cases and the 95 % intervals in 90-98 %: NDP alone, EELS alone, NDP + EELS.

Each data set is made with its own "true" physics, drawn from what the fit model only
knows as priors: a 6Li abundance of N(0.0759, 0.002) and a LiPON density of N(2.4, 0.1)
g/cm3 (free systematics of the sample), stopping powers scaled per material by N(1, 3 %)
(the stated accuracy of ICRU-49 by Bragg's rule), an EELS scan whose origin is off by N(0, 8 nm) (the prior
the fit is given) and whose step is off by N(0, 1 %) (its calibration),
a probe 25 % wider than the fit model's, and per-edge cross-sections scaled by their
priors. The fit model starts from the nominal physics with the sample's thicknesses 15 %
off. Intervals are value +/- k x total error (k = 1, 1.96). Coverage bands: with ~240
intervals per modality the binomial standard deviation of a 68 % share is 0.03 and of
a 95 % share 0.014, so the bands are about 2.5 standard deviations wide (EELS alone and
the joint fit have 120: 0.043 and 0.02). The scan never sees the surface, so EELS alone
measures LiPON only as far as the scan origin's prior allows: that prior is what the
data's origins are drawn from.
"""

from __future__ import annotations


import numpy as np
import pytest
import scipy.stats

from interphase_sim import Layer, Parameter, Stack
from interphase_sim.fit import Objective
from interphase_sim.validation.fitting import Tally

pytestmark = pytest.mark.slow

N_SETS = 120
ORIGIN_SD_NM = 8.0
BAND68, BAND95 = (0.60, 0.76), (0.90, 0.98)


def _stack(thickness=(120.0, 60.0)):
    """LiPON | Li2O-rich SEI | Li: the two thicknesses free within wide bounds."""
    return Stack([
        Layer("LiPON", {"LiPON": 1.0}, Parameter(thickness[0], bounds=(40.0, 300.0), vary=True), roughness_nm=2.0),
        Layer("SEI", {"Li2O": 0.7, "Li3N": 0.3}, Parameter(thickness[1], bounds=(20.0, 150.0), vary=True),
              roughness_nm=2.0),
        Layer("Li", {"Li": 1.0}, "inf"),
    ])


TRUTH = {"LiPON.thickness_nm": 120.0, "SEI.thickness_nm": 60.0}


def _ndp(stack, rng=None):
    from interphase_sim.ndp.model import NDPModel

    model = NDPModel.from_stack(stack, particles=["alpha"], fwhm_keV=15.0, fluence=4e12, channels=512,
                                gain_keV=4.2, low_energy_cutoff_keV=1000.0)
    if rng is not None:  # the data's physics: stopping scaled within its prior
        for p in model.stopping_scale.values():
            p.value = float(np.clip(rng.normal(p.prior.mean(), p.prior.std()), *p.bounds))
    return model


def _eels(stack, rng=None, scan=(100.0, 200.0, 40)):
    """An N K + O K line scan over ``scan`` = (start nm, stop nm, positions); with ``rng``
    the data's physics, drawn from what the fit model knows as priors."""
    from interphase_sim.eels.model import EELSModel

    model = EELSModel.from_stack(stack, edges=["N K", "O K"], channels=256, offset_eV=380.0, dispersion_eV=1.0,
                                 scan_start_nm=scan[0], scan_stop_nm=scan[1], positions=scan[2], dose_e_per_A2=2e4,
                                 plural=False)
    model.probe_fwhm_nm.vary = True  # the probe's width is not known: fitted
    # where the scan starts is known to +-8 nm (say, from the image the scan was placed on)
    model.scan_origin_nm.prior = scipy.stats.norm(0.0, ORIGIN_SD_NM)
    if rng is not None:  # the data's physics: origin off, a wider probe, cross-sections within priors
        model.scan_origin_nm.value = float(np.clip(rng.normal(0.0, ORIGIN_SD_NM), *model.scan_origin_nm.bounds))
        model.probe_fwhm_nm.value = 1.25 * model.probe_fwhm_nm.value
        step = model.scan_step_scale
        step.value = float(np.clip(rng.normal(step.prior.mean(), step.prior.std()), *step.bounds))
        for p in model.xsec_scale.values():
            p.value = float(np.clip(rng.normal(p.prior.mean(), p.prior.std()), *p.bounds))
    return model


def _sample_systematics(stack, rng):
    """The data's sample: its 6Li abundance and LiPON density drawn from their priors."""
    for p in (stack.li6_abundance, stack.phases["LiPON"].density_parameter):
        p.value = float(np.clip(rng.normal(p.prior.mean(), p.prior.std()), *p.bounds))
    return stack


def _coverage(kinds: tuple[str, ...], n_sets: int = N_SETS) -> tuple[float, float, list[float], list[str]]:
    tally = Tally()
    makers = {"ndp": _ndp, "eels": _eels}
    for seed in range(n_sets):
        rng = np.random.default_rng([20261203, seed])
        truth_stack = _sample_systematics(_stack(), rng)
        data = {k: makers[k](truth_stack, rng).simulate(noise=True, seed=rng) for k in kinds}
        stack = _stack(thickness=(120.0 * 1.15, 60.0 * 0.85))
        tally.fit([Objective(makers[k](stack), data[k]) for k in kinds], TRUTH)
    return tally.result()


@pytest.mark.parametrize("kinds", [("ndp",), ("eels",), ("ndp", "eels")], ids=["ndp", "eels", "ndp+eels"])
def test_intervals_cover_the_truth_under_other_physics(kinds):
    c68, c95, pulls, unconstrained = _coverage(kinds, N_SETS if len(kinds) == 1 else N_SETS // 2)
    print(f"{'+'.join(kinds)}: 68 % coverage {c68:.3f}, 95 % coverage {c95:.3f}, "
          f"pull mean {np.mean(pulls):+.2f}, sd {np.std(pulls):.2f}, {len(pulls)} intervals")
    assert not unconstrained  # every thickness is measured (LiPON by EELS only through the origin's prior)
    assert BAND68[0] <= c68 <= BAND68[1], c68
    assert BAND95[0] <= c95 <= BAND95[1], c95
