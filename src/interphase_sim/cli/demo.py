"""``interphase-sim demo``: the shipped samples, what each instrument records on them, and fits back."""

from __future__ import annotations

import argparse

import numpy as np

from interphase_sim.cli import hrtem as cli_hrtem
from interphase_sim.core.outdir import RunOutput

__all__ = ["cmd_demo"]

#: The demo's progress bar over its steps (:class:`~interphase_sim.core.progress.Stages`),
#: while it runs; its step lines are written above the bar.
_BAR: list = []


def _say(text: str) -> None:
    """One line of the demo's report, written above the progress bar when one is drawn."""
    if _BAR and _BAR[0].drawn:
        from tqdm import tqdm

        tqdm.write(text)
    else:
        print(text, flush=True)


def _step(name: str) -> None:
    """Mark the demo's next step running on the progress bar."""
    if _BAR:
        _BAR[0].next(name)


def _steps(stack, key: str) -> list[str]:
    """The demo's steps for one shipped sample, in the order it runs them."""
    names = ["profile", "NDP", "NDP fit", "EELS"]
    names += ["atomistic model"] * ("build" in stack.sections) + ["HRTEM"] * ("hrtem" in stack.sections)
    names += ["joint fit"] + ["channel fit"] * ("hrtem" not in stack.sections)
    return [f"{key}: {n}" for n in names]


def _interphase_window(stack) -> tuple[float, float] | None:
    """Depth window (nm) around the thin layers (< 10 % of the finite depth), if any."""
    depth = stack.finite_depth_nm()
    tops = [0.0, *stack.interfaces_nm()[:-1]]
    thin = [i for i, lay in enumerate(stack) if not lay.semi_infinite and lay.thickness_nm.value < 0.1 * depth]
    if not thin:
        return None
    margin = max(20.0, 4 * max(stack[i].roughness_nm.value for i in thin))
    lo = tops[thin[0]] - margin
    hi = tops[thin[-1]] + stack[thin[-1]].thickness_nm.value + margin
    return (max(lo, 0.0), float(hi))


def _demo_ndp(stack, out: RunOutput, key: str) -> None:
    """The demo's NDP part: expected spectrum, where its edges are, and a figure."""
    _step(f"{key}: NDP")
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.ndp.model import NDPModel
    from interphase_sim.plotting.common import pyplot_module, plot_ndp_spectrum

    model = NDPModel.from_stack(stack)
    meas = model.simulate()
    energy, comps = model.simulate_components()
    bottoms = [0.0, *stack.interfaces_nm()[:-1]]
    for part in model.particles:
        _, e = model.energy_depth_map(part.name, bottoms)
        edges = ", ".join(f"{z:g} nm -> {x:.0f} keV" for z, x in zip(bottoms, e))
        _say(f"  NDP {part.name:7s} {comps[part.name].sum():10.4g} counts; births at {edges}")
    plt = pyplot_module()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    plot_ndp_spectrum(energy, comps, total=meas.values, depth_map=model.energy_depth_map("alpha"),
                      ax=ax, title=f"NDP: {stack.name}")
    fig.tight_layout()
    atomic_savefig(fig, out.path(f"{key}_ndp.png"), dpi=110)
    plt.close(fig)
    meas.to_csv(out.path(f"{key}_ndp.csv"))
    _say(f"  wrote {out.final(key + '_ndp.png')} and {out.final(key + '_ndp.csv')}")
    _step(f"{key}: NDP fit")
    _demo_fit(model)
    data = {"ndp": model.simulate(noise=True, seed=1), "eels": _demo_eels(stack, out, key)}
    if "build" in stack.sections:
        _demo_build(stack, out, key)
    if "hrtem" in stack.sections:
        data["hrtem"] = _demo_hrtem(stack, out, key).image
    _demo_joint(stack, data, out, key)
    if "hrtem" not in stack.sections:  # the thin-film cathode: a spectrum as a detector records it
        _step(f"{key}: channel fit")
        _demo_channel_fit(stack)


def _demo_hrtem(stack, out: RunOutput, key: str):
    """The demo's HRTEM part: a low-dose cross-section image and its phase map."""
    _step(f"{key}: HRTEM")
    from interphase_sim.hrtem.workflow import run_hrtem

    # a narrower lamella than the sample's, so that the demo stays quick
    _say("  HRTEM: building and imaging a 6 nm wide lamella (abTEM multislice, ~10 s) ...")
    run = run_hrtem(stack, {"lateral_nm": 6.0}, noise=True)
    paths = cli_hrtem.write_outputs(run, stack, out.path, prefix=f"{key}_hrtem_")
    s = run.settings
    _say(f"  HRTEM {s['lateral_nm']:g} x {run.model.thicknesses_nm()[-1]:.1f} nm lamella, "
          f"{len(run.model.atoms):,} atoms, {s['dose_e_per_A2']:g} e/A2: imaged in {run.image_s:.1f} s; "
          f"phase map: {run.score_text()}")
    _say("  wrote " + ", ".join(str(out.final(p.name)) for p in paths[1:4:2] if p is not None))  # image, phase map
    return run


def _demo_build(stack, out: RunOutput, key: str) -> None:
    """The demo's atomistic part: a small model of the interphase and its picture."""
    _step(f"{key}: atomistic model")
    from interphase_sim.build.workflow import build_settings, run_build
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module, plot_model_slice

    s = build_settings(stack)
    lo, hi = s.get("depth_range_nm") or (0.0, stack.finite_depth_nm())
    # a narrower box than the sample's [build] table, at most 100 nm deep, so that the demo stays quick
    lo = max(lo, hi - 100.0)
    _say(f"  building the atomistic model {lo:g}-{hi:g} nm deep (~10 s) ...")
    run = run_build(stack, {"lateral_nm": (5.5, 5.5), "depth_range_nm": (lo, hi), "seed": s.get("seed", 1)})
    atoms, dt = run.atoms, run.build_s
    plt = pyplot_module()
    fig = plot_model_slice(atoms, stack)
    atomic_savefig(fig, out.path(f"{key}_model.png"), dpi=110)
    plt.close(fig)
    _say(f"  atomistic model {lo:g}-{hi:g} nm x 5.5 x 5.5 nm: {len(atoms):,} atoms in {dt:.1f} s; "
          f"wrote {out.final(key + '_model.png')}")


def _demo_eels(stack, out: RunOutput, key: str):
    """The demo's EELS part: a line scan across the interphase, quantified by edge integration."""
    _step(f"{key}: EELS")
    from interphase_sim.eels.model import EELSModel
    from interphase_sim.eels.analysis import quantifiable_edges, quantify_line_scan
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module, plot_eels_linescan

    model = EELSModel.from_stack(stack)
    scan = model.simulate(noise=True, seed=1)
    energy = scan.axis("energy")
    windows, _ = quantifiable_edges(energy, model.edges, window_eV=40.0)
    edges = list(windows)
    quant = quantify_line_scan(model.deconvolve(scan), edges, window_eV=40.0, pre_edge_eV=windows)
    z = scan.axis("depth")
    tops = [0.0, *stack.interfaces_nm()]
    _say(f"  EELS line scan {z[0]:g}-{z[-1]:g} nm, {z.size} positions; mean areal density (atoms/nm2) per layer:")
    for i, lay in enumerate(stack.layers):
        inside = (z >= tops[i]) & (z < tops[i + 1])
        if inside.sum() >= 3:
            vals = ", ".join(f"{el} {np.mean(quant.values[inside, k]):7.0f}" for k, el in enumerate(quant.axes[1].values))
            _say(f"    {lay.name:10s} {vals}")
    plt = pyplot_module()
    fig = plot_eels_linescan(scan, quant, model.elemental_profiles(z))
    atomic_savefig(fig, out.path(f"{key}_eels.png"), dpi=100)
    plt.close(fig)
    _say(f"  wrote {out.final(key + '_eels.png')}")
    return scan


def _demo_joint(stack, data: dict, out: RunOutput, key: str) -> None:
    """Each instrument alone, then all jointly: the free thicknesses with their total errors
    (statistical and systematic) side by side, as a table and a figure."""
    _step(f"{key}: joint fit")
    import warnings

    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.jointfit import joint_fit
    from interphase_sim.plotting.common import plot_joint_fits, pyplot_module

    _say(f"  fitting {', '.join(data)} alone and jointly ...")
    free = stack.parameters().varying()
    truth = free.get_values()
    lo, hi = free.bounds_array().T
    runs = {}
    for label, subset in [*((k, {k: v}) for k, v in data.items()), (" + ".join(data), data)]:
        # every fit starts 5 % off: the EELS scan spans ~200 nm around an interface 1.5 um
        # deep, so a start 20 % off would put the interface outside it (a flat statistic)
        free.set_values(np.clip(truth * 1.05, lo, hi))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            runs[label] = joint_fit(stack, subset).result
    free.set_values(truth)
    head = f"  {'parameter':24s} {'truth':>8s}" + "".join(f"  {label:>22s}" for label in runs)
    _say(f"  joint fit of {stack.name}: value +/- total error (stat., syst.)")
    _say(head)
    for name, t in zip(free, truth):
        cells = "".join(f"  {_value_text(r, name):>22s}" for r in runs.values())
        _say(f"  {name:24s} {t:8.4g}{cells}")
    fits = "".join(f"  {r.reduced_statistic:>22.3f}" for r in runs.values())
    _say(f"  {'statistic / dof':24s} {'1':>8s}{fits}")
    plt = pyplot_module()
    fig = plot_joint_fits(runs, dict(zip(free, truth)))
    atomic_savefig(fig, out.path(f"{key}_joint_fit.png"), dpi=110)
    plt.close(fig)
    _say(f"  wrote {out.final(key + '_joint_fit.png')}")


def _demo_channel_fit(stack) -> None:
    """A spectrum in channels whose calibration is known only roughly (gain 1 %, offset
    15 keV off): gain and offset are fitted with the thicknesses."""
    import warnings

    from interphase_sim import Parameter
    from interphase_sim.core.measurement import Axis, Measurement
    from interphase_sim.fit import Objective, fit
    from interphase_sim.ndp.model import NDPModel

    truth = NDPModel.from_stack(stack, gain_keV=3.012, offset_keV=6.0)
    counts = truth.simulate(noise=True, seed=2).values
    data = Measurement(counts, [Axis("channel", "", np.arange(counts.size, dtype=float))], quantity="counts")
    free = stack.parameters().varying()
    values = free.get_values()
    lo, hi = free.bounds_array().T
    free.set_values(np.clip(values * 1.1, lo, hi))
    model = NDPModel.from_stack(stack, gain_keV=Parameter(3.0, bounds=(2.8, 3.2), vary=True),
                                offset_keV=Parameter(-9.0, bounds=(-60.0, 60.0), vary=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = fit(Objective(model, data))
    free.set_values(values)
    _say("  channel spectrum, calibration unknown (nominal 3.000 keV/ch, -9 keV): fitted")
    for name, t in [*zip(free, values), ("ndp.gain_keV", 3.012), ("ndp.offset_keV", 6.0)]:
        _say(f"    {name:22s} true {t:8.4g}  fitted {_value_text(res, name)}")


def _value_text(result, name: str) -> str:
    if name not in result.values:
        return "-"
    note = " (prior)" if name in result.not_constrained else ""
    return f"{result.values[name]:.4g} +/- {result.stderr[name]:.2g}{note}"


def _demo_fit(model) -> None:
    """The demo's fitting part: Poisson data from the model, free parameters started
    20 % off, refined back; prints truth, fit and standard error."""
    import warnings

    from interphase_sim.fit import Objective, fit

    free = model.parameters().varying()
    if not len(free):
        return
    truth = free.get_values()
    data = model.simulate(noise=True, seed=1)
    lo, hi = free.bounds_array().T
    free.set_values(np.clip(truth * 1.2, lo, hi))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = fit(Objective(model, data))
    for (name, t) in zip(free, truth):
        _say(f"  fit {name:20s} true {t:9.4g}  fitted {result.values[name]:9.4g} +/- {result.stderr[name]:.2g}")
    free.set_values(truth)


def cmd_demo(args: argparse.Namespace) -> int:
    """The ``demo`` command."""
    from interphase_sim.sample import shipped as samples
    from interphase_sim.core.fileio import atomic_savefig
    from interphase_sim.plotting.common import pyplot_module, profile_figure

    from interphase_sim.cli.main import open_output
    from interphase_sim.core.progress import Stages, shown

    out = open_output(args)
    stacks = {key: samples.load(key) for key in ("li_sei_lipon", "lnmo_lipon")}
    steps = [name for key, stack in stacks.items() for name in _steps(stack, key)]
    try:
        # the files appear together, with run.json, when the demo has run through
        with out, Stages(steps, "demo", shown(args.quiet)) as stages:
            _BAR[:] = [stages]
            plt = pyplot_module()
            for key, stack in stacks.items():
                _step(f"{key}: profile")
                _say(stack.table())
                _say("")
                zoom = _interphase_window(stack)
                fig = profile_figure(stack, zooms=[zoom] if zoom else None)
                png = f"{key}_profile.png"
                atomic_savefig(fig, out.path(png), dpi=110)
                plt.close(fig)
                stack.to_toml(out.path(f"{key}.toml"))
                prof = stack.profile(stack.depth_grid(step_nm=0.5))
                _say(f"  6Li areal density over 0-{prof.z_nm[-1]:.0f} nm: {prof.areal_density('6Li'):.4g} atoms/nm2")
                _say(f"  wrote {out.final(png)} and {out.final(key + '.toml')}")
                _demo_ndp(stack, out, key)
                _say("")
    finally:
        _BAR.clear()
    return 0
