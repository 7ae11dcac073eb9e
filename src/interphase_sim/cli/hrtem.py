"""``interphase-sim simulate hrtem``: a cross-section image of a sample and its analysis.

Kept apart from :mod:`interphase_sim.cli.main` so the main CLI module stays short; the
argument parser there calls :func:`add_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

# the [hrtem] keys, ranges and defaults: interphase_sim.core.settings.HRTEM
FLAGS = {"lateral_nm": "--lateral-nm", "thickness_nm": "--thickness-nm", "sampling_A": "--sampling-A",
         "defocus_A": "--defocus-A", "dose_e_per_A2": "--dose", "depth_range_nm": "--depth-range-nm",
         "seed": "--seed"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``simulate hrtem`` beyond the shared ones (sample, --out, --noise, --seed)."""
    parser.add_argument("--lateral-nm", type=float, default=None, help="image width along the interfaces (nm)")
    parser.add_argument("--thickness-nm", type=float, default=None, help="lamella thickness along the beam (nm)")
    parser.add_argument("--depth-range-nm", type=float, nargs=2, metavar=("START", "STOP"), default=None,
                        help="depth window imaged (nm); default [hrtem] or [build] depth_range_nm")
    parser.add_argument("--sampling-A", type=float, default=None, help="pixel size (Å), default 0.2")
    parser.add_argument("--defocus-A", type=float, default=None,
                        help="defocus (Å, positive = underfocus); default Scherzer")
    parser.add_argument("--dose", type=float, default=None, help="electron dose for --noise (e/Å2)")
    parser.add_argument("--device", choices=("cpu", "gpu", "auto"), default="cpu",
                        help="where abTEM computes (default cpu; gpu fails clearly without one)")
    parser.add_argument("--no-progress", action="store_true", help="hide the multislice progress bar")


def settings(stack: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings: defaults < the sample's [hrtem] table < command-line flags, each
    checked by the one [hrtem] vocabulary (a flag's error names the flag)."""
    from interphase_sim.core.settings import HRTEM
    from interphase_sim.hrtem.model import microscope_from_settings, resolve_hrtem_settings

    values = {"lateral_nm": args.lateral_nm, "thickness_nm": args.thickness_nm, "sampling_A": args.sampling_A,
              "defocus_A": args.defocus_A, "dose_e_per_A2": args.dose,
              "depth_range_nm": None if args.depth_range_nm is None else list(args.depth_range_nm),
              "seed": args.seed}
    flags = {k: HRTEM[k].read(v, f"{FLAGS[k]} ([hrtem] {k})") for k, v in values.items() if v is not None}
    s = resolve_hrtem_settings(stack, flags)
    if "window_nm" in s and s["window_nm"] > s["lateral_nm"]:  # checked before the multislice, not after
        where = "--lateral-nm" if "lateral_nm" in flags else "hrtem.window_nm"
        raise InterphaseInputError(where, f"window_nm = {s['window_nm']:g} nm is wider than the image "
                                   f"({s['lateral_nm']:g} nm): lower window_nm or widen --lateral-nm")
    microscope_from_settings(s)  # microscope fields (mtf, Cs, ...) fail here, before anything is built
    return s


def _microscope(s: dict[str, Any]):
    from interphase_sim.hrtem.model import microscope_from_settings

    return microscope_from_settings(s)


def simulate(stack: Any, s: dict[str, Any], noise: bool, device: str = "cpu", progress: bool = True):
    """Build the lamella, image it and map its phases; returns a dict of results."""
    from interphase_sim.hrtem.model import HRTEMModel
    from interphase_sim.hrtem.analysis import wavelength_A
    from interphase_sim.hrtem.phasemap import candidate_reflections, phase_map
    from interphase_sim.hrtem.fitting import StackPhaseFractions, phase_map_depth_fractions, phase_map_truth, score_phase_map

    mic = _microscope(s)
    t0 = time.perf_counter()
    model = HRTEMModel.from_stack(
        stack, mic, lateral_nm=s["lateral_nm"], thickness_nm=s["thickness_nm"],
        depth_range_nm=s.get("depth_range_nm"), seed=int(s["seed"]), sampling=s["sampling_A"],
        slice_thickness=s["slice_thickness_A"], frozen_phonons=int(s.get("frozen_phonons", 0)), device=device,
        max_memory_gb=float(s.get("max_memory_gb", 8.0)), progress_bar=progress)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    image = model.image(noise=noise, seed=int(s["seed"]))
    t_image = time.perf_counter() - t0
    # drop the vacuum below the lamella's cut from what is analysed and shown
    depth = model.atoms.cell[1, 1] / 10.0 - float(model.atoms.info.get("vacuum_nm", 0.0))
    keep = image.axis("y") < model.depth_offset_nm + depth
    from interphase_sim.core.measurement import Axis, Measurement

    image = Measurement(values=np.asarray(image.values)[keep],
                        axes=[Axis("y", "nm", image.axis("y")[keep]), image.axes[1]],
                        metadata=image.metadata, quantity=image.quantity)
    # candidates: the crystalline phases of the stack; spacings the aperture passes, weighted
    # by their electron intensity
    crystals = [n for n, ph in stack.phases.items() if not ph.amorphous]
    d_min = max(1.2, 1.05 * wavelength_A(mic.energy_eV) / (mic.aperture_mrad * 1e-3))
    cands = candidate_reflections(crystals, d_min_A=d_min, min_intensity=s["min_intensity"])
    result = {"model": model, "image": image, "phase_map": None, "candidates": cands, "fractions": None,
              "stack_fractions": None, "microscope": mic, "seconds_build": t_build, "seconds_image": t_image,
              "score": None, "d_min_A": d_min}
    if not cands:  # nothing crystalline shows fringes at this resolution (e.g. LiPON alone)
        return result
    pm = phase_map(image, candidates=cands, window_nm=s["window_nm"], step_nm=s["step_nm"],
                   tolerance=s["tolerance"], min_peaks=int(s["min_peaks"]),
                   min_probability=s["min_probability"])
    labelled = sorted({str(v) for v in np.asarray(pm["labels"]).ravel() if v})
    bin_nm = 2.0 * float(s["window_nm"])
    fractions = phase_map_depth_fractions(pm, sorted(cands), bin_nm=bin_nm) if labelled else None
    stack_fr = StackPhaseFractions(stack, window_nm=bin_nm).expected(fractions) if labelled else None
    # the image is simulated, so the truth under every window is known: score the map
    truth = phase_map_truth(pm, model.atoms, s["window_nm"], model.depth_offset_nm)
    score = score_phase_map(pm, truth, amorphous=[n for n, ph in stack.phases.items() if ph.amorphous])
    result.update(phase_map=pm, fractions=fractions, stack_fractions=stack_fr, score=score)
    return result


def write_outputs(res: dict[str, Any], stack: Any, out: Path, prefix: str = "") -> list[Path]:
    """image.tiff, image.png, diffractogram.png, and phase_map.png and .csv when there is a map."""
    from interphase_sim.core.fileio import atomic_savefig, atomic_write_text, write_tiff
    from interphase_sim.hrtem.analysis import wavelength_A
    from interphase_sim.plotting.common import pyplot_module
    from interphase_sim.plotting.hrtem import plot_diffractogram, plot_hrtem_image, plot_phase_map

    img, pm, mic = res["image"], res["phase_map"], res["microscope"]
    pixel_nm = float(img.axis("x")[1] - img.axis("x")[0])
    paths = [out / f"{prefix}image.tiff", out / f"{prefix}image.png", out / f"{prefix}diffractogram.png",
             out / f"{prefix}phase_map.png", out / f"{prefix}phase_map.csv"]
    write_tiff(paths[0], img.values, pixel_nm, description=f"interphase_sim HRTEM {stack.name}; depth from "
               f"{img.axis('y')[0]:.3f} nm; defocus {mic.defocus_A:.1f} A; {mic.energy_eV / 1e3:g} kV")
    plt = pyplot_module()
    interfaces = stack.interfaces_nm()
    title = (f"{stack.name}\n{mic.energy_eV / 1e3:g} kV, defocus {mic.defocus_A / 10:.1f} nm, "
             f"t = {res['model'].thicknesses_nm()[-1]:.1f} nm")
    h = img.values.shape[0] / img.values.shape[1]
    fig, ax = plt.subplots(figsize=(4.5, min(4.5 * h, 14) + 1.0))
    plot_hrtem_image(img, ax=ax, interfaces_nm=interfaces, title=title)
    fig.tight_layout()
    atomic_savefig(fig, paths[1], dpi=150)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    plot_diffractogram(img, ax=ax, k_max=1.2 * mic.aperture_mrad * 1e-3 / wavelength_A(mic.energy_eV))
    fig.tight_layout()
    atomic_savefig(fig, paths[2], dpi=110)
    plt.close(fig)
    if pm is None:
        return paths[:3]
    fig = plt.figure(figsize=(9, min(4.5 * h, 14) + 1.0))
    plot_phase_map(img, pm, res["fractions"], res["stack_fractions"], fig=fig, title="phase map")
    atomic_savefig(fig, paths[3], dpi=120)
    plt.close(fig)
    # the label and its probability, then every candidate's probability (1 - their sum:
    # none of them)
    rows = [",".join(["depth_nm", "lateral_nm", "phase", "probability", *(f"p_{n}" for n in pm["phase_names"])])]
    for i, y in enumerate(pm["y_nm"]):
        for j, x in enumerate(pm["x_nm"]):
            each = ",".join(f"{v:.4f}" for v in pm["probability"][i, j])
            rows.append(f"{y:.4f},{x:.4f},{pm['labels'][i, j]},{pm['confidence'][i, j]:.4f},{each}")
    atomic_write_text(paths[4], "\n".join(rows) + "\n")
    return paths


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """What the run did, for the settings JSON and the console."""
    model, pm = res["model"], res["phase_map"]
    labels = np.asarray([] if pm is None else pm["labels"], dtype=object)
    counts = {n: int((labels == n).sum()) for n in sorted({str(v) for v in labels.ravel() if v})}
    return {"atoms": len(model.atoms), "grid": list(model.gpts), "slices": model.n_slices,
            "thickness_nm": float(model.thicknesses_nm()[-1]), "defocus_A": res["microscope"].defocus_A,
            "aperture_mrad": res["microscope"].aperture_mrad, "windows": int(labels.size),
            "labelled_windows": counts, "candidates_A": res["candidates"], "phase_map_score": res["score"],
            "seconds_build": res["seconds_build"], "seconds_image": res["seconds_image"]}


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def score_text(sc: dict[str, Any] | None) -> str:
    """The phase-map score in words (n/a where the image has no such windows)."""
    if sc is None:
        return "none made (no crystalline phase to look for)"
    return (f"{_pct(sc['precision'])} of labels name a phase present under the window (shuffled labels: "
            f"{_pct(sc['chance'])}); labelled {_pct(sc['crystalline_rate'])} of crystalline and "
            f"{_pct(sc['amorphous_rate'])} of amorphous windows")


def run(args: argparse.Namespace) -> int:
    """The ``simulate hrtem`` command."""
    from interphase_sim.core.fileio import atomic_write_text
    from interphase_sim.sample import shipped as samples

    stack = samples.read(args.sample)
    s = settings(stack, args)
    res = simulate(stack, s, noise=args.noise, device=args.device, progress=not args.no_progress)
    out = Path(args.out)
    paths = write_outputs(res, stack, out)
    info = summary(res)
    atomic_write_text(out / "hrtem_settings.json", json.dumps(
        {"sample": str(args.sample), "noise": bool(args.noise), "device": res["model"].device,
         **{k: v for k, v in s.items()}, **info}, indent=2, default=str))
    print(f"{info['atoms']:,} atoms, grid {info['grid'][0]} x {info['grid'][1]}, {info['slices']} slices: "
          f"built in {info['seconds_build']:.1f} s, imaged in {info['seconds_image']:.1f} s")
    found = ", ".join(f"{n} {c}" for n, c in info["labelled_windows"].items()) or "none"
    if res["phase_map"] is None:
        print(f"phase map: none (no crystalline phase of the stack has spacings above {res['d_min_A']:.2f} Å)")
    else:
        print(f"phase map: {info['windows']} windows; labelled: {found}")
        print(f"  against the model's truth: {score_text(info['phase_map_score'])}")
    print("wrote " + ", ".join(str(p) for p in [*paths, out / "hrtem_settings.json"]))
    return 0
