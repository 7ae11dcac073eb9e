"""``interphase-sim simulate hrtem``: a cross-section image of a sample and its analysis.

Kept apart from :mod:`interphase_sim.cli.main` so the main CLI module stays short; the
argument parser there calls :func:`add_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (as --quiet)")


def settings(stack: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings: defaults < the sample's [hrtem] table < command-line flags, each
    checked by the one [hrtem] vocabulary (a flag's error names the flag), and the phase-map
    window against the image, before anything is built."""
    from interphase_sim.core.settings import HRTEM
    from interphase_sim.hrtem.model import microscope_from_settings, resolve_hrtem_settings
    from interphase_sim.hrtem.workflow import check_phase_map_window

    values = {"lateral_nm": args.lateral_nm, "thickness_nm": args.thickness_nm, "sampling_A": args.sampling_A,
              "defocus_A": args.defocus_A, "dose_e_per_A2": args.dose,
              "depth_range_nm": None if args.depth_range_nm is None else list(args.depth_range_nm),
              "seed": args.seed}
    flags = {k: HRTEM[k].read(v, f"{FLAGS[k]} ([hrtem] {k})") for k, v in values.items() if v is not None}
    s = resolve_hrtem_settings(stack, flags)
    check_phase_map_window(s, "--lateral-nm" if "lateral_nm" in flags else "hrtem.window_nm")
    microscope_from_settings(s)  # microscope fields (mtf, Cs, ...) fail here, before anything is built
    return s


def write_outputs(run: Any, stack: Any, place: Callable[[str], Path], prefix: str = "") -> list[Path]:
    """image.tiff, image.png, diffractogram.png, and phase_map.png and .csv when there is a
    map, each where ``place(name)`` says (a run's staging folder)."""
    from interphase_sim.core.fileio import atomic_write_text, write_tiff

    img, pm, mic = run.image, run.phase_map, run.microscope
    pixel_nm = float(img.axis("lateral")[1] - img.axis("lateral")[0])
    names = ["image.tiff", "image.png", "diffractogram.png"] + ([] if pm is None else ["phase_map.png", "phase_map.csv"])
    paths = [place(f"{prefix}{n}") for n in names] + [None] * (5 - len(names))
    write_tiff(paths[0], img.values, pixel_nm, description=f"interphase_sim HRTEM {stack.name}; depth from "
               f"{img.axis('depth')[0]:.3f} nm; defocus {mic.defocus_A:.1f} A; {mic.energy_eV / 1e3:g} kV",
               origin_nm=(float(img.axis("depth")[0]), 0.0))
    _write_figures(run, stack, paths[1:4])
    if pm is None:
        return paths[:3]
    # the label and its probability, then every candidate's probability (1 - their sum:
    # none of them)
    rows = [",".join(["depth_nm", "lateral_nm", "phase", "probability", *(f"p_{n}" for n in pm.phase_names)])]
    for i, y in enumerate(pm.depth_nm):
        for j, x in enumerate(pm.lateral_nm):
            each = ",".join(f"{v:.4f}" for v in pm.probability[i, j])
            rows.append(f"{y:.4f},{x:.4f},{pm.labels[i, j]},{pm.confidence[i, j]:.4f},{each}")
    atomic_write_text(paths[4], "\n".join(rows) + "\n")
    return paths


def _write_figures(run: Any, stack: Any, paths: list[Path]) -> None:
    """The image, its diffractogram and (with a map) the phase map, as PNGs at ``paths``."""
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.hrtem.analysis import wavelength_A
    from interphase_sim.plotting.common import pyplot_module
    from interphase_sim.plotting.hrtem import plot_diffractogram, plot_hrtem_image, plot_phase_map

    img, mic = run.image, run.microscope
    plt = pyplot_module()
    title = (f"{stack.name}\n{mic.energy_eV / 1e3:g} kV, defocus {mic.defocus_A / 10:.1f} nm, "
             f"t = {run.model.thicknesses_nm()[-1]:.1f} nm")
    h = img.values.shape[0] / img.values.shape[1]
    fig, ax = plt.subplots(figsize=(4.5, min(4.5 * h, 14) + 1.0))
    plot_hrtem_image(img, ax=ax, interfaces_nm=stack.interfaces_nm(), title=title)
    fig.tight_layout()
    atomic_savefig(fig, paths[0], dpi=150)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    plot_diffractogram(img, ax=ax, k_max=1.2 * mic.aperture_mrad * 1e-3 / wavelength_A(mic.energy_eV))
    fig.tight_layout()
    atomic_savefig(fig, paths[1], dpi=110)
    plt.close(fig)
    if run.phase_map is not None:
        fig = plt.figure(figsize=(9, min(4.5 * h, 14) + 1.0))
        plot_phase_map(img, run.phase_map, run.depth_fractions, run.stack_fractions, fig=fig, title="phase map")
        atomic_savefig(fig, paths[2], dpi=120)
        plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """The ``simulate hrtem`` command."""
    from interphase_sim.core.fileio import atomic_write_text
    from interphase_sim.cli.flags import read_sample

    from interphase_sim.hrtem.workflow import run_hrtem

    from interphase_sim.cli.main import _wrote, open_output

    from interphase_sim.cli.resources import check, estimate_hrtem
    from interphase_sim.core.progress import shown

    stack = read_sample(args.sample)
    s = settings(stack, args)
    check(estimate_hrtem(stack, s), args)
    output = open_output(args, stack)
    run_ = run_hrtem(stack, s, noise=args.noise, device=args.device, progress=shown(args.quiet or args.no_progress))
    info = run_.summary()
    with output:
        write_outputs(run_, stack, output.path)
        atomic_write_text(output.path("hrtem_settings.json"), json.dumps(
            {"sample": str(args.sample), "noise": bool(args.noise), "device": run_.model.device,
             **run_.settings, **info}, indent=2, default=str))
    print(f"{info['atoms']:,} atoms, grid {info['grid'][0]} x {info['grid'][1]}, {info['slices']} slices: "
          f"built in {info['seconds_build']:.1f} s, imaged in {info['seconds_image']:.1f} s")
    found = ", ".join(f"{n} {c}" for n, c in info["labelled_windows"].items()) or "none"
    if run_.phase_map is None:
        print(f"phase map: none (no crystalline phase of the stack has spacings above {run_.d_min_A:.2f} Å)")
    else:
        print(f"phase map: {info['windows']} windows; labelled: {found}")
        print(f"  against the model's truth: {run_.score_text()}")
    print(_wrote(output))
    return 0
