"""Validation of the HRTEM model: identity with bare abTEM, lattice spacings, extinctions.

* Identity: :class:`~interphase_sim.hrtem.model.HRTEMModel` images against abTEM called
  directly on the same atoms and grid (potential, plane wave, multislice, CTF written out
  from the microscope's numbers); with the detector MTF, against the documented MTF
  ``(1 - c) / (1 + (q / (2 a))^b) + c`` applied here with numpy's FFT.
* Spacings: the package's reflection list (:func:`interphase_sim.build.crystal.lattice_spacings`)
  and the spots :func:`interphase_sim.hrtem.analysis.find_lattice_spacings` finds in
  simulated [001] images, against pymatgen's ``Lattice.d_hkl`` on the published cells
  (docs/references.md).
* Extinctions: reflections forbidden by the lattice centring (fcc Li2O (100), (110);
  bcc Li (100); diamond Si (200); LiF (110)) and by the 6_3 screw axis (Li3P (001)) must
  be absent from the package's kinematic electron intensities
  (:func:`interphase_sim.hrtem.phasemap.electron_reflections`) and (near-)absent from the
  simulated images' power spectra.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from interphase_sim.validation.report import Context, Row, Section, compare, register

__all__ = ["PUBLISHED_CELLS", "zone_001_atoms", "bare_abtem_image", "identity_rows", "reflection_list_rows",
           "image_spacing_rows", "kinematic_extinction_rows", "image_extinction_rows", "spot_power",
           "check_hrtem"]

#: Published cells (Å) of docs/references.md, as pymatgen lattice constructors' arguments.
PUBLISHED_CELLS = {"Li": ("cubic", 3.51), "Li2O": ("cubic", 4.619), "Li3N": ("hexagonal", 3.6507, 3.8886),
                   "LiF": ("cubic", 4.017)}
#: Spacings of docs/references.md (Å) that the package's reflection list must hold.
LISTED_SPACINGS = {"Li": [(1, 1, 0)], "Li2O": [(1, 1, 1), (2, 0, 0), (2, 2, 0)],
                   "Li3N": [(0, 0, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0)], "LiF": [(1, 1, 1), (2, 0, 0)]}
#: [001]-zone reflections an image shows, per phase (the phase's own cell indices).
ZONE_SPOTS = {"Li2O": [(2, 0, 0), (2, 2, 0)], "Li": [(1, 1, 0), (2, 0, 0)], "Li3N": [(1, 0, 0), (1, 1, 0)]}
#: Systematically absent reflections and why: (phase, hkl, rule).
EXTINCTIONS = (("Li2O", (1, 0, 0), "F-centring: h, k, l all even or all odd"),
               ("Li2O", (1, 1, 0), "F-centring: h, k, l all even or all odd"),
               ("Li", (1, 0, 0), "I-centring: h + k + l even"),
               ("Si", (2, 0, 0), "diamond d-glide: h + k + l = 4n for h, k, l all even"),
               ("LiF", (1, 1, 0), "F-centring: h, k, l all even or all odd"),
               ("Li3P", (0, 0, 1), "6_3 screw axis: 00l with l even"))
#: Forbidden [001]-zone spots checked in the images (phase, (h, k)).
IMAGE_EXTINCTIONS = (("Li2O", (1, 0)), ("Li2O", (1, 1)), ("Li", (1, 0)))
_PYMATGEN = "pymatgen Lattice.d_hkl on the published cell (docs/references.md)"
#: A forbidden spot's power in a simulated image, as a fraction of the strongest spot: a
#: kinematically forbidden reflection is zero; multislice through a finite slab leaves ~1e-4
#: (the slab's ends break the centring translations with a z part). The weakest allowed
#: spot of these images, Li2O (200), carries 1.5e-3.
FORBIDDEN_POWER_TOLERANCE = 1e-3


def _lattice(name: str):
    from pymatgen.core import Lattice

    kind, *args = PUBLISHED_CELLS[name]
    return getattr(Lattice, kind)(*args)


def zone_001_atoms(name: str, repeats: tuple[int, int, int]):
    """A built-in phase's crystal with c along the beam, in an orthogonal periodic cell.

    Parameters
    ----------
    name : str
        ``"Li"``, ``"Li2O"``, ``"Li3N"`` (hexagonal: the orthohexagonal cell a, a + 2b, c)
        or another cubic / orthorhombic phase.
    repeats : (int, int, int)
        Repetitions of that cell along x, y and z.

    Returns
    -------
    ase.Atoms
        Å; periodic.
    """
    from ase.build import make_supercell
    from pymatgen.io.ase import AseAtomsAdaptor

    from interphase_sim.sample import phases

    atoms = AseAtomsAdaptor.get_atoms(phases.get(name).structure)
    if name == "Li3N":
        atoms = make_supercell(atoms, [[1, 0, 0], [1, 2, 0], [0, 0, 1]])
    return atoms * tuple(int(r) for r in repeats)


def _microscope(perfect_detector: bool):
    from interphase_sim.hrtem.model import Microscope

    # a 25 mrad aperture passes the 1.6 Å fringes at 300 kV
    mtf = (math.inf, 1.0, 0.0) if perfect_detector else (0.5, 2.5, 0.1)
    return Microscope(energy_eV=300e3, Cs_mm=1.2, defocus_A=300.0, aperture_mrad=25.0, focal_spread_A=20.0,
                      angular_spread_mrad=0.1, mtf=mtf)


def bare_abtem_image(atoms: Any, gpts: tuple[int, int], slice_thickness_A: float, mic: Any) -> np.ndarray:
    """The noise-free image of ``atoms`` from abTEM alone (no detector).

    Parameters
    ----------
    atoms : ase.Atoms
        Orthogonal cell, beam along z (Å).
    gpts : (int, int)
        Grid points along x and y.
    slice_thickness_A : float
        Multislice slice thickness (Å).
    mic : Microscope
        Its numbers are written into abTEM's ``CTF`` here (``C10 = -defocus``).

    Returns
    -------
    ndarray (ny, nx)
        Intensity (incident = 1); rows y, columns x.
    """
    import abtem

    potential = abtem.Potential(atoms, gpts=gpts, slice_thickness=slice_thickness_A)
    exit_wave = abtem.PlaneWave(energy=mic.energy_eV).multislice(potential).compute(progress_bar=False)
    ctf = abtem.CTF(semiangle_cutoff=mic.aperture_mrad, focal_spread=mic.focal_spread_A,
                    angular_spread=mic.angular_spread_mrad, energy=mic.energy_eV,
                    aberration_coefficients={"C10": -mic.defocus_A, "C30": mic.Cs_mm * 1e7})
    images = exit_wave.apply_ctf(ctf).intensity()
    if images.is_lazy:
        images = images.compute(progress_bar=False)
    return np.asarray(images.array, dtype=float).T


def _documented_mtf(image: np.ndarray, mtf: tuple[float, float, float]) -> np.ndarray:
    """``image`` blurred by ``(1 - c) / (1 + (q / (2 a))^b) + c``, q the fraction of Nyquist."""
    a, b, c = mtf
    qy = np.fft.fftfreq(image.shape[0]) / 0.5
    qx = np.fft.fftfreq(image.shape[1]) / 0.5
    q = np.hypot(qy[:, None], qx[None, :])
    return np.real(np.fft.ifft2(np.fft.fft2(image) * ((1.0 - c) / (1.0 + (q / (2.0 * a)) ** b) + c)))


def identity_rows(atoms: Any, label: str, sampling_A: float = 0.1) -> tuple[list[Row], Any]:
    """The package's images against bare abTEM (and the documented MTF) on the same atoms.

    Parameters
    ----------
    atoms : ase.Atoms
        Orthogonal cell (Å).
    label : str
        Names the specimen in the rows.
    sampling_A : float
        Pixel size (Å).

    Returns
    -------
    rows : list of Row
        Largest absolute difference over the image, relative to the largest intensity
        (tolerance 1e-6): perfect detector; detector MTF (0.5, 2.5, 0.1).
    image : Measurement
        The package's perfect-detector image (for the other checks).
    """
    from importlib import metadata

    from interphase_sim.hrtem.model import HRTEMModel

    version = metadata.version("abtem")
    perfect, blurred = _microscope(True), _microscope(False)
    model = HRTEMModel(atoms, perfect, sampling_A=sampling_A)
    image = model.image()
    bare = bare_abtem_image(atoms, model.gpts, model.slice_thickness_A, perfect)
    cases = ((image.values, bare, "bare abTEM"),
             (model.image(blurred).values, _documented_mtf(bare, blurred.mtf),  # the cached exit wave, MTF on
              "bare abTEM + documented MTF (numpy FFT)"))
    rows = []
    for got, ref, what in cases:
        diff = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
        rows.append(compare(f"{label}: image vs {what}, max |difference| / max intensity", math.nan, diff, 1e-6,
                            f"abTEM {version} called directly on the same atoms and grid", relative=False))
    return rows, image


def reflection_list_rows() -> list[Row]:
    """The package's lattice spacings (:func:`~interphase_sim.build.crystal.lattice_spacings`)
    against pymatgen's ``d_hkl`` on the published cells, for :data:`LISTED_SPACINGS`.

    Returns
    -------
    list of Row
        Å, relative tolerance 1 % (the library's cells and the listed ones come from
        different reports); a family missing from the list fails (value NaN).
    """
    from interphase_sim.build.crystal import lattice_spacings
    from interphase_sim.sample import phases

    rows = []
    for name, families in LISTED_SPACINGS.items():
        listed = {hkl: d for d, hkl in lattice_spacings(phases.get(name), 12)}
        lattice = _lattice(name)
        for hkl in families:
            rows.append(compare(f"{name} {hkl}: d-spacing in the package's reflection list", lattice.d_hkl(hkl),
                                listed.get(tuple(hkl), math.nan), 0.01, _PYMATGEN, unit="Å"))
    return rows


def image_spacing_rows(name: str, image: Any) -> list[Row]:
    """Spots found in a simulated [001] image against ``d_hkl`` of :data:`ZONE_SPOTS`.

    Parameters
    ----------
    name : str
        Phase of the image.
    image : Measurement
        Noise-free image of ``zone_001_atoms(name, ...)``.

    Returns
    -------
    list of Row
        Nearest found spacing per reflection (Å), relative tolerance 1 %.
    """
    from interphase_sim.hrtem.analysis import find_lattice_spacings

    # Li2O (200) carries 0.2 % of (220)'s power: a 1e-3 floor keeps it and not the Hann side lobes
    found = [d for d, _ in find_lattice_spacings(image, d_min_A=1.2, d_max_A=5.0, min_relative_power=1e-3)]
    lattice = _lattice(name)
    rows = []
    for hkl in ZONE_SPOTS[name]:
        ref = lattice.d_hkl(hkl)
        best = min(found, key=lambda d: abs(d - ref)) if found else math.nan
        rows.append(compare(f"{name} [001] image: diffractogram spot {hkl}", ref, best, 0.01, _PYMATGEN, unit="Å"))
    return rows


def kinematic_extinction_rows() -> list[Row]:
    """Relative kinematic electron intensity of each reflection of :data:`EXTINCTIONS`
    (0 when the package leaves it out); tolerance 1e-9 of the phase's strongest spacing.

    Returns
    -------
    list of Row
        One per systematically absent reflection.
    """
    from interphase_sim.hrtem.phasemap import electron_reflections
    from interphase_sim.sample import phases

    rows = []
    for name, hkl, rule in EXTINCTIONS:
        phase = phases.get(name)
        d = phase.structure.lattice.d_hkl(hkl)
        # down to 1.2 Å, so that allowed reflections are in the list too (intensities are relative)
        listed = electron_reflections(phase, d_min_A=min(0.9 * d, 1.2))
        intensity = sum(i for dd, i, _, _ in listed if abs(dd - d) <= 1e-6 * d)
        rows.append(compare(f"{name} {hkl}: kinematic electron intensity (absent)", math.nan, intensity, 1e-9,
                            f"systematic absence, {rule}", relative=False))
    return rows


def spot_power(image: np.ndarray, repeats: tuple[int, int], hk: tuple[int, int]) -> float:
    """Power of the (h, k) spot of a periodic image of ``repeats`` cells (numpy FFT, no window).

    Parameters
    ----------
    image : ndarray (ny, nx)
        One full period in each direction (``repeats[0]`` cells along x, ``repeats[1]`` along y).
    repeats : (int, int)
        Cells along x and y.
    hk : (int, int)
        Reflection indices along x and y.

    Returns
    -------
    float
        ``|FFT|^2`` at the spot (same unit for every spot of the image).
    """
    f = np.fft.fft2(image - image.mean())
    return float(np.abs(f[(hk[1] * repeats[1]) % image.shape[0], (hk[0] * repeats[0]) % image.shape[1]]) ** 2)


def image_extinction_rows(images: dict[str, tuple[np.ndarray, tuple[int, int]]]) -> list[Row]:
    """Forbidden spots of :data:`IMAGE_EXTINCTIONS` in simulated images, relative to the
    strongest allowed spot; tolerance :data:`FORBIDDEN_POWER_TOLERANCE`.

    Parameters
    ----------
    images : dict
        ``{phase: (image values, (cells along x, cells along y))}`` of [001] images.

    Returns
    -------
    list of Row
        One per forbidden spot whose phase is in ``images``.
    """
    rows = []
    for name, hk in IMAGE_EXTINCTIONS:
        if name not in images:
            continue
        values, reps = images[name]
        strongest = max(spot_power(values, reps, hkl[:2]) for hkl in ZONE_SPOTS[name])
        rel = spot_power(values, reps, hk) / strongest
        rows.append(compare(f"{name} [001] image: forbidden spot ({hk[0]}, {hk[1]}, 0) power / strongest spot",
                            math.nan, rel, FORBIDDEN_POWER_TOLERANCE,
                            "systematic absence (kinematically zero)", relative=False))
    return rows


def _figure(ctx: Context, image: Any, name: str, a_A: float) -> tuple[str, str]:
    """The image's diffractogram with circles at the expected spacings and the forbidden spots."""
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.hrtem.analysis import diffractogram
    from interphase_sim.plotting.common import pyplot_module

    plt = pyplot_module()
    power, (ky, kx) = diffractogram(image, window=None)  # a periodic image: no window needed
    a = float(a_A)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    extent = (kx[0], kx[-1], ky[-1], ky[0])
    ax.imshow(np.log10(np.clip(power / power.max(), 1e-4, None)), extent=extent, cmap="gray")
    lattice = _lattice(name)
    theta = np.linspace(0, 2 * np.pi, 200)
    for i, hkl in enumerate(ZONE_SPOTS[name]):
        k = 1.0 / lattice.d_hkl(hkl)
        ax.plot(k * np.cos(theta), k * np.sin(theta), color=f"C{i + 1}", lw=0.8,
                label=f"{hkl}: {lattice.d_hkl(hkl):.3f} Å (pymatgen)")
    forbidden = [hk for ph, hk in IMAGE_EXTINCTIONS if ph == name]
    for hk in forbidden:
        pts = [(sx * hk[0] / a, sy * hk[1] / a) for sx in (-1, 1) for sy in (-1, 1)]
        pts += [(sy * hk[1] / a, sx * hk[0] / a) for sx in (-1, 1) for sy in (-1, 1)]
        ax.plot(*np.array(pts).T, "x", color="C3", ms=6, label=None)
    ax.plot([], [], "x", color="C3", label="forbidden (100), (110)")
    lim = 1.0 / 1.4
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$k_x$ (1/Å)", ylabel="$k_y$ (1/Å)",
           title=f"{name} [001]: diffractogram of the simulated image")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    file_name = "hrtem_diffractogram.png"
    atomic_savefig(fig, ctx.figure_path(file_name), dpi=110)
    plt.close(fig)
    return file_name, (f"Diffractogram (log power, 1e-4 to 1 of the strongest spot) of the simulated {name} [001] "
                       "image at 300 kV, with circles at the pymatgen d-spacings of the allowed spots and crosses "
                       "at the forbidden ones.")


@register("hrtem")
def check_hrtem(ctx: Context) -> Section:
    """HRTEM images against bare abTEM, spacings against pymatgen, extinctions.

    Parameters
    ----------
    ctx : Context
        Mode: quick images Li2O 6 x 6 x 2 and Li 8 x 8 x 2 cells; full adds Li3N and uses
        8 x 8 x 2, 10 x 10 x 3 and 10 x 6 x 3 cells.

    Returns
    -------
    Section
        2 identity rows, 10 reflection-list rows, 2 spot rows per imaged phase,
        6 kinematic and 3 image extinction rows.
    """
    from interphase_sim.hrtem.model import HRTEMModel

    t0 = time.perf_counter()
    if ctx.quick:
        repeats = {"Li2O": (6, 6, 2), "Li": (8, 8, 2)}
    else:
        repeats = {"Li2O": (8, 8, 2), "Li": (10, 10, 3), "Li3N": (10, 6, 3)}
    li2o_atoms = zone_001_atoms("Li2O", repeats["Li2O"])
    rows, li2o_image = identity_rows(li2o_atoms, f"Li2O {'x'.join(map(str, repeats['Li2O']))} cells")
    rows += reflection_list_rows()
    images = {"Li2O": li2o_image}
    for name in repeats:
        if name != "Li2O":
            images[name] = HRTEMModel(zone_001_atoms(name, repeats[name]), _microscope(True), sampling_A=0.1).image()
        rows += image_spacing_rows(name, images[name])
    rows += kinematic_extinction_rows()
    rows += image_extinction_rows({n: (img.values, repeats[n][:2]) for n, img in images.items()})
    figure = _figure(ctx, li2o_image, "Li2O", li2o_atoms.cell[0, 0] / repeats["Li2O"][0])
    text = (
        "The HRTEM model's noise-free image of a Li2O [001] crystal (300 kV, Cs 1.2 mm, 300 Å underfocus, "
        "25 mrad aperture, 20 Å focal spread, 0.1 Å pixels) is compared with abTEM called directly on the same "
        "atoms and grid (Potential, PlaneWave.multislice, CTF with C10 = -defocus): the largest difference "
        "relative to the largest intensity must stay below 1e-6; with the detector MTF on, the reference "
        "applies the documented MTF with numpy's FFT. The package's reflection list must give the "
        "docs/references.md spacings (pymatgen Lattice.d_hkl on the published cells, 1 %), and "
        "find_lattice_spacings the [001]-zone spots of simulated images (Li2O (200), (220); Li (110), (200); "
        "in full mode also Li3N (100), (110)) within 1 %. Systematic absences (fcc and bcc centring, the diamond "
        "glide of Si, the 6_3 screw of Li3P) must be absent from the package's kinematic electron intensities, and the "
        "forbidden spots of the simulated images below 1e-3 of the strongest spot (multislice through a "
        "finite slab leaves ~1e-4). Quick mode images Li2O (6 x 6 x 2 cells) and Li (8 x 8 x 2); full mode "
        f"adds Li3N and thicker crystals. Run time {time.perf_counter() - t0:.0f} s in "
        f"{'quick' if ctx.quick else 'full'} mode (two cores: 10-20 s in either mode, mostly abTEM's import and "
        "the crystal-structure builds)."
    )
    return Section("HRTEM: abTEM identity, lattice spacings and extinctions", text, rows, [figure])
