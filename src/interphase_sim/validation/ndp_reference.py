"""An independent NDP forward simulator, for testing :class:`interphase_sim.ndp.NDPModel`.

Same physics, different code: it shares with the package only the stopping powers
(:func:`interphase_sim.ndp.stopping.linear_stopping_power`, the "same physics") and the
phases' compositions and densities. Everything else is written here from scratch:

- birth energies of 6Li(n,alpha)3H from Q = 4783.47 keV and the CODATA 2018 nuclear
  masses of the alpha and the triton, by relativistic (or classical) two-body kinematics;
- 6Li and electron number densities from each phase's pymatgen composition, its density
  (g/cm3) and Avogadro's number;
- transport: each particle is *marched* out of the sample, cell by cell, with an explicit
  fourth-order Runge-Kutta step of dE/dt = -k S(E) (t the depth travelled towards the
  surface, k = 1/cos(phi) the path factor), one particle per birth cell of a fine depth
  grid (cells aligned with the layer interfaces, so no step straddles two phases) and
  per Gauss-Legendre node of the acceptance cone in cos(phi) (uniform in solid angle);
- straggling: Bohr's rate ``4 pi e^4 Z1^2 sum_el n_el Z_el``, optionally with the
  Lindhard-Scharff factor per element (``L(chi)/2`` below chi = 3, chi = (E/M1) / (Z2 x
  24.80 keV/u)), propagated as ``dV/dt = k [omega^2(E) - 2 S'(E) V]`` and integrated with
  the energy in the same Runge-Kutta step (the spread carried with the stopping slope).
  Kept, not neglected: for alphas born at the LNMO bottom of a LiPON 1200 | LNMO 500 nm
  stack it reaches sigma ~12.5 keV, more than an 18 keV-FWHM detector's 7.6 keV. The
  default is Lindhard-Scharff, as the package's model's;
- detection: each (cell, angle) packet is spread with a Gaussian of variance
  V + sigma_det^2 and integrated exactly over the channel edges (normal CDF differences);
  channels below the discriminator are zeroed.

Absolute yield per packet: fluence (n/cm2) x 940 b x N_6Li (1/cm3) x dz (cm) x
(1 - cos theta)/2 x area (cm2) x angle weight.

The package's model, by contrast, tabulates ranges on a sqrt(E) grid, places birth
points by energy steps, histograms and broadens per channel. None of it is used here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element
from scipy.special import ndtr

from interphase_sim import phases as phase_library
from interphase_sim.ndp.stopping import linear_stopping_power

AVOGADRO = 6.02214076e23  # 1/mol
E2_KEV_NM = 1.43996448e-3  # e^2 / (4 pi eps0), keV nm
BOHR_PER_Z1SQ = 4.0 * math.pi * E2_KEV_NM**2  # keV^2 per (electron/nm^2), per Z1^2
Q_LI6_KEV = 4783.47  # 6Li(n,alpha)3H
M_ALPHA_KEV = 3727379.4066  # CODATA 2018 nuclear masses (keV)
M_TRITON_KEV = 2808921.13298
SIGMA_LI6_B = 940.0  # thermal (2200 m/s) capture cross-section
Z_ION = {"alpha": 2, "triton": 1}
U_KEV = 931494.10242  # atomic mass unit (keV)
MASS_U = {"alpha": M_ALPHA_KEV / U_KEV, "triton": M_TRITON_KEV / U_KEV}
V0_KEV_PER_U = 0.5 * U_KEV / 137.035999084**2  # (1/2) u v0^2, v0 the Bohr velocity


def birth_energies(q_keV: float = Q_LI6_KEV, relativistic: bool = True) -> dict[str, float]:
    """Kinetic energies (keV) of the alpha and the triton from a capture at rest."""
    ma, mb = M_ALPHA_KEV, M_TRITON_KEV
    if relativistic:
        big_m = ma + mb + q_keV
        ta = ((big_m - ma) ** 2 - mb**2) / (2.0 * big_m)
    else:
        ta = q_keV * mb / (ma + mb)
    return {"alpha": ta, "triton": q_keV - ta}


def number_densities(phase_name: str, li6_abundance: float) -> tuple[float, dict[int, float]]:
    """(6Li atoms/nm3, {Z: atoms/nm3}) of a library phase from its composition and density."""
    ph = phase_library.get(phase_name)
    comp = ph.composition
    molar_mass = float(comp.weight)  # g/mol of the formula unit
    units_per_nm3 = ph.density * AVOGADRO / molar_mass * 1e-21  # formula units / nm3
    amounts = comp.get_el_amt_dict()
    n_li6 = units_per_nm3 * amounts.get("Li", 0.0) * li6_abundance
    atoms = {Element(el).Z: units_per_nm3 * a for el, a in amounts.items()}
    return n_li6, atoms


def straggling_rate(ion: str, energy_keV: np.ndarray, atoms: dict[int, float], model: str) -> np.ndarray:
    """Straggling variance per path length (keV^2/nm): Bohr, or with Lindhard-Scharff."""
    e = np.asarray(energy_keV, dtype=float)
    rate = np.zeros_like(e)
    for z2, n in atoms.items():
        factor = np.ones_like(e)
        if model == "lindhard-scharff":
            chi = np.maximum(e, 0.0) / MASS_U[ion] / (V0_KEV_PER_U * z2)
            factor = np.where(chi < 3.0, 0.5 * (1.36 * np.sqrt(chi) - 0.016 * chi**1.5), 1.0)
        elif model != "bohr":
            raise ValueError(f"unknown straggling model {model!r}")
        rate += BOHR_PER_Z1SQ * Z_ION[ion] ** 2 * n * z2 * factor
    return rate


@dataclass
class _Table:
    """Stopping S(E), its slope and the straggling rate on a uniform energy grid (linear
    interpolation: 6000 intervals, far finer than anything the spectrum resolves)."""

    de: float
    s: np.ndarray
    ds: np.ndarray
    w: np.ndarray

    @classmethod
    def make(cls, ion: str, phase: str, atoms: dict[int, float], model: str, e_max: float,
             scale: float = 1.0, n: int = 6001) -> _Table:
        e = np.linspace(0.0, e_max, n)
        s = np.empty(n)
        s[1:] = scale * linear_stopping_power(ion, e[1:], phase)
        s[0] = s[1]
        return cls(e[1] - e[0], s, np.gradient(s, e), straggling_rate(ion, e, atoms, model))

    def __call__(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.clip(e / self.de, 0.0, self.s.size - 1.000001)
        i = x.astype(int)
        f = x - i
        return tuple(a[i] * (1.0 - f) + a[i + 1] * f for a in (self.s, self.ds, self.w))


def reference_spectrum(
    layers: list[tuple[str, float]],
    *,
    li6_abundance: float = 0.0759,
    particles: tuple[str, ...] = ("alpha", "triton"),
    fwhm_keV: float = 18.0,
    channels: int = 1024,
    gain_keV: float = 3.0,
    offset_keV: float = 0.0,
    acceptance_half_angle_deg: float = 3.0,
    fluence: float = 1e12,
    area_cm2: float = 1.0,
    low_energy_cutoff_keV: float = 100.0,
    straggling: bool = True,
    straggling_model: str = "lindhard-scharff",
    dz_nm: float = 2.0,
    angle_nodes: int = 4,
    energies_keV: dict[str, float] | None = None,
    stopping_scale: dict[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Expected counts per channel of a layered sample, detector along the normal.

    Parameters
    ----------
    layers : list of (phase name, thickness nm)
        Top (z = 0, facing the detector) first; one phase per layer; the last may be
        ``inf`` (a substrate). Finite thicknesses must be multiples of ``dz_nm``. Births
        are counted in the finite layers only (a Li-bearing substrate is not supported).
    energies_keV : dict, optional
        Birth energies per particle; default :func:`birth_energies`.
    stopping_scale : dict, optional
        Phase name -> factor on its stopping power (a "true" stopping that differs from
        the tabulated one); default 1.

    Returns
    -------
    energy : (C,) channel-centre energies (keV)
    components : dict particle -> (C,) expected counts
    """
    finite = [(p, t) for p, t in layers if math.isfinite(t)]
    if len(finite) < len(layers) - 1 or any(not math.isfinite(t) for _, t in layers[:-1]):
        raise ValueError("only the last layer may be infinite")
    n_cells_layer = [round(t / dz_nm) for _, t in finite]
    if any(abs(n * dz_nm - t) > 1e-9 for n, (_, t) in zip(n_cells_layer, finite)):
        raise ValueError("finite thicknesses must be multiples of dz_nm")
    names = [p for p, _ in finite]
    cell_layer = np.repeat(np.arange(len(finite)), n_cells_layer)  # layer index of each depth cell
    n_cells = cell_layer.size
    dens = [number_densities(p, li6_abundance) for p in names]
    n_li6 = np.array([d[0] for d in dens])[cell_layer]  # atoms/nm3 per cell

    # acceptance cone: uniform in mu = cos(phi) on [cos theta, 1], Gauss-Legendre nodes
    ct = math.cos(math.radians(acceptance_half_angle_deg))
    x, wx = np.polynomial.legendre.leggauss(angle_nodes)
    mu = 0.5 * (1.0 + ct) + 0.5 * (1.0 - ct) * x
    k_path = 1.0 / mu
    w_ang = wx / wx.sum()
    omega_frac = 0.5 * (1.0 - ct)

    e_ch = gain_keV * np.arange(channels) + offset_keV
    edges = np.concatenate(([e_ch[0] - 0.5 * gain_keV], e_ch + 0.5 * gain_keV))
    sig_det2 = (fwhm_keV / (2.0 * math.sqrt(2.0 * math.log(2.0)))) ** 2
    yield_per_atom_nm2 = fluence * area_cm2 * SIGMA_LI6_B * 1e-24 * omega_frac * 1e14  # per (6Li/nm2)

    births = energies_keV or birth_energies()
    out: dict[str, np.ndarray] = {}
    for part in particles:
        e_birth = births[part]
        tabs = [_Table.make(part, p, d[1], straggling_model, 1.02 * e_birth, (stopping_scale or {}).get(p, 1.0))
                for p, d in zip(names, dens)]
        # state per (cell j, angle a): energy and variance, starting at the cell middle
        e = np.full((n_cells, angle_nodes), e_birth)
        v = np.zeros((n_cells, angle_nodes))
        kk = np.broadcast_to(k_path, e.shape)

        def rk4(e, v, h, lay_idx, k):
            """One RK4 step of height h (nm) through the layers lay_idx (per row)."""
            def f(e_, v_):
                s, ds, w = (np.empty_like(e_) for _ in range(3))
                for li, tab in enumerate(tabs):
                    m = lay_idx == li
                    if m.any():
                        s[m], ds[m], w[m] = tab(e_[m])
                dv = k * (w - 2.0 * ds * v_) if straggling else np.zeros_like(v_)
                return -k * s, dv
            k1e, k1v = f(e, v)
            k2e, k2v = f(e + 0.5 * h * k1e, v + 0.5 * h * k1v)
            k3e, k3v = f(e + 0.5 * h * k2e, v + 0.5 * h * k2v)
            k4e, k4v = f(e + h * k3e, v + h * k3v)
            return (e + h / 6.0 * (k1e + 2 * k2e + 2 * k3e + k4e),
                    v + h / 6.0 * (k1v + 2 * k2v + 2 * k3v + k4v))

        # half a cell up to the cell's top edge (within the birth cell's layer)
        e, v = rk4(e, v, 0.5 * dz_nm, cell_layer, kk)
        # then whole cells: after step n, particle j is at the top of cell j - n - 1
        for n in range(n_cells - 1):
            rows = np.arange(n + 1, n_cells)  # particles still below the surface
            cells = rows - n - 1  # the cell each crosses now
            e_new, v_new = rk4(e[rows], v[rows], dz_nm, cell_layer[cells], kk[rows])
            e[rows], v[rows] = e_new, v_new
        alive = e > 1.0  # a particle that stops does not reach the detector
        weight = (n_li6 * dz_nm * yield_per_atom_nm2)[:, None] * w_ang[None, :]
        weight = np.where(alive, weight, 0.0).ravel()
        mean = e.ravel()
        sd = np.sqrt(np.maximum(v.ravel(), 0.0) + sig_det2)
        keep = weight > 0
        cdf = ndtr((edges[None, :] - mean[keep, None]) / sd[keep, None])
        out[part] = weight[keep] @ np.diff(cdf, axis=1)
    for comp in out.values():
        comp[e_ch < low_energy_cutoff_keV] = 0.0
    return e_ch, out
