"""The ``interphase-sim`` command line."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from interphase_sim.cli import hrtem as cli_hrtem
from interphase_sim.cli.demo import cmd_demo
from interphase_sim.cli.resources import add_limit_arguments
from interphase_sim.core.progress import shown
from interphase_sim.core.errors import InterphaseInputError

__all__ = ["main"]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``interphase-sim simulate: error: ... (see --help)``, status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars (they are drawn only on a terminal anyway)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bars (none are drawn into a log file)")


def seed_arg(text: str) -> int:
    """A ``--seed`` value: an integer from 0 to 2**63 - 1 (numpy's SeedSequence takes no negatives)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**63 - 1, got {value}")
    return value


def _check_seed_needs_noise(args: argparse.Namespace) -> None:
    """``--seed`` draws the noise of ``simulate ndp|eels``: without ``--noise`` it would do
    nothing. Noise without a seed gets one drawn, recorded in the settings and run.json."""
    if args.seed is not None and not args.noise:
        raise InterphaseInputError("--seed", "only draws the noise: add --noise (the expected counts need no seed)")
    if args.noise and args.seed is None:
        import numpy as np

        args.seed = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])


def _cmd_phases(args: argparse.Namespace) -> int:
    from interphase_sim.sample import phases

    rows = [("name", "formula", "g/cm3", "space group", "kind", "source")]
    for name in phases.names():
        ph = phases.get(name)
        src = (ph.source or "").split(";")[0]
        if not args.sources and len(src) > 60:
            src = src[:57] + "..."
        rows.append((
            name,
            ph.formula,
            f"{ph.density:.3f}",
            ph.spacegroup or "-",
            "amorphous (density is a parameter)" if ph.amorphous else "crystal",
            src,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1])
    return 0


def _cmd_simulate_ndp(args: argparse.Namespace) -> int:
    import json

    from interphase_sim.core.fileio import atomic_savefig, atomic_write_text
    from interphase_sim.ndp.model import NDPModel
    from interphase_sim.plotting.common import pyplot_module, plot_ndp_spectrum
    from interphase_sim.cli.flags import read_sample

    from interphase_sim.cli.resources import check, estimate_ndp

    _check_seed_needs_noise(args)
    stack = read_sample(args.sample)
    check(estimate_ndp(stack), args)
    model = NDPModel.from_stack(stack)
    run = open_output(args, stack)
    meas = model.simulate(noise=args.noise, seed=args.seed)
    energy, comps = model.simulate_components()
    depth_part = next((p.name for p in model.particles if p.name == "alpha"), model.particles[0].name)
    depth_map = model.energy_depth_map(depth_part)
    plt = pyplot_module()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    plot_ndp_spectrum(energy, comps, total=meas.values, depth_map=depth_map, depth_label=depth_part, ax=ax,
                      title=f"NDP: {stack.name or args.sample}")
    fig.tight_layout()
    settings = {"sample": str(args.sample), "stack": stack.name, **model.settings(),
                "noise": args.noise, "seed": args.seed,
                "total_counts": float(meas.values.sum()),
                "counts_per_particle": {k: float(v.sum()) for k, v in comps.items()}}
    with run:
        meas.to_csv(run.path("spectrum.csv"))
        atomic_savefig(fig, run.path("ndp_spectrum.png"), dpi=110)
        plt.close(fig)
        atomic_write_text(run.path("ndp_settings.json"), json.dumps(settings, indent=2))
    for k, v in comps.items():
        print(f"{k:12s} {v.sum():12.4g} counts")
    print(_wrote(run))
    return 0


def _cmd_ndp_depth(args: argparse.Namespace) -> int:
    from interphase_sim.core.fileio import atomic_savefig, atomic_write_text
    from interphase_sim.ndp.io import load_spectrum_csv
    from interphase_sim.ndp import NDPModel, spectrum_to_depth
    from interphase_sim.plotting.common import pyplot_module, plot_depth_estimate
    from interphase_sim.cli.flags import read_sample

    from interphase_sim.cli.flags import depth_flags, for_the_command_line

    flags = depth_flags(args)
    try:
        meas = load_spectrum_csv(args.spectrum, gain_keV=args.gain_keV, offset_keV=args.offset_keV)
    except InterphaseInputError as exc:
        raise for_the_command_line(exc, {"ndp": ("--gain-keV", "give --gain-keV (keV per channel) and "
                                                 "--offset-keV, or '# gain_keV = ...' and '# offset_keV = ...' "
                                                 "lines at the top of the file")}) from None
    kw: dict[str, Any] = {}
    if args.settings:
        kw["model"] = NDPModel.from_stack(read_sample(args.settings, "--settings"))
    else:
        kw.update(flags)
    run = open_output(args)
    res = spectrum_to_depth(meas, args.matrix, args.particle, species=args.species,
                            li6_abundance=args.li6_abundance, **kw)
    plt = pyplot_module()
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_depth_estimate(res, ax=ax)
    ax.set_title(f"{args.particle} in {args.matrix}: {Path(args.spectrum).name}", fontsize=10)
    fig.tight_layout()
    with run:
        res.to_csv(run.path("depth_profile.csv"))
        atomic_savefig(fig, run.path("depth_profile.png"), dpi=110)
        plt.close(fig)
        atomic_write_text(run.path("depth_profile.json"), res.metadata_json())
    print(f"{res.values.size} depths from {res.axis('depth')[0]:.1f} to {res.axis('depth')[-1]:.1f} nm")
    print(_wrote(run))
    return 0


def _write_hspy(meas, path: Path) -> bool:
    """Write a line scan in HyperSpy's own format (.hspy) through exspy; False without it."""
    from interphase_sim.core.fileio import atomic_path

    try:
        from interphase_sim.eels.model import to_hyperspy

        sig = to_hyperspy(meas)
    except ImportError:
        return False
    with atomic_path(path) as tmp:
        target = Path(str(tmp) + ".hspy")  # HyperSpy picks the format from the suffix
        sig.save(target, overwrite=True)
        target.replace(tmp)
    return True


def _cmd_simulate_eels(args: argparse.Namespace) -> int:
    import io
    import json

    from interphase_sim.eels.model import EELSModel
    from interphase_sim.eels.analysis import quantifiable_edges, quantification_warnings, quantify_line_scan
    from interphase_sim.core.fileio import atomic_savefig, atomic_write_text
    from interphase_sim.plotting.common import pyplot_module, plot_eels_linescan
    from interphase_sim.cli.flags import read_sample

    from interphase_sim.cli.resources import check, estimate_eels

    _check_seed_needs_noise(args)
    stack = read_sample(args.sample)
    check(estimate_eels(stack), args)
    model = EELSModel.from_stack(stack)
    run = open_output(args, stack)
    scan = model.simulate(noise=args.noise, seed=args.seed)
    z = scan.axis("depth")
    energy = scan.axis("energy")
    windows, left = quantifiable_edges(energy, model.edges, window_eV=40.0)
    quantifiable = list(windows)
    # plural scattering removed (Fourier ratio with the model's low-loss) before edge integration
    quant = (quantify_line_scan(model.deconvolve(scan), quantifiable, window_eV=40.0, pre_edge_eV=windows)
             if quantifiable else None)
    notes = [] if quant is None or not args.noise else quantification_warnings(quant)
    truth = model.elemental_profiles(z)
    plt = pyplot_module()
    fig = plot_eels_linescan(scan, quant, truth)
    buf = io.StringIO()
    buf.write("position_nm," + ",".join(f"{x:.4f}" for x in energy) + "\n")
    for zi, row in zip(z, scan.values):
        buf.write(f"{zi:.6g}," + ",".join(f"{v:.6g}" for v in row) + "\n")
    with run:
        atomic_write_text(run.path("linescan.csv"), buf.getvalue())
        wrote_hspy = _write_hspy(scan, run.path("linescan.hspy"))
        if not wrote_hspy:
            run.names.remove("linescan.hspy")
        atomic_savefig(fig, run.path("eels_linescan.png"), dpi=110)
        plt.close(fig)
        atomic_write_text(run.path("eels_settings.json"), json.dumps(
            {"sample": str(args.sample), **model.settings(), "noise": args.noise, "seed": args.seed,
             "positions_nm": [float(z[0]), float(z[-1]), int(z.size)]}, indent=2))
    print(f"{z.size} positions x {energy.size} channels ({energy[0]:g}-{energy[-1]:g} eV); edges "
          f"{', '.join(model.edges)}; {model.electrons():.3g} electrons per spectrum")
    print(f"quantified: {', '.join(quantifiable) or 'none'}" + "".join(
        f"; not {e}: {why} (change [eels] offset_eV, dispersion_eV or channels)" for e, why in left.items()))
    for note in notes:
        print(f"warning: {note}")
    print(_wrote(run))
    if not wrote_hspy:
        print("(for a HyperSpy .hspy file as well: pip install 'interphase_sim[eels]')")
    return 0


BUILD_FLAGS = {"lateral_nm": "--lateral-nm", "depth_range_nm": "--depth-range-nm", "max_depth_nm": "--max-depth-nm",
               "semi_infinite_nm": "--semi-infinite-nm", "max_atoms": "--max-atoms", "seed": "--seed"}


def _cmd_build(args: argparse.Namespace) -> int:
    import json

    from interphase_sim.build import write_structure
    from interphase_sim.build.workflow import run_build
    from interphase_sim.core.fileio import atomic_savefig, atomic_write_text
    from interphase_sim.core.settings import BUILD
    from interphase_sim.plotting.common import pyplot_module, plot_model_slice
    from interphase_sim.cli.flags import read_sample

    stack = read_sample(args.sample)
    flags = {k: getattr(args, k) for k in BUILD_FLAGS}
    flags = {k: BUILD[k].read(list(v) if isinstance(v, (list, tuple)) else v, f"{BUILD_FLAGS[k]} ([build] {k})")
             for k, v in flags.items() if v is not None}
    from interphase_sim.build.workflow import build_settings
    from interphase_sim.cli.resources import check, estimate_build

    from interphase_sim.build import check_formats

    cost = estimate_build(stack, build_settings(stack, flags))
    check(cost, args)
    check_formats(args.formats, cost.atoms)  # a format that cannot serve a model this big: before building
    output = open_output(args, stack)
    try:
        run = run_build(stack, flags, progress=shown(args.quiet))
    except InterphaseInputError as exc:  # a [build] key given as a flag: name the flag
        key = exc.field.removeprefix("build.").split(".")[0]
        if not exc.field.startswith("build.") or key not in flags:
            raise
        raise InterphaseInputError(f"{BUILD_FLAGS[key]} ([build] {key})", exc.problem) from None
    atoms = run.atoms
    plt = pyplot_module()
    fig = plot_model_slice(atoms, stack)
    output.seed = run.settings.get("seed")
    with output:
        for fmt in args.formats:
            name = {"extxyz": "model.extxyz", "cif": "model.cif", "lammps": "model.lammps-data"}[fmt]
            write_structure(atoms, output.path(name), format={"lammps": "lammps-data"}.get(fmt, fmt))
        atomic_savefig(fig, output.path("model_slice.png"), dpi=120)
        plt.close(fig)
        atomic_write_text(output.path("model.json"), json.dumps({"sample": str(args.sample), **run.summary()},
                                                                indent=2, default=str))
    print(f"{len(atoms):,} atoms in {run.build_s:.1f} s ({len(atoms) / max(run.build_s, 1e-9):,.0f} atoms/s); "
          f"cell {' x '.join(f'{x / 10:.1f}' for x in atoms.cell.lengths())} nm")
    for name, n, comp in run.layer_compositions():
        print(f"  {name:10s} {n:8d} atoms: {' '.join(f'{e}{c}' for e, c in comp.items())}")
    print(_wrote(output))
    return 0


def _fit_data(items: list[str] | None) -> dict[str, list[str]] | None:
    """``--data KIND=PATH`` (repeatable) as ``{kind: [paths]}``; None when not given."""
    from interphase_sim.jointfit import DATA_KINDS

    if not items:
        return None
    data: dict[str, list[str]] = {}
    for item in items:
        kind, sep, path = item.partition("=")
        if not sep or not path:
            raise InterphaseInputError("--data", f"expected KIND=PATH (e.g. ndp=spectrum.csv), got {item!r}")
        if kind not in DATA_KINDS:
            raise InterphaseInputError("--data", f"unknown data kind {kind!r}; available: {', '.join(DATA_KINDS)}")
        data.setdefault(kind, []).append(path)
    return data


#: What a data file of ``fit`` lacks, and how to give it on the command line or in the sample file.
_FIT_CALIBRATION = {
    "ndp": ("--gain-keV", "give --gain-keV and --offset-keV, or write {table} in the sample file"),
    "eels": ("fit.calibration.eels", "write {table} in the sample file"),
    "hrtem": ("fit.calibration.hrtem", "write {table} in the sample file"),
}


def _cmd_fit(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from interphase_sim.core.fileio import atomic_savefig, atomic_write_text
    from interphase_sim.jointfit import joint_fit
    from interphase_sim.plotting.common import pyplot_module
    from interphase_sim.cli.flags import read_sample

    from interphase_sim.cli.flags import fit_flags, for_the_command_line, ndp_calibration

    stack = read_sample(args.sample)
    data = _fit_data(args.data)
    flags = fit_flags(args)
    given = ndp_calibration(args)
    table = dict(stack.sections.get("fit", {}).get("calibration") or {})  # the flags add to it
    calibration = {**table, "ndp": {**dict(table.get("ndp", {})), **given}}
    flags.update(sample=args.posterior or None, calibration=calibration if given else None)
    base = None if data is not None else _sample_folder(args.sample)
    output = open_output(args, stack)
    try:
        run = joint_fit(stack, data, base_dir=base, progress=shown(args.quiet), **flags)
    except InterphaseInputError as exc:
        raise for_the_command_line(exc, _FIT_CALIBRATION) from None
    plt = pyplot_module()
    fig = run.result.plot()
    fig.suptitle(f"fit: {stack.name or args.sample}", fontsize=10)
    doc = {"sample": str(args.sample), **run.to_dict()}
    text = run.report()
    with output:
        atomic_write_text(output.path("result.json"), json.dumps(doc, indent=2))
        atomic_write_text(output.path("report.txt"), text + "\n")
        atomic_savefig(fig, output.path("fit.png"), dpi=110)
        plt.close(fig)
        if run.posterior is not None:
            corner = run.posterior.corner()
            atomic_savefig(corner, output.path("corner.png"), dpi=100)
            plt.close(corner)
            np.savez_compressed(output.path("chain.npz"), chain=run.posterior.chain,
                                log_prob=run.posterior.log_prob, names=np.array(run.posterior.names))
    print(text)
    for w in run.warnings:
        print(f"warning: {w}")
    print(_wrote(output))
    return 0


def open_output(args: argparse.Namespace, stack: Any = None) -> Any:
    """The run's output folder (:class:`interphase_sim.core.outdir.RunOutput`), checked
    writable before any work; its files appear, with ``run.json``, when the run ends well."""
    from interphase_sim.core.outdir import RunOutput

    text = None if stack is None else stack.to_toml_string()
    return RunOutput(args.out, getattr(args, "argv", sys.argv[1:]), text, getattr(args, "seed", None))


def _wrote(run: Any) -> str:
    """``wrote a, b, c`` (the final paths of a finished run)."""
    return "wrote " + ", ".join(str(run.final(n)) for n in run.names) + f" (and {run.final('run.json').name})"


def _sample_folder(sample: str) -> Path | None:
    """The folder of a sample file (relative [fit] data paths start there); None for a shipped name."""
    path = Path(sample)
    return path.parent if path.suffix == ".toml" or path.exists() else None


def _add_simulate_arguments(parser: argparse.ArgumentParser, table: str) -> None:
    """The arguments every ``simulate`` subcommand shares; ``table`` names its settings table."""
    parser.add_argument("sample", help=(f"sample file (TOML) with [[layers]] and an optional [{table}] table, "
                                        "or a shipped sample's name (li_sei_lipon, lnmo_lipon)"))
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--noise", action="store_true", help="draw Poisson counts instead of the expectation")
    parser.add_argument("--seed", type=seed_arg, default=None,
                        help="random seed of the noise (with --noise; for hrtem also the lamella's structure)")
    add_limit_arguments(parser)
    add_quiet(parser)


def _add_simulate_parsers(sub: Any) -> None:
    """``simulate ndp|eels|hrtem``."""
    ss = sub.add_parser("simulate", help="simulate what an instrument would record",
                        description="Simulate what an instrument records on a sample file's stack.")
    ssub = ss.add_subparsers(dest="instrument", metavar="INSTRUMENT")
    ssub.required = True
    sn = ssub.add_parser(
        "ndp", help="neutron depth profiling spectrum",
        description=("Expected NDP spectrum of the stack in SAMPLE.toml with its [ndp] settings; writes "
                     "spectrum.csv (energy_keV,counts), ndp_spectrum.png and ndp_settings.json to --out."),
    )
    _add_simulate_arguments(sn, "ndp")
    sn.set_defaults(func=_cmd_simulate_ndp)
    se = ssub.add_parser(
        "eels", help="STEM-EELS line scan across the stack",
        description=("Core-loss STEM-EELS line scan of the stack in SAMPLE.toml with its [eels] settings; writes "
                     "linescan.csv (and linescan.hspy for HyperSpy when exspy is installed), eels_linescan.png "
                     "(spectrum image and elemental profiles) and eels_settings.json to --out."),
    )
    _add_simulate_arguments(se, "eels")
    se.set_defaults(func=_cmd_simulate_eels)
    sh = ssub.add_parser(
        "hrtem", help="cross-section HRTEM image (abTEM multislice) with its phase map",
        description=("Build a cross-section lamella of the stack in SAMPLE.toml (its [hrtem] table, else "
                     "defaults), image it with abTEM at the microscope settings, and map the crystalline phases "
                     "by local FFT; writes image.tiff (float32, pixel size in nm), image.png (scale bar), "
                     "diffractogram.png and hrtem_settings.json to --out, and, when the stack has a "
                     "crystalline phase, phase_map.png (with fractions along depth against the stack's) and "
                     "phase_map.csv."),
    )
    _add_simulate_arguments(sh, "hrtem")
    cli_hrtem.add_arguments(sh)
    sh.set_defaults(func=cli_hrtem.run)


def _add_ndp_depth_parser(sub: Any) -> None:
    """``ndp-depth``."""
    nd = sub.add_parser(
        "ndp-depth", help="convert an NDP spectrum to a depth profile (classical analysis)",
        description=("Convert an NDP spectrum (CSV: energy_keV,counts or channel,counts) to 6Li (or Li) density "
                     "versus depth through the stopping of one matrix; writes depth_profile.csv/.png/.json."),
    )
    nd.add_argument("spectrum", help="CSV with energy_keV,counts (or channel,counts with --gain-keV)")
    nd.add_argument("--matrix", required=True, help="phase all depth is assumed to be (e.g. LiPON)")
    nd.add_argument("--out", required=True, help="output folder")
    nd.add_argument("--particle", default="alpha", help="alpha, triton or boron-alpha (default alpha)")
    nd.add_argument("--settings", help="sample file whose [ndp] table gives geometry, dead layers and scale")
    nd.add_argument("--gain-keV", type=float, default=None, help="keV per channel for a channel column")
    nd.add_argument("--offset-keV", type=float, default=0.0, help="energy of channel 0 (keV)")
    nd.add_argument("--detector-angle-deg", type=float, default=0.0)
    nd.add_argument("--acceptance-half-angle-deg", type=float, default=3.0)
    nd.add_argument("--dead-layer", nargs=2, action="append", default=[], metavar=("MATERIAL", "THICKNESS_NM"),
                    help="a detector dead layer (repeatable)")
    nd.add_argument("--fluence", type=float, default=1e12, help="neutrons/cm2 over the live time")
    nd.add_argument("--area-cm2", type=float, default=1.0)
    nd.add_argument("--background", type=float, default=0.0, help="counts per channel to subtract")
    nd.add_argument("--cutoff-keV", type=float, default=100.0, help="lowest energy converted (keV)")
    nd.add_argument("--species", default=None, help="6Li (default), Li (needs --li6-abundance) or 10B")
    nd.add_argument("--li6-abundance", type=float, default=None)
    nd.set_defaults(func=_cmd_ndp_depth)


def _add_build_parser(sub: Any) -> None:
    """``build``."""
    bd = sub.add_parser(
        "build", help="build the stack as an atomistic model (ASE)",
        description=("Build the stack in SAMPLE.toml (and its optional [build] table) as one atomistic model: "
                     "crystals, amorphous LiPON and nanocrystalline mosaics with rough interfaces; writes "
                     "model.extxyz (per-atom layer/phase/grain arrays) and the chosen formats, a PNG slice "
                     "coloured by phase, and model.json."),
    )
    bd.add_argument("sample", help="sample file (TOML), or a shipped sample's name")
    bd.add_argument("--out", required=True, help="output folder")
    bd.add_argument("--lateral-nm", type=float, nargs=2, default=None, metavar=("X", "Y"),
                    help="lateral box (nm); default from [build] or 10 10")
    bd.add_argument("--depth-range-nm", type=float, nargs=2, default=None, metavar=("START", "STOP"),
                    help="build only this depth window (nm)")
    bd.add_argument("--max-depth-nm", type=float, default=None, help="cut the model at this depth (nm)")
    bd.add_argument("--semi-infinite-nm", type=float, default=None,
                    help="how deep to build a semi-infinite last layer (nm; default [build] semi_infinite_nm, else 5)")
    bd.add_argument("--max-atoms", type=int, default=None,
                    help="refuse models estimated above this many atoms (default [build] max_atoms, else 5,000,000)")
    bd.add_argument("--seed", type=seed_arg, default=None,
                    help="seed of the structure (grains, amorphous packing); default [build] seed, else one is "
                         "drawn and recorded in model.json and run.json")
    add_limit_arguments(bd)
    add_quiet(bd)
    bd.add_argument("--formats", nargs="+", default=["extxyz"], choices=["extxyz", "cif", "lammps"],
                    help="files to write: extxyz (with the per-atom layer/phase/grain arrays) and lammps load at "
                         "any size; cif only up to 1,000 atoms (its readers slow down as the square of the atoms)")
    bd.set_defaults(func=_cmd_build)


def _add_fit_parser(sub: Any) -> None:
    """``fit``."""
    ft = sub.add_parser(
        "fit", help="fit a sample's free parameters to measured data",
        description=("Fit the parameters marked vary = true (with min and max) in SAMPLE.toml, and in its "
                     "instrument tables, to measured data; writes result.json, report.txt and fit.png "
                     "(and corner.png with --posterior) to --out."),
    )
    ft.add_argument("sample", help="sample file (TOML), or a shipped sample's name")
    ft.add_argument("--data", action="append", default=None, metavar="KIND=PATH",
                    help="measured data, e.g. ndp=spectrum.csv, eels=scan.hspy, hrtem=image.tif (repeatable; "
                         "fitted jointly); default the sample's [fit] data")
    ft.add_argument("--out", required=True, help="output folder")
    ft.add_argument("--method", default=None, choices=["least_squares", "differential_evolution", "lbfgsb"],
                    help="optimizer: least_squares (trust-region, the default: fast, local), "
                         "differential_evolution (global, within the parameters' min and max; slow), "
                         "lbfgsb (quasi-Newton on the log-posterior); default the [fit] table's method")
    ft.add_argument("--posterior", "--mcmc", dest="posterior", action="store_true",
                    help="also sample the posterior with emcee (credible intervals, corner.png, chain.npz)")
    ft.add_argument("--nwalkers", type=int, default=None,
                    help="emcee walkers, at least twice the free parameters (default [fit] nwalkers, else 32)")
    ft.add_argument("--nsteps", type=int, default=None,
                    help="emcee steps per walker, ideally over 50 autocorrelation times (default [fit] nsteps, "
                         "else 2000)")
    ft.add_argument("--seed", type=seed_arg, default=None,
                    help="random seed of emcee's walkers and of differential evolution")
    ft.add_argument("--energy-min-keV", type=float, default=None, help="fit only NDP channels above this energy")
    ft.add_argument("--energy-max-keV", type=float, default=None, help="fit only NDP channels below this energy")
    ft.add_argument("--gain-keV", type=float, default=None, help="keV per channel for an NDP channel column")
    ft.add_argument("--offset-keV", type=float, default=None, help="energy of NDP channel 0 (keV)")
    add_quiet(ft)
    ft.set_defaults(func=_cmd_fit)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from interphase_sim import __version__

    p = Parser(
        prog="interphase-sim",
        description="Models of solid-state-battery interphases, and what HRTEM, EELS and NDP would measure on them.",
    )
    p.add_argument("--version", action="version", version=f"interphase_sim {__version__}")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an error or interrupt")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sp = sub.add_parser("phases", help="list the built-in phase library", description="List the built-in phases: formula, density (g/cm3, from the crystal structure), space group, source.")
    sp.add_argument("--sources", action="store_true", help="print full literature sources")
    sp.set_defaults(func=_cmd_phases)
    sd = sub.add_parser(
        "demo",
        help="build the Li | SEI | LiPON and LNMO | LiPON stacks and plot their depth profiles",
        description=(
            "Build the default Li | multilayer-mosaic SEI | LiPON stack and the LiPON | LNMO on Au stack, "
            "print their layer tables, and write to --out their depth-profile figures (PNG), sample files "
            "(TOML), expected NDP spectra (CSV and PNG, with a fit back from noisy data), STEM-EELS "
            "line scans (PNG) and a small atomistic model of the interphase (PNG)."
        ),
    )
    sd.add_argument("--out", default="interphase-demo", help="output folder (default: %(default)s)")
    add_quiet(sd)
    sd.set_defaults(func=cmd_demo)

    from interphase_sim.cli.samples import add_samples_parser
    from interphase_sim.cli.sweep import add_sweep_parser
    from interphase_sim.cli.validate import add_validate_parser

    for add in (_add_simulate_parsers, _add_ndp_depth_parser, _add_build_parser, _add_fit_parser, add_sweep_parser,
                add_samples_parser, add_validate_parser):
        add(sub)
    return p


#: Exit statuses: bad input (or a file that cannot be read or written), Ctrl-C, SIGTERM.
EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that clean-up runs as for Ctrl-C."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a command runs (then restore)."""
    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (a test runner's worker): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _interrupt_in(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind ``exc``: itself, or the cause of the SystemError a numba
    kernel returns when the signal arrived while it ran; None for any other error."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Python warnings as ``interphase-sim: warning: ...`` lines (no file:line, no source)."""
    import warnings

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if "Deprecat" in category.__name__ and "interphase_sim" not in filename:
            return  # a library's deprecation notice is for the package's developers, not its users
        print(f"interphase-sim: warning: {' '.join(str(message).split())}", file=sys.stderr)

    old = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old


def _error(text: str) -> None:
    print(f"interphase-sim: error: {' '.join(str(text).split())}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status: 0, 2 (bad input, or a file that cannot be read
    or written: one line naming it), 130 (Ctrl-C) or 143 (SIGTERM). ``--debug`` shows the
    traceback instead."""
    from interphase_sim.core.outdir import abort_unfinished
    from interphase_sim.fit.objective import FitError

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _sigterm_as_interrupt(), _warnings_as_lines():
            try:
                return int(args.func(args) or 0)
            finally:
                abort_unfinished()  # a failed or interrupted command leaves nothing in --out
    except (KeyboardInterrupt, SystemError) as exc:
        interrupt = _interrupt_in(exc)
        if args.debug or interrupt is None:
            raise
        terminated = isinstance(interrupt, Terminated)
        print(f"interphase-sim: {'terminated' if terminated else 'interrupted'}; nothing was written to --out "
              "(a sweep keeps its finished batches: the same command resumes it)", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except (InterphaseInputError, FitError) as exc:
        if args.debug:
            raise
        _error(str(exc))
    except UnicodeDecodeError as exc:
        if args.debug:
            raise
        _error(f"an input file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at {exc.start}): "
               "give a text file (TOML or CSV), saved as UTF-8")
    except OSError as exc:
        if args.debug:
            raise
        _error(f"{exc.filename or ''}: {exc.strerror or exc}")
    except MemoryError:
        if args.debug:
            raise
        _error("out of memory: reduce the sizes in the sample file (channels, positions, lateral_nm)")
    return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
