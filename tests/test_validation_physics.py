"""The NDP, EELS and fitting checks of the validation report: each passes in quick mode,
with its rows and figures, and each can fail when its input is wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest



def _run(key, quick_sections):
    """The check ``key``'s section of the session's quick report, its rows ok and its
    figures written."""
    sections, out = quick_sections
    section = sections[key]
    bad = [(r.name, r.reference, r.value, r.tolerance, r.note) for r in section.rows if not r.ok]
    assert not bad, bad
    for name, caption in section.figures:
        assert (out / name).stat().st_size > 5_000 and caption
    assert section.text
    return section


# -- NDP -------------------------------------------------------------------------------------------
def test_ndp_check_passes_in_quick_mode(quick_sections):
    section = _run("ndp", quick_sections)
    # yield 2, splitting 3, surface resolution 3, independent 2 samples x 2 particles x 2
    assert len(section.rows) == 16
    assert [n for n, _ in section.figures] == ["ndp_independent.png"]
    assert all(r.verdict == "pass" for r in section.rows)


def test_ndp_yield_check_fails_with_a_wrong_cross_section(monkeypatch):
    from interphase_sim.validation import ndp, ndp_reference

    monkeypatch.setattr(ndp_reference, "SIGMA_LI6_B", 900.0)  # 4 % low: the reference no longer agrees
    rows = ndp.absolute_yield_rows()
    assert rows and all(r.verdict == "fail" for r in rows)


def test_ndp_independent_check_fails_with_a_shifted_spectrum():
    from interphase_sim.validation.ndp import independent_rows

    e = np.arange(0.0, 3000.0, 3.0)
    ref = {"alpha": np.exp(-0.5 * ((e - 2000.0) / 30.0) ** 2) * 1e4}
    shifted = {"alpha": np.exp(-0.5 * ((e - 2006.0) / 30.0) ** 2) * 1e4}  # 6 keV: a rounded birth energy
    rows = independent_rows("lnmo_lipon", e, ref, shifted)
    assert [r.verdict for r in rows] == ["pass", "fail"]
    assert all(r.ok for r in independent_rows("lnmo_lipon", e, ref, ref))


def test_reference_simulator_handles_mixtures_gradients_and_a_li_substrate():
    """The reference's own invariants: splitting a graded layer is exact for it too, and the
    erf interface conserves the 6Li content."""
    from interphase_sim.validation.ndp_reference import RefLayer, _Sample

    sample = _Sample([RefLayer(100.0, {"LiPON": 1.0}, roughness_nm=3.0),
                      RefLayer(40.0, {"Li2O": 0.5, "Li3N": 0.5}, {"Li2O": 1.0}, 5.0),
                      RefLayer(math.inf, {"Li": 1.0})])
    z = np.linspace(0.0, 300.0, 300001)
    phi = sample.fractions(z)
    assert np.allclose(phi.sum(axis=1), 1.0, atol=1e-12)
    li2o = phi[:, sample.phases.index("Li2O")]
    # sharp content of Li2O: 40 nm x 0.75 on average
    assert np.trapezoid(li2o, z) == pytest.approx(30.0, rel=1e-6)


# -- EELS ------------------------------------------------------------------------------------------
def test_eels_check_passes_in_quick_mode(quick_sections):
    from interphase_sim.validation.eels import QUICK_PEER, QUANT_PHASES

    section = _run("eels", quick_sections)
    n_quant = sum(len(v) for v in QUANT_PHASES.values())
    assert len(section.rows) == QUICK_PEER + 1 + 5 + n_quant
    assert all(r.verdict in ("pass", "skipped") for r in section.rows)


def test_eels_check_fails_with_a_wrong_cross_section(monkeypatch):
    from interphase_sim.eels import xsec
    from interphase_sim.validation import eels

    real = xsec.ionization_cross_section
    monkeypatch.setattr(xsec, "ionization_cross_section", lambda *a, **k: 1.05 * real(*a, **k))
    rows = eels.convergence_rows(quick=True)
    sigma_rows = [r for r in rows if "dsigma" not in r.name]
    assert sigma_rows and all(r.verdict == "fail" for r in sigma_rows)


def test_eels_rows_are_skipped_without_exspy(monkeypatch):
    import builtins

    from interphase_sim.validation import eels

    real_import = builtins.__import__

    def no_exspy(name, *args, **kwargs):
        if name == "exspy" or name.startswith("exspy."):
            raise ImportError("No module named 'exspy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_exspy)
    rows = eels.exspy_rows(quick=True)
    assert rows and all(r.verdict == "skipped" and "exspy" in r.note for r in rows)


# -- fitting ---------------------------------------------------------------------------------------
def test_fitting_check_passes_in_quick_mode(quick_sections):
    from interphase_sim.validation.fitting import N_SETS

    section = _run("fitting", quick_sections)
    # per modality run in quick mode: 68 %, 95 %, pull mean, pull sd
    assert len(section.rows) == 4 * sum(quick > 0 for quick, _ in N_SETS.values())
    assert [n for n, _ in section.figures] == ["fitting_pulls.png"]


def test_coverage_rows_fail_for_errors_twice_too_small():
    from interphase_sim.validation.fitting import Tally, coverage_rows

    rng = np.random.default_rng(3)
    pulls = rng.normal(0.0, 2.0, 200)  # quoted errors half the true scatter
    tally = Tally(inside68=int(np.sum(np.abs(pulls) <= 1)), inside95=int(np.sum(np.abs(pulls) <= 1.96)),
                  total=pulls.size, sets=100, pulls=list(pulls))
    verdicts = {r.name.split(":")[1].split("(")[0].strip(): r.verdict for r in coverage_rows("NDP", tally)}
    assert verdicts["68 % interval coverage"] == "fail"
    assert verdicts["95 % interval coverage"] == "fail"
    assert verdicts["pull standard deviation"] == "fail"
    assert verdicts["pull mean"] == "pass"
    honest = rng.normal(0.0, 1.0, 200)
    ok = Tally(inside68=int(np.sum(np.abs(honest) <= 1)), inside95=int(np.sum(np.abs(honest) <= 1.96)),
               total=honest.size, sets=100, pulls=list(honest))
    assert all(r.ok for r in coverage_rows("NDP", ok))
