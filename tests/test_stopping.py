"""Ion stopping: ICRU 49 against NIST, continuity, ranges, exit energies, SRIM tables, sources.

The two SRIM files in tests/data are hand-made in the exact layout SRIM-2013 writes (the
SRModule one with "Density =" and MeV/(mg/cm2), the SR.exe one with "Target Density =" and
keV / micron); their numbers are ICRU 49 values for He in Si, rounded to SRIM's 4 digits.
"""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst
from scipy.integrate import quad, solve_ivp

from interphase_sim import InterphaseInputError, phases
from interphase_sim.core.constants import ELECTRON_REST_ENERGY_EV
from interphase_sim.ndp import stopping as st

DATA = Path(__file__).parent / "data"
SRIM_MG = DATA / "srim_helium_in_silicon_MeV_mgcm2.txt"
SRIM_UM = DATA / "srim_helium_in_silicon_keV_um.txt"
SI_RHO = 2.3212  # density in the SRIM files


# -- reference values (docs/references.md: NIST ASTAR / PSTAR, electronic only) ----------------------
@pytest.mark.parametrize(
    "material, ref",
    [
        ("Si", 1010.0),
        ("Au", 343.0),
        pytest.param(
            "LiF",
            1196.0,
            marks=pytest.mark.xfail(
                strict=True,
                reason="Bragg's rule on ICRU 49 Li + F (F fitted to the gas) gives 1141, 4.6 % below "
                "ASTAR's LiF-specific value; see test_lif_alpha_bragg_rule_deviation_is_bounded",
            ),
        ),
    ],
)
def test_alpha_2055_kev_matches_astar_within_3_percent(material, ref):
    s = st.mass_stopping_power("alpha", 2055.0, material, nuclear=False)
    assert s == pytest.approx(ref, rel=0.03)


def test_lif_alpha_bragg_rule_deviation_is_bounded():
    s = st.mass_stopping_power("alpha", 2055.0, "LiF", nuclear=False)
    assert 0.94 * 1196.0 < s < 1196.0


@pytest.mark.parametrize("material, ref", [("Si", 185.7), ("Au", 65.5), ("LiF", 214.0)])
def test_proton_911_kev_matches_pstar_within_3_percent(material, ref):
    assert st.mass_stopping_power("proton", 910.9, material, nuclear=False) == pytest.approx(ref, rel=0.03)


@pytest.mark.parametrize("material", ["Si", "Au", "LiF", "LiPON"])
def test_triton_2727_kev_is_proton_at_the_same_velocity(material):
    t = st.mass_stopping_power("triton", 2727.0, material, nuclear=False)
    p = st.mass_stopping_power("proton", 910.9, material, nuclear=False)
    assert t == pytest.approx(p, rel=1e-4)  # 2727 * m_p / m_t = 910.896 keV
    d = st.mass_stopping_power("deuteron", 2000.0, material, nuclear=False)
    assert d == pytest.approx(st.mass_stopping_power("H-1", 2000.0 * 1.007276467 / 2.013553213, material, nuclear=False))


def test_nuclear_stopping_only_changes_with_ion_mass():
    # Same velocity, different mass: electronic equal, nuclear differs (it is not velocity-scaled).
    e_t, e_p = 300.0, 300.0 * 1.007276467 / 3.015500716
    sn_t = st.stopping_cross_section("triton", e_t, "Au") - st.stopping_cross_section("triton", e_t, "Au", nuclear=False)
    sn_p = st.stopping_cross_section("proton", e_p, "Au") - st.stopping_cross_section("proton", e_p, "Au", nuclear=False)
    assert sn_t > 0 and sn_p > 0 and not math.isclose(sn_t, sn_p, rel_tol=0.05)


@pytest.mark.parametrize("e", [50.0, 100.0])  # reduced energy 16.9 (screened) and 33.8 (unscreened)
def test_zbl_nuclear_value_by_hand(e):
    # alpha in Si, the ZBL universal formula written out independently.
    z1, m1, z2, m2 = 2, 4.001506179, 14, 28.0855
    zz = z1**0.23 + z2**0.23
    eps = 32.53 * m2 * e / (z1 * z2 * (m1 + m2) * zz)
    if eps <= 30:
        sn_red = math.log(1 + 1.1383 * eps) / (2 * (eps + 0.01321 * eps**0.21226 + 0.19593 * eps**0.5))
    else:
        sn_red = math.log(eps) / (2 * eps)
    ref = 8.462 * z1 * z2 * m1 * sn_red / ((m1 + m2) * zz)
    got = st.stopping_cross_section("alpha", e, "Si") - st.stopping_cross_section("alpha", e, "Si", nuclear=False)
    assert got == pytest.approx(ref, rel=1e-4)


def test_bragg_rule_and_material_forms_agree():
    e = np.array([300.0, 2055.0])
    li = st.stopping_cross_section("alpha", e, "Li")
    f = st.stopping_cross_section("alpha", e, {"F": 1})
    np.testing.assert_allclose(st.stopping_cross_section("alpha", e, "LiF"), 0.5 * (li + f), rtol=1e-12)
    from pymatgen.core import Composition

    ref = st.mass_stopping_power("triton", e, "Li2O")
    for form in ("Li2O", {"Li": 2, "O": 1}, Composition("Li4O2"), phases.get("Li2O")):
        np.testing.assert_allclose(st.mass_stopping_power("triton", e, form), ref, rtol=1e-10)
    # Linear = mass x density; a formula needs the density, a phase has its own.
    rho = phases.get("Li2O").density
    np.testing.assert_allclose(st.linear_stopping_power("triton", e, "Li2O"), ref * rho * 1e-4, rtol=1e-10)
    np.testing.assert_allclose(
        st.linear_stopping_power("triton", e, {"Li": 2, "O": 1}, density_g_cm3=rho), ref * rho * 1e-4, rtol=1e-10
    )


def test_scalar_in_float_out_and_shapes_kept():
    assert isinstance(st.linear_stopping_power("alpha", 1000.0, "Li"), float)
    assert st.csda_range("alpha", np.ones((3, 2)) * 1000.0, "Li").shape == (3, 2)
    assert isinstance(st.exit_energy("alpha", 2055.0, [("Li", 100.0)]), float)


# -- continuity and positivity -------------------------------------------------------------------
@pytest.mark.parametrize("ion", ["alpha", "proton", "triton"])
@pytest.mark.parametrize("material", ["Li", "O"])
def test_stopping_continuous_and_positive_0p1_to_3_mev(ion, material):
    e = np.geomspace(100.0, 3000.0, 4001)  # neighbours 0.085 % apart
    # Put the switch points of the parameterizations (and both sides of them) on the grid.
    switches = np.array([1000.0 * 1.007276467 * (st.IONS[ion][1] / 1.007276467), 8000.0])
    e = np.sort(np.concatenate([e, switches * (1 - 1e-9), switches * (1 + 1e-9)]))
    e = e[e <= 3000.0]
    for nuclear in (True, False):
        s = st.stopping_cross_section(ion, e, material, nuclear=nuclear)
        assert np.all(s > 0)
        assert np.max(np.abs(np.diff(np.log(s)))) < 0.01


@pytest.mark.parametrize(
    "ion, e_switch", [("proton", 10.0 * 1.007276467), ("proton", 1000.0 * 1.007276467), ("alpha", 1.0), ("alpha", 8000.0)]
)
def test_every_element_is_continuous_at_the_switch_points(ion, e_switch):
    for z in range(1, 93):
        from pymatgen.core import Element

        comp = {Element.from_Z(z).symbol: 1}
        lo, hi = st.stopping_cross_section(ion, np.array([e_switch * (1 - 1e-10), e_switch * (1 + 1e-10)]), comp)
        assert hi == pytest.approx(lo, rel=1e-6), z


@pytest.mark.parametrize("material", ["Li", "O", "Si", "LiPON", "Au"])
def test_nuclear_stopping_small_but_positive_at_1_mev_alpha(material):
    total = st.stopping_cross_section("alpha", 1000.0, material)
    elec = st.stopping_cross_section("alpha", 1000.0, material, nuclear=False)
    assert 0 < total - elec < 0.01 * elec


def test_velocity_proportional_below_the_fits():
    # Below 10 keV/u (protons) and 1 keV (He) the electronic stopping goes as sqrt(E).
    for ion, e in (("proton", 2.0), ("alpha", 0.5)):
        s1 = st.stopping_cross_section(ion, e, "Si", nuclear=False)
        s2 = st.stopping_cross_section(ion, e / 4, "Si", nuclear=False)
        assert s1 / s2 == pytest.approx(2.0, rel=1e-9)


def test_bethe_continuation_above_the_fits():
    # Far above the limits the stopping approaches the plain Bethe formula.
    e = 90000.0
    beta2 = 1 - 1 / (1 + e / (1.007276467 * 931494.10242)) ** 2
    w = 2 * ELECTRON_REST_ENERGY_EV * beta2 / (1 - beta2)
    k_bethe = 4 * math.pi * 2.8179403262e-13**2 * ELECTRON_REST_ENERGY_EV * 1e15
    bethe = k_bethe * 14 / beta2 * (math.log(w / 173.0) - beta2)
    assert st.stopping_cross_section("proton", e, "Si", nuclear=False) == pytest.approx(bethe, rel=0.01)


# -- ranges -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ion, energy, material, ref_um",
    [("alpha", 2055.0, "LiPON", 6.0), ("alpha", 2055.0, "Li", 23.0), ("triton", 2727.0, "LiPON", 33.0), ("triton", 2727.0, "Li", 133.0)],
)
def test_ndp_ranges_match_science_md(ion, energy, material, ref_um):
    assert st.csda_range(ion, energy, material) / 1000.0 == pytest.approx(ref_um, rel=0.10)


@pytest.mark.parametrize("ion, material", [("alpha", "LiPON"), ("triton", "Li"), ("alpha", "Au"), ("deuteron", "Li3PO4")])
def test_range_is_the_integral_of_inverse_stopping(ion, material):
    def inv(e):
        return 1.0 / st.linear_stopping_power(ion, e, material)

    kinks = [0.01, 1.0, 10.0, 100.0, 1007.276]  # where branches join (and the grid's start)
    for e1, e2 in ((50.0, 500.0), (500.0, 2500.0)):
        ref, _ = quad(inv, e1, e2, epsrel=1e-9, limit=200, points=[k for k in kinks if e1 < k < e2] or None)
        got = st.csda_range(ion, e2, material) - st.csda_range(ion, e1, material)
        assert got == pytest.approx(ref, rel=2e-3)
    # From (almost) zero: the low-energy part follows the sqrt(E) law.
    ref, _ = quad(inv, 1e-6, 2000.0, epsrel=1e-9, limit=400, points=kinks)
    assert st.csda_range(ion, 2000.0, material) == pytest.approx(ref, rel=2e-3)


def test_range_scales_inversely_with_density():
    r1 = st.csda_range("alpha", 1500.0, "Li2.9PO3.3N0.46", density_g_cm3=2.2)
    r2 = st.csda_range("alpha", 1500.0, "Li2.9PO3.3N0.46", density_g_cm3=2.4)
    assert r1 / r2 == pytest.approx(2.4 / 2.2, rel=1e-12)


# -- exit energies -----------------------------------------------------------------------------------
def _integrate_path(ion, e0, layers, angle_deg=0.0):
    e = e0
    for material, t in layers:
        s_len = t / math.cos(math.radians(angle_deg))

        def rhs(_s, y, material=material):
            return [-st.linear_stopping_power(ion, max(y[0], 1e-6), material)]

        stop = lambda _s, y: y[0] - 1e-3  # noqa: E731
        stop.terminal = True
        sol = solve_ivp(rhs, (0.0, s_len), [e], rtol=1e-10, atol=1e-8, events=stop)
        if sol.status == 1:
            return 0.0
        e = sol.y[0, -1]
    return e


@pytest.mark.parametrize("ion, e0", [("alpha", 2055.0), ("triton", 2727.0)])
@pytest.mark.parametrize(
    "layers",
    [[("LiPON", 1000.0), ("Au", 200.0)], [("LiPON", 5000.0), ("Au", 200.0)], [("Li", 5000.0), ("Li3N", 300.0), ("Si", 50.0)]],
)
def test_exit_energy_matches_direct_integration(ion, e0, layers):
    ref = _integrate_path(ion, e0, layers)
    got = st.exit_energy(ion, e0, layers)
    assert ref > 0
    assert got == pytest.approx(ref, rel=0.005)


def test_exit_energy_at_an_angle_matches_direct_integration():
    layers = [("LiPON", 2000.0), ("Au", 100.0)]
    assert st.exit_energy("alpha", 2055.0, layers, angle_deg=35.0) == pytest.approx(
        _integrate_path("alpha", 2055.0, layers, 35.0), rel=0.005
    )


@given(
    e0=hst.floats(200.0, 2800.0),
    t1=hst.floats(0.0, 8000.0),
    dt=hst.floats(0.0, 8000.0),
    angle=hst.floats(0.0, 80.0),
)
def test_exit_energy_decreases_with_path_length(e0, t1, dt, angle):
    a = st.exit_energy("alpha", e0, [("LiPON", t1), ("Au", 50.0)], angle)
    b = st.exit_energy("alpha", e0, [("LiPON", t1 + dt), ("Au", 50.0)], angle)
    assert 0.0 <= b <= a < e0
    if dt > 1.0 and a > 0:
        assert b < a


def test_sixty_degrees_is_double_thickness():
    path = [("LiPON", 800.0), ("Au", 60.0)]
    double = [("LiPON", 1600.0), ("Au", 120.0)]
    e = np.array([800.0, 1500.0, 2055.0])
    np.testing.assert_allclose(st.exit_energy("alpha", e, path, 60.0), st.exit_energy("alpha", e, double), rtol=1e-9)
    # Angles broadcast against energies.
    out = st.exit_energy("triton", 2727.0, path, np.array([0.0, 30.0, 60.0]))
    assert out.shape == (3,) and np.all(np.diff(out) < 0)


def test_exit_energy_is_zero_beyond_the_range():
    r = st.csda_range("alpha", 2055.0, "LiPON")
    assert st.exit_energy("alpha", 2055.0, [("LiPON", 1.01 * r)]) == 0.0
    assert st.exit_energy("alpha", 2055.0, [("LiPON", 0.99 * r)]) > 0.0
    # Stopping in the first layer means nothing comes out of the second.
    assert st.exit_energy("alpha", 2055.0, [("LiPON", 1.5 * r), ("Au", 0.0)]) == 0.0
    assert st.exit_energy("alpha", 2055.0, []) == 2055.0


def test_exit_energy_formula_with_density_in_path():
    path = [("Li2.9PO3.3N0.46", 1000.0, 2.4)]
    assert st.exit_energy("alpha", 2055.0, path) == pytest.approx(st.exit_energy("alpha", 2055.0, [("LiPON", 1000.0)]))


# -- SRIM tables ----------------------------------------------------------------------------------------
def _rows(path):
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 10 and parts[1] in ("keV", "MeV"):
            e = float(parts[0]) * (1000.0 if parts[1] == "MeV" else 1.0)
            rows.append((e, float(parts[2]), float(parts[3])))
    return np.array(rows)


def test_srim_import_values():
    table = st.StoppingTable.from_srim(SRIM_MG)
    assert table.ion == "alpha"
    assert table.density_g_cm3 == pytest.approx(SI_RHO)
    assert table.name == "Helium in Silicon"
    rows = _rows(SRIM_MG)
    assert table.energy_keV.size == rows.shape[0] == 70
    # MeV/(mg/cm2) x rho x 0.1 = keV/nm, exactly at the table energies.
    np.testing.assert_allclose(table.linear(rows[:, 0], nuclear=False), rows[:, 1] * SI_RHO * 0.1, rtol=1e-12)
    np.testing.assert_allclose(table.linear(rows[:, 0]), (rows[:, 1] + rows[:, 2]) * SI_RHO * 0.1, rtol=1e-12)
    assert table.mass(2000.0, nuclear=False) == pytest.approx(rows[rows[:, 0] == 2000.0][0, 1] * 1000.0)
    # Ranges: "2620 A" and "16.20 um" style cells, in nm.
    assert table.projected_range_nm[0] == pytest.approx(262.0)
    assert table.projected_range_nm[-1] == pytest.approx(17690.0)


def test_srim_log_log_interpolation_and_agreement_with_icru49():
    table = st.StoppingTable.from_srim(SRIM_MG)
    e = np.geomspace(10.0, 4000.0, 300)
    icru = st.linear_stopping_power("alpha", e, "Si", density_g_cm3=SI_RHO)
    np.testing.assert_allclose(table.linear(e), icru, rtol=0.01)
    # Between two rows the interpolation is a straight line in log-log.
    e1, e2 = 1000.0, 1100.0
    s1, s2 = table.linear(e1, nuclear=False), table.linear(e2, nuclear=False)
    mid = math.sqrt(e1 * e2)
    assert table.linear(mid, nuclear=False) == pytest.approx(math.sqrt(s1 * s2), rel=1e-12)


def test_srim_units_converted_consistently():
    mg = st.StoppingTable.from_srim(SRIM_MG)
    um = st.StoppingTable.from_srim(SRIM_UM)
    assert um.ion == mg.ion == "alpha"
    assert um.density_g_cm3 == pytest.approx(mg.density_g_cm3)
    np.testing.assert_allclose(um.energy_keV, mg.energy_keV)
    e = np.geomspace(10.0, 4000.0, 97)
    # Both files carry 4 significant digits: agreement to the rounding.
    np.testing.assert_allclose(um.linear(e), mg.linear(e), rtol=1e-3)
    np.testing.assert_allclose(um.nuclear_keV_nm, mg.nuclear_keV_nm, rtol=1e-3)


def _variant(tmp_path, name, old, new, source=SRIM_MG):
    text = source.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    "old, new, field_text",
    [
        (" Stopping Units =  MeV/(mg/cm2) \n", " Stopping Units =  MeV/(mg/cm2) \n", None),  # control: reads
        ("Stopping Units =  MeV/(mg/cm2)", "Stopping Units =  furlongs/fortnight", "unknown stopping units"),
        ("Ion = Helium [2] , Mass = 4.003 amu", "Projectile = Helium", "Ion = "),
        ("Ion = Helium [2] , Mass = 4.003 amu", "Ion = Carbon [6] , Mass = 12.000 amu", "not one of"),
        (" Density =  2.3212E+00 g/cm3", " Dens. =  2.3212E+00", "Density"),
        ("Stopping Units =  MeV/(mg/cm2)", "Stoping Unit: MeV/(mg/cm2)", "Stopping Units"),
        ("  2.3212E+02                keV/micron", "  3.0000E+02                keV/micron", "disagrees"),
    ],
)
def test_srim_bad_files_raise(tmp_path, old, new, field_text):
    path = _variant(tmp_path, "bad.txt", old, new)
    if field_text is None:
        assert st.StoppingTable.from_srim(path).ion == "alpha"
        return
    with pytest.raises(InterphaseInputError, match="srim") as info:
        st.StoppingTable.from_srim(path)
    assert field_text in str(info.value)


def test_srim_file_without_rows_or_missing_file(tmp_path):
    text = SRIM_MG.read_text()
    head = text[: text.index("  10.00 keV")]
    (tmp_path / "empty.txt").write_text(head)
    with pytest.raises(InterphaseInputError, match="rows"):
        st.StoppingTable.from_srim(tmp_path / "empty.txt")
    with pytest.raises(InterphaseInputError, match="no such file"):
        st.StoppingTable.from_srim(tmp_path / "nope.txt")


def test_srim_lss_units_need_the_conversion_table(tmp_path):
    text = SRIM_MG.read_text().replace("Stopping Units =  MeV/(mg/cm2)", "Stopping Units =  L.S.S. reduced units")
    with_table = tmp_path / "lss.txt"
    with_table.write_text(text.replace("  4.7450E+00                L.S.S. reduced units", "  1.0000E+00                L.S.S. reduced units"))
    assert st.StoppingTable.from_srim(with_table).ion == "alpha"
    without = tmp_path / "lss_no_table.txt"
    without.write_text(text[: text.index(" Multiply Stopping by")])
    with pytest.raises(InterphaseInputError, match="Multiply Stopping by"):
        st.StoppingTable.from_srim(without)


def test_srim_density_override_keeps_mass_stopping():
    base = st.StoppingTable.from_srim(SRIM_MG)
    dense = st.StoppingTable.from_srim(SRIM_MG, density_g_cm3=2.0 * SI_RHO)
    assert dense.density_g_cm3 == pytest.approx(2.0 * SI_RHO)
    assert dense.linear(1000.0) == pytest.approx(2.0 * base.linear(1000.0))
    assert dense.mass(1000.0) == pytest.approx(base.mass(1000.0))


def test_table_outside_range_raises():
    table = st.StoppingTable.from_srim(SRIM_MG)
    with pytest.raises(InterphaseInputError, match="outside"):
        table.linear(5000.0)
    with pytest.raises(InterphaseInputError, match="outside"):
        table.linear(np.array([100.0, 5.0]))


# -- stopping sources --------------------------------------------------------------------------------------
def test_icru49_source_is_linear_stopping_power():
    li = phases.get("LiPON")
    e = np.geomspace(50.0, 2055.0, 500)
    np.testing.assert_array_equal(st.ICRU49().linear_stopping("alpha", e, li), st.linear_stopping_power("alpha", e, li))
    li.density_parameter.value = 2.2  # the source follows the phase's current density
    assert st.ICRU49().linear_stopping("alpha", 1000.0, li) == pytest.approx(
        st.mass_stopping_power("alpha", 1000.0, "LiPON") * 2.2e-4
    )


def test_table_source_scales_density_isotopes_and_falls_back():
    table = st.StoppingTable.from_srim(SRIM_MG)
    src = st.TableSource({"Si": table})
    si = phases.get("Si")
    e = np.array([500.0, 2055.0])
    np.testing.assert_allclose(src.linear_stopping("alpha", e, si), table.linear(e) * si.density / SI_RHO, rtol=1e-12)
    np.testing.assert_allclose(src.linear_stopping("He-4", e, "Si"), table.linear(e) * si.density / SI_RHO)
    # No triton table for Si, no table for Au: the ICRU 49 fallback answers.
    assert src.linear_stopping("triton", 2727.0, si) == pytest.approx(st.linear_stopping_power("triton", 2727.0, si))
    assert src.linear_stopping("alpha", 1000.0, "Au") == pytest.approx(st.linear_stopping_power("alpha", 1000.0, "Au"))
    with pytest.raises(InterphaseInputError, match="no stopping table"):
        st.TableSource({"Si": table}, fallback=None).linear_stopping("alpha", 1000.0, "Au")
    # A proton table serves tritons at the same velocity (electronic), ZBL for the nuclear part.
    e_p = np.geomspace(10.0, 3000.0, 80)
    p_tab = st.StoppingTable(e_p, st.linear_stopping_power("proton", e_p, si, nuclear=False), 0 * e_p, si.density, "H-1")
    got = st.TableSource({"Si": [p_tab]}).linear_stopping("triton", 2727.0, si)
    assert got == pytest.approx(st.linear_stopping_power("triton", 2727.0, si), rel=1e-3)


def test_stopping_table_validation():
    with pytest.raises(InterphaseInputError, match="increasing"):
        st.StoppingTable([2.0, 1.0], [1.0, 1.0], [0.0, 0.0], 1.0, "alpha")
    with pytest.raises(InterphaseInputError, match="ion"):
        st.StoppingTable([1.0, 2.0], [1.0, 1.0], [0.0, 0.0], 1.0, "carbon")
    with pytest.raises(InterphaseInputError, match="tables"):
        st.TableSource({"Si": "not a table"})


def test_pycatima_source_agrees_with_icru49():
    pytest.importorskip("pycatima")
    src = st.PyCatima()
    for ion, e, material in (("alpha", 2055.0, "Si"), ("alpha", 2055.0, "Au"), ("triton", 2727.0, "Li")):
        assert src.linear_stopping(ion, e, material) == pytest.approx(st.linear_stopping_power(ion, e, material), rel=0.04)
    # Compounds: the same as CATIMA given the stoichiometry directly.
    import pycatima

    mat = pycatima.Material([[0, 3, 1], [0, 9, 1]])
    mat.density(2.5)
    proj = pycatima.Projectile(4.001506179, 2)
    proj.T(2.055 / 4.001506179)
    ref = pycatima.dedx(proj, mat) * 2.5e-4
    lif = phases.Phase.amorphous("lif", "LiF", 2.5)
    assert src.linear_stopping("alpha", 2055.0, lif) == pytest.approx(ref, rel=1e-3)
    e = np.array([20.0, 200.0])
    nuc = st.linear_stopping_power("alpha", e, "Au") - st.linear_stopping_power("alpha", e, "Au", nuclear=False)
    diff = src.linear_stopping("alpha", e, "Au") - st.PyCatima(nuclear=False).linear_stopping("alpha", e, "Au")
    np.testing.assert_allclose(diff, nuc, rtol=1e-9)


# -- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ion", ["carbon", "He-3", "", None, 2])
def test_unknown_ion_lists_accepted_names(ion):
    with pytest.raises(InterphaseInputError, match="ion") as info:
        st.mass_stopping_power(ion, 1000.0, "Si")
    assert "alpha, He-4, triton, H-3" in str(info.value)


@pytest.mark.parametrize("material", ["Qq2O", "NotAPhase", "Pu", {"Xx": 1}, 3.0])
def test_unknown_material_raises(material):
    with pytest.raises(InterphaseInputError):
        st.mass_stopping_power("alpha", 1000.0, material)


@pytest.mark.parametrize("energy", [0.0, -5.0, float("nan"), float("inf"), [100.0, -1.0], "abc", 2e5])
def test_bad_energies_name_energy_keV(energy):
    for call in (
        lambda: st.mass_stopping_power("alpha", energy, "Si"),
        lambda: st.csda_range("alpha", energy, "Si"),
        lambda: st.exit_energy("alpha", energy, [("Si", 10.0)]),
    ):
        with pytest.raises(InterphaseInputError, match="energy_keV"):
            call()


def test_formula_without_density_needs_one():
    assert st.mass_stopping_power("alpha", 1000.0, "Li3PO4") > 0  # a phase name has a density
    with pytest.raises(InterphaseInputError, match="density_g_cm3"):
        st.linear_stopping_power("alpha", 1000.0, "Li2.9PO3.3N0.46")
    with pytest.raises(InterphaseInputError, match="density_g_cm3"):
        st.csda_range("alpha", 1000.0, {"Li": 1})
    with pytest.raises(InterphaseInputError, match=r"path\[0\].density_g_cm3"):
        st.exit_energy("alpha", 1000.0, [("Li2.9PO3.3N0.46", 10.0)])
    with pytest.raises(InterphaseInputError, match="density_g_cm3"):
        st.linear_stopping_power("alpha", 1000.0, "Li", density_g_cm3=-1.0)


@pytest.mark.parametrize(
    "path, field",
    [
        ([("LiPON", 100.0), ("Au", -1.0)], r"path\[1\].thickness_nm"),
        ([("LiPON", float("nan"))], r"path\[0\].thickness_nm"),
        ([("LiPON", "thick")], r"path\[0\].thickness_nm"),
        ([("LiPON",)], r"path\[0\]"),
        ("LiPON", "path"),
        ([("Qq", 10.0)], r"path\[0\].material"),
    ],
)
def test_bad_path_items_are_named(path, field):
    with pytest.raises(InterphaseInputError, match=field):
        st.exit_energy("alpha", 2055.0, path)


@pytest.mark.parametrize("angle", [90.0, 95.0, -1.0, float("nan"), [0.0, 90.0], "steep"])
def test_bad_angles(angle):
    with pytest.raises(InterphaseInputError, match="angle_deg"):
        st.exit_energy("alpha", 2055.0, [("LiPON", 100.0)], angle)
