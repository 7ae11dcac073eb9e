"""An independent NDP forward simulator, for validating :class:`interphase_sim.ndp.NDPModel`.

Same physics, different code: it shares with the package only the stopping powers
(:func:`interphase_sim.ndp.stopping.linear_stopping_power`, the "same physics") and the
phases' compositions and densities. Everything else is written here from scratch:

- birth energies of 6Li(n,alpha)3H from Q = 4783.47 keV and the CODATA 2018 nuclear
  masses of the alpha and the triton, by relativistic (or classical) two-body kinematics;
- 6Li and electron number densities from each phase's pymatgen composition, its density
  (g/cm3) and Avogadro's number;
- the sample: layers of phase mixtures (volume fractions, optionally varying linearly
  from the layer's top to its bottom), each interface an error function of width sigma
  (nm) added to the sharp profile (the jump D of every fraction replaced by
  ``D [Phi((z - z_k) / sigma) - H(z - z_k)]``), a semi-infinite last layer allowed (births
  in it down to its stopping range). A mixture stops by Bragg's rule on volume fractions
  (sum of fraction x the phase's linear stopping);
- transport: each particle is *marched* out of the sample, cell by cell, with an explicit
  fourth-order Runge-Kutta step of dE/dt = -k S(E) (t the depth travelled towards the
  surface, k = 1/cos(phi) the path factor), one particle per birth cell of a depth grid
  (cells aligned with the layer interfaces, a cell no thicker than loses ``step_keV`` at
  the phase's stopping maximum, and sigma/2 across a rough interface) and per
  Gauss-Legendre node of the acceptance cone in cos(phi) (uniform in solid angle);
- straggling: Bohr's rate ``4 pi e^4 Z1^2 sum_el n_el Z_el``, optionally with the
  Lindhard-Scharff factor per element (``L(chi)/2`` below chi = 3, chi = (E/M1) / (Z2 x
  24.80 keV/u)), propagated as ``dV/dt = k [omega^2(E) - 2 S'(E) V]`` and integrated with
  the energy in the same Runge-Kutta step (the spread carried with the stopping slope).
  The default is Lindhard-Scharff, as the package's model's;
- detection: each (cell, angle) packet is spread with a Gaussian of variance
  V + sigma_det^2 and integrated exactly over the channel edges (normal CDF differences);
  channels below the discriminator are zeroed.

Absolute yield per packet: fluence (n/cm2) x 940 b x N_6Li (1/cm3) x dz (cm) x
(1 - cos theta)/2 x area (cm2) x angle weight.

The package's model, by contrast, tabulates ranges on a sqrt(E) grid, splits the stack
into regions of constant composition (sub-slabs across rough interfaces and gradients),
places birth points by energy steps, histograms and broadens per channel. None of it is
used here. The march costs (cells)^2 x angles, but in a homogeneous semi-infinite substrate
the transport is autonomous, so one march gives every birth's state at the substrate's top:
a few seconds for a 2 um stack, about ten for a thin film on Li metal (tritons escape from
140 um of it). Rough interfaces must lie more than 6 sigma below the surface (the erf is
not reflected at z = 0).

References: Bohr, Mat. Fys. Medd. Dan. Vid. Selsk. 18, no. 8 (1948); Lindhard and
Scharff, Mat. Fys. Medd. Dan. Vid. Selsk. 27, no. 15 (1953); Tschalaer, Nucl. Instrum.
Methods 61, 141 (1968); CODATA 2018 (Tiesinga et al., Rev. Mod. Phys. 93, 025010 (2021)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Element
from scipy.special import ndtr

from interphase_sim import phases as phase_library
from interphase_sim.ndp.stopping import linear_stopping_power

__all__ = ["RefLayer", "birth_energies", "number_densities", "straggling_rate", "reference_spectrum",
           "layers_from_stack", "Q_LI6_KEV", "SIGMA_LI6_B"]

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


@dataclass(frozen=True)
class RefLayer:
    """One layer of the reference's sample.

    Parameters
    ----------
    thickness_nm : float
        Thickness (nm); ``inf`` for a semi-infinite last layer.
    top : dict
        Phase name -> volume fraction at the layer's top (summing to 1).
    bottom : dict, optional
        Volume fractions at the layer's bottom (linear in depth in between).
    roughness_nm : float
        Error-function width sigma (nm) of the interface with the layer below.
    """

    thickness_nm: float
    top: dict[str, float]
    bottom: dict[str, float] | None = None
    roughness_nm: float = 0.0


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


def layers_from_stack(stack: Any) -> list[RefLayer]:
    """The layers of a :class:`~interphase_sim.sample.stack.Stack` as :class:`RefLayer`
    (only the layers' declared thicknesses, fractions and roughnesses are read)."""
    out = []
    for lay in stack.layers:
        bottom = lay.normalized_fractions("bottom") if lay.fractions_bottom is not None else None
        out.append(RefLayer(float(lay.thickness_nm.value), lay.normalized_fractions("top"), bottom,
                            float(lay.roughness_nm.value)))
    return out


@dataclass
class _Table:
    """Stopping S(E), its slope and the straggling rate on a uniform energy grid (linear
    interpolation: 6000 intervals, far finer than anything the spectrum resolves)."""

    de: float
    s: np.ndarray
    ds: np.ndarray
    w: np.ndarray
    packed: np.ndarray | None = None

    @classmethod
    def make(cls, ion: str, phase: str, atoms: dict[int, float], model: str, e_max: float,
             scale: float = 1.0, n: int = 6001) -> _Table:
        """The tables of ``ion`` in ``phase`` up to ``e_max`` keV (stopping times ``scale``)."""
        e = np.linspace(0.0, e_max, n)
        s = np.empty(n)
        s[1:] = scale * linear_stopping_power(ion, e[1:], phase)
        s[0] = s[1]
        return cls(e[1] - e[0], s, np.gradient(s, e), straggling_rate(ion, e, atoms, model))

    def __call__(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(S keV/nm, dS/dE 1/nm, straggling rate keV^2/nm) at energies ``e`` (keV)."""
        if self.packed is None:
            self.packed = np.stack([self.s, self.ds, self.w], axis=-1)
        x = np.clip(e / self.de, 0.0, self.s.size - 1.000001)
        i = x.astype(int)
        f = (x - i)[..., None]
        out = self.packed[i] * (1.0 - f) + self.packed[i + 1] * f
        return out[..., 0], out[..., 1], out[..., 2]

    def csda_range(self) -> float:
        """Range (nm) from the table's top energy to rest."""
        return float(np.sum(self.de / np.maximum(0.5 * (self.s[1:] + self.s[:-1]), 1e-12)))


@dataclass
class _Sample:
    """The layered sample: interfaces (nm), phases and the fractions of every layer."""

    layers: list[RefLayer]
    phases: list[str] = field(init=False)
    tops: np.ndarray = field(init=False)
    thick: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        """Check the layers; collect the phases and the interface depths (nm)."""
        if any(not math.isfinite(lay.thickness_nm) for lay in self.layers[:-1]):
            raise ValueError("only the last layer may be infinite")
        self.phases = list(dict.fromkeys(p for lay in self.layers for p in (*lay.top, *(lay.bottom or {}))))
        self.thick = np.array([lay.thickness_nm for lay in self.layers], dtype=float)
        self.tops = np.concatenate([[0.0], np.cumsum(self.thick[:-1])])

    @property
    def finite_depth(self) -> float:
        """Depth (nm) of the bottom of the finite layers."""
        return float(self.tops[-1] + (self.thick[-1] if math.isfinite(self.thick[-1]) else 0.0))

    def _vec(self, fractions: dict[str, float] | None) -> np.ndarray:
        """Fractions as a vector over :attr:`phases`."""
        return np.array([(fractions or {}).get(p, 0.0) for p in self.phases])

    def fractions(self, z: np.ndarray) -> np.ndarray:
        """(N, P) volume fractions at depths ``z`` (nm, >= 0): sharp profile plus erf interfaces."""
        out = np.zeros((z.size, len(self.phases)))
        for i, lay in enumerate(self.layers):
            top = self._vec(lay.top)
            bot = self._vec(lay.bottom if lay.bottom is not None else lay.top)
            inside = (z >= self.tops[i]) & (z < self.tops[i] + self.thick[i])
            u = (z[inside] - self.tops[i]) / self.thick[i] if math.isfinite(self.thick[i]) else 0.0 * z[inside]
            out[inside] = top[None, :] + np.asarray(u)[:, None] * (bot - top)[None, :]
        for i, lay in enumerate(self.layers):
            sigma = lay.roughness_nm
            if sigma <= 0.0 or not math.isfinite(self.thick[i]):
                continue
            z_k = self.tops[i] + self.thick[i]
            if z_k < 6.0 * sigma:
                raise ValueError("a rough interface within 6 sigma of the surface is not supported")
            above = self._vec(lay.bottom if lay.bottom is not None else lay.top)
            below = self._vec(self.layers[i + 1].top) if i + 1 < len(self.layers) else 0.0 * above
            step = ndtr((z - z_k) / sigma) - (z >= z_k)
            out += step[:, None] * (below - above)[None, :]
        out = np.maximum(out, 0.0)
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 1.0, out / np.maximum(total, 1e-300), out)

    def cell_edges(self, h_phase: dict[str, float], z_max: float, cap_nm: float | None) -> tuple[np.ndarray, int]:
        """Edges (nm) of the birth cells down to ``z_max``: at every interface, at most
        ``h`` thick in a layer (its phases' smallest ``h_phase``), sigma/2 within 5 sigma
        of a rough interface; and the first cell of a semi-infinite substrate's uniform
        tail (below its top's rough window), or the number of cells."""
        breaks = {0.0, z_max}
        windows = []
        for i, lay in enumerate(self.layers):
            if math.isfinite(self.thick[i]):
                z_k = self.tops[i] + self.thick[i]
                breaks.add(z_k)
                if lay.roughness_nm > 0:
                    windows.append((z_k - 5 * lay.roughness_nm, z_k + 5 * lay.roughness_nm, 0.5 * lay.roughness_nm))
                    breaks.update(w for w in windows[-1][:2])
        pts = np.array(sorted(b for b in breaks if 0.0 <= b <= z_max))
        edges = [0.0]
        for a, b in zip(pts[:-1], pts[1:]):
            mid = 0.5 * (a + b)
            i = min(int(np.searchsorted(self.tops, mid, side="right")) - 1, len(self.layers) - 1)
            lay = self.layers[i]
            h = min(h_phase[p] for p in (*lay.top, *(lay.bottom or {})))
            h = min([h] + [w for lo, hi, w in windows if lo <= mid <= hi] + ([cap_nm] if cap_nm else []))
            n = max(1, math.ceil((b - a) / h - 1e-9))
            tail = len(edges) - 1
            edges += list(np.linspace(a, b, n + 1)[1:])
        if math.isfinite(self.thick[-1]) or len(pts) < 2 or pts[-2] < self.finite_depth:
            tail = len(edges) - 1
        return np.array(edges), tail


def _rk4(e: np.ndarray, v: np.ndarray, h: np.ndarray, phi: np.ndarray, k: np.ndarray, tabs: list[_Table],
         straggling: bool) -> tuple[np.ndarray, np.ndarray]:
    """One RK4 step of heights ``h`` (nm, per row) through cells of fractions ``phi`` (rows, P)."""
    present = [p for p in range(len(tabs)) if phi[:, p].any()]

    def f(e_: np.ndarray, v_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dE/dt, dV/dt) of energies ``e_`` and variances ``v_``."""
        s, ds, w = np.zeros_like(e_), np.zeros_like(e_), np.zeros_like(e_)
        for p in present:
            sp, dsp, wp = tabs[p](e_)
            c = phi[:, p:p + 1]
            s += c * sp
            ds += c * dsp
            w += c * wp
        dv = k * (w - 2.0 * ds * v_) if straggling else np.zeros_like(v_)
        return -k * s, dv

    hh = h[:, None]
    k1e, k1v = f(e, v)
    k2e, k2v = f(e + 0.5 * hh * k1e, v + 0.5 * hh * k1v)
    k3e, k3v = f(e + 0.5 * hh * k2e, v + 0.5 * hh * k2v)
    k4e, k4v = f(e + hh * k3e, v + hh * k3v)
    return (e + hh / 6.0 * (k1e + 2 * k2e + 2 * k3e + k4e), v + hh / 6.0 * (k1v + 2 * k2v + 2 * k3v + k4v))


def _march(e_birth: float, dz: np.ndarray, phi: np.ndarray, k_path: np.ndarray, tabs: list[_Table],
           straggling: bool, tail: int) -> tuple[np.ndarray, np.ndarray]:
    """(energy, variance) at the surface of a particle born at each cell's middle, per angle.

    Cells ``tail:`` are one homogeneous medium of equal cells (a substrate): the ODE is
    autonomous there, so one march from the birth energy gives every tail birth's state
    at the top of cell ``tail`` (the one born ``m + 1/2`` cells below it is that march
    after ``m + 1/2`` cells), with the same Runge-Kutta steps as a march of its own.
    """
    n_cells = dz.size
    n_ang = k_path.size
    e = np.full((n_cells, n_ang), e_birth)
    v = np.zeros_like(e)
    kk = np.broadcast_to(k_path, e.shape)
    head = np.arange(min(tail, n_cells))
    # half a cell up to the cell's top edge (within the birth cell)
    e[head], v[head] = _rk4(e[head], v[head], 0.5 * dz[head], phi[head], kk[head], tabs, straggling)
    position = np.minimum(np.arange(n_cells), tail)  # the cell whose top each particle is at
    if tail < n_cells:
        one = np.full((1, n_ang), e_birth), np.zeros((1, n_ang))
        h = dz[tail:tail + 1]
        state = _rk4(*one, 0.5 * h, phi[tail:tail + 1], k_path[None, :], tabs, straggling)
        for m in range(n_cells - tail):
            e[tail + m], v[tail + m] = state[0][0], state[1][0]
            if state[0].max() <= 1.0:
                e[tail + m:] = 0.0  # stopped inside the substrate
                break
            state = _rk4(*state, h, phi[tail:tail + 1], k_path[None, :], tabs, straggling)
    # then whole cells: after step n, a particle at the top of cell p is at the top of p - n - 1
    rows = np.arange(n_cells)
    for n in range(min(tail, n_cells) - 1 + (tail < n_cells)):
        rows = rows[position[rows] > n]
        rows = rows[e[rows].max(axis=1) > 1.0]  # a stopped particle stays stopped
        if rows.size == 0:
            break
        cells = position[rows] - n - 1  # the cell each crosses now
        e[rows], v[rows] = _rk4(e[rows], v[rows], dz[cells], phi[cells], kk[rows], tabs, straggling)
    return e, v


def _detect(weight: np.ndarray, mean: np.ndarray, var: np.ndarray, edges: np.ndarray, sig_det2: float,
            chunk: int = 2000) -> np.ndarray:
    """Counts per channel of Gaussian packets, integrated exactly over the channel edges."""
    keep = weight > 0
    weight, mean, sd = weight[keep], mean[keep], np.sqrt(np.maximum(var[keep], 0.0) + sig_det2)
    out = np.zeros(edges.size - 1)
    for a in range(0, weight.size, chunk):
        cdf = ndtr((edges[None, :] - mean[a:a + chunk, None]) / sd[a:a + chunk, None])
        out += weight[a:a + chunk] @ np.diff(cdf, axis=1)
    return out


def _cells(sample: _Sample, tabs: list[_Table], dens: dict[str, tuple], step_keV: float,
           dz_nm: float | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(cell thicknesses nm, fractions (cells, P), first cell of the substrate's uniform tail)
    of one particle: a cell loses at most ``step_keV`` along the normal at the stopping maximum;
    cells reach below a rough bottom by 6 sigma and into a Li-bearing substrate by its range."""
    h_phase = {p: step_keV / t.s.max() for p, t in zip(sample.phases, tabs)}
    finite = [lay for lay in sample.layers if math.isfinite(lay.thickness_nm)]
    z_max = sample.finite_depth + 6.0 * (finite[-1].roughness_nm if finite else 0.0)  # a rough bottom spills
    bottom = [p for p, f in sample.layers[-1].top.items() if f > 0]
    if not math.isfinite(sample.thick[-1]) and any(dens[p][0] > 0 for p in bottom):
        # a Li-bearing substrate: no birth deeper than its range below its top escapes
        z_max += max(tabs[sample.phases.index(p)].csda_range() for p in bottom)
    cell_edges, tail = sample.cell_edges(h_phase, z_max, dz_nm)
    phi = sample.fractions(0.5 * (cell_edges[1:] + cell_edges[:-1]))
    if tail < phi.shape[0]:
        phi[tail:] = phi[tail]  # beyond 5 sigma of its top the substrate is uniform (to 3e-7)
    return np.diff(cell_edges), phi, tail


def reference_spectrum(
    layers: Sequence[tuple[str, float] | RefLayer],
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
    step_keV: float = 1.5,
    dz_nm: float | None = 2.0,
    angle_nodes: int = 4,
    energies_keV: dict[str, float] | None = None,
    stopping_scale: dict[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Expected counts per channel of a layered sample, detector along the normal.

    Parameters
    ----------
    layers : list of (phase name, thickness nm) or RefLayer
        Top (z = 0, facing the detector) first; the last may be ``inf`` (a substrate,
        Li-bearing or not).
    step_keV : float
        Largest energy (keV) a particle may lose crossing one birth cell, at the stopping
        maximum of the cell's phases (sets the cell size).
    dz_nm : float, optional
        Cap (nm) on the cell size as well (None: none).
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
    sample = _Sample([lay if isinstance(lay, RefLayer) else RefLayer(float(lay[1]), {lay[0]: 1.0})
                      for lay in layers])
    dens = {p: number_densities(p, li6_abundance) for p in sample.phases}
    n6_phase = np.array([dens[p][0] for p in sample.phases])

    # acceptance cone: uniform in mu = cos(phi) on [cos theta, 1], Gauss-Legendre nodes
    ct = math.cos(math.radians(acceptance_half_angle_deg))
    x, wx = np.polynomial.legendre.leggauss(angle_nodes)
    k_path = 1.0 / (0.5 * (1.0 + ct) + 0.5 * (1.0 - ct) * x)
    w_ang = wx / wx.sum()

    e_ch = gain_keV * np.arange(channels) + offset_keV
    edges = np.concatenate(([e_ch[0] - 0.5 * gain_keV], e_ch + 0.5 * gain_keV))
    sig_det2 = (fwhm_keV / (2.0 * math.sqrt(2.0 * math.log(2.0)))) ** 2
    omega_frac = 0.5 * (1.0 - ct)
    yield_per_atom_nm2 = fluence * area_cm2 * SIGMA_LI6_B * 1e-24 * omega_frac * 1e14  # per (6Li/nm2)

    births = energies_keV or birth_energies()
    out: dict[str, np.ndarray] = {}
    for part in particles:
        e_birth = births[part]
        tabs = [_Table.make(part, p, dens[p][1], straggling_model, 1.02 * e_birth, (stopping_scale or {}).get(p, 1.0))
                for p in sample.phases]
        dz, phi, tail = _cells(sample, tabs, dens, step_keV / k_path.max(), dz_nm)
        e, v = _march(e_birth, dz, phi, k_path, tabs, straggling, tail)
        weight = ((phi @ n6_phase) * dz * yield_per_atom_nm2)[:, None] * w_ang[None, :]
        weight = np.where(e > 1.0, weight, 0.0)  # a particle that stops does not reach the detector
        out[part] = _detect(weight.ravel(), e.ravel(), v.ravel(), edges, sig_det2)
    for comp in out.values():
        comp[e_ch < low_energy_cutoff_keV] = 0.0
    return e_ch, out
