"""Matplotlib figures for the package's result types.

Functions take an optional ``ax`` (or ``axes``) and return what they drew on, so users
can compose their own figures. matplotlib is imported lazily; the Agg backend is used
when no display is available.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "plot_corner", "plot_depth_estimate", "plot_eels_linescan", "plot_fit", "plot_model_slice", "plot_fractions", "plot_ndp_spectrum", "plot_profile",
    "profile_figure",
]


def pyplot_module():
    # Imported lazily: matplotlib picks a non-interactive backend when there is no display.
    import matplotlib.pyplot as plt

    return plt


def plot_profile(profile: Any, ax: Any = None, elements: list[str] | None = None, li6: bool = True) -> Any:
    """Element number densities (atoms/nm3) versus depth (nm).

    Parameters
    ----------
    profile : DepthProfile
    ax : matplotlib Axes, optional
    elements : list of str, optional
        Elements to draw (default: all).
    li6 : bool
        Also draw 6Li (dashed), scaled up so it is visible; the legend gives the factor.
    """
    plt = pyplot_module()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    z = profile.z_nm
    order = np.argsort(z, kind="stable")
    for el in elements or profile.elements:
        ax.plot(z[order], profile.density(el)[order], label=el, lw=1.5)
    if li6 and "Li" in profile.elements and np.any(profile.li6 > 0):
        ratio = profile.density("Li").max() / max(profile.li6.max(), 1e-300)
        factor = 10 ** np.floor(np.log10(max(ratio, 1.0)))
        ax.plot(z[order], factor * profile.li6[order], "k--", lw=1, label=f"6Li x {factor:g}")
    ax.set_xlabel("depth z (nm)")
    ax.set_ylabel("number density (atoms/nm$^3$)")
    ax.legend(fontsize=8, ncol=2)
    return ax


def plot_fractions(profile: Any, ax: Any = None) -> Any:
    """Phase volume fractions versus depth (nm) as stacked areas."""
    plt = pyplot_module()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    z = profile.z_nm
    order = np.argsort(z, kind="stable")
    ax.stackplot(z[order], profile.fractions[:, order], labels=profile.phases, alpha=0.85)
    ax.set_xlabel("depth z (nm)")
    ax.set_ylabel("volume fraction")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, ncol=3, loc="lower left")
    return ax


def profile_figure(stack: Any, zooms: list[tuple[float, float]] | None = None, title: str | None = None) -> Any:
    """A figure of a stack: element densities and phase fractions, full depth and zooms.

    Parameters
    ----------
    stack : Stack
    zooms : list of (z_min, z_max) in nm, optional
        Extra columns showing these depth windows at fine sampling.
    title : str, optional
    """
    plt = pyplot_module()
    windows: list[tuple[float, float] | None] = [None, *(zooms or [])]
    fig, axes = plt.subplots(2, len(windows), figsize=(6.5 * len(windows), 7), squeeze=False)
    for col, win in enumerate(windows):
        if win is None:
            z = stack.depth_grid()
        else:
            z = np.linspace(win[0], win[1], 2001)
        prof = stack.profile(z)
        plot_profile(prof, ax=axes[0, col])
        plot_fractions(prof, ax=axes[1, col])
        if win is not None:
            axes[0, col].set_title(f"zoom {win[0]:g}-{win[1]:g} nm")
    fig.suptitle(title or stack.name or "stack")
    fig.tight_layout()
    return fig


def plot_ndp_spectrum(energy: Any, components: dict, total: Any = None, depth_map: Any = None,
                      depth_label: str = "alpha", ax: Any = None, title: str | None = None) -> Any:
    """An NDP spectrum: counts per channel versus energy (keV), one line per particle.

    Parameters
    ----------
    energy : (C,) array
        Channel-centre energies (keV).
    components : dict
        Particle name -> expected counts per channel.
    total : (C,) array, optional
        Total (with background / noise) drawn as steps.
    depth_map : (depth_nm, energy_keV) arrays, optional
        Birth depth versus detected energy of one particle; adds a top axis in nm.
    depth_label : str
        Which particle the depth axis belongs to.
    """
    plt = pyplot_module()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    if total is not None:
        ax.step(energy, total, where="mid", color="0.4", lw=0.8, label="total")
    for name, counts in components.items():
        ax.plot(energy, counts, lw=1.5, label=name)
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts per channel")
    ax.set_xlim(float(np.min(energy)), float(np.max(energy)))
    ax.legend(fontsize=8)
    if depth_map is not None:
        z, e = (np.asarray(a, dtype=float) for a in depth_map)
        keep = e > 0
        z, e = z[keep], e[keep]
        order = np.argsort(e)
        e_s, z_s = e[order], z[order]
        if e_s.size > 1 and np.all(np.diff(e_s) > 0):
            sec = ax.secondary_xaxis(
                "top",
                functions=(lambda x: np.interp(x, e_s, z_s), lambda d: np.interp(d, z_s[::-1], e_s[::-1])),
            )
            sec.set_xlabel(f"{depth_label} birth depth (nm)")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_depth_estimate(measurement: Any, ax: Any = None, truth: tuple | None = None) -> Any:
    """A spectrum-to-depth result: density (atoms/nm3) with 1-sigma band versus depth (nm)."""
    plt = pyplot_module()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    z = measurement.axis("depth")
    y = measurement.values
    ax.plot(z, y, lw=1.2, label=measurement.quantity)
    if measurement.uncertainties is not None:
        ax.fill_between(z, y - measurement.uncertainties, y + measurement.uncertainties, alpha=0.3, lw=0)
    if truth is not None:
        ax.plot(truth[0], truth[1], "k--", lw=1, label="stack")
    ax.set_xlabel("depth (nm)")
    ax.set_ylabel("atoms/nm$^3$")
    ax.legend(fontsize=8)
    return ax


def plot_fit(objectives: list, fig: Any = None) -> Any:
    """Data, model and normalized residuals of each 1-D objective, one column each."""
    plt = pyplot_module()
    objs = [o for o in objectives if o.measurement.values.ndim == 1]
    if fig is None:
        fig = plt.figure(figsize=(7 * max(len(objs), 1), 5.5))
    gs = fig.add_gridspec(2, max(len(objs), 1), height_ratios=(3, 1), hspace=0.05)
    for k, o in enumerate(objs):
        ax = fig.add_subplot(gs[0, k])
        axr = fig.add_subplot(gs[1, k], sharex=ax)
        ax0 = o.measurement.axes[0]
        x = np.asarray(ax0.values)[o.mask]
        mu = o.expected()
        ax.step(x, o.data, where="mid", color="0.3", lw=0.8, label="data")
        ax.plot(x, mu, color="C3", lw=1.5, label="model")
        ax.set_ylabel(o.measurement.quantity)
        ax.set_title(o.name, fontsize=10)
        ax.legend(fontsize=8)
        plt.setp(ax.get_xticklabels(), visible=False)
        r = o.residuals(mu)
        axr.plot(x, r, ".", ms=2, color="C0")
        axr.axhline(0, color="k", lw=0.8)
        axr.set_ylabel("deviance res." if o.loss == "poisson" else "(d - m) / sigma")
        axr.set_xlabel(f"{ax0.name} ({ax0.units})")
    return fig


def plot_corner(samples: Any, names: list, truths: dict | None = None, fig: Any = None, bins: int = 30) -> Any:
    """A corner plot: 1-D histograms on the diagonal, 2-D histograms below it."""
    plt = pyplot_module()
    samples = np.asarray(samples)
    n = samples.shape[1]
    if fig is None:
        fig = plt.figure(figsize=(2.2 * n + 1, 2.2 * n + 1))
    axes = fig.subplots(n, n, squeeze=False)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                ax.hist(samples[:, i], bins=bins, histtype="step", color="k")
                for q in np.percentile(samples[:, i], [16, 50, 84]):
                    ax.axvline(q, color="C0", ls="--", lw=0.8)
                ax.set_yticks([])
            else:
                ax.hist2d(samples[:, j], samples[:, i], bins=bins, cmap="Greys")
            if truths is not None:
                if names[j] in truths:
                    ax.axvline(truths[names[j]], color="C3", lw=1)
                if i != j and names[i] in truths:
                    ax.axhline(truths[names[i]], color="C3", lw=1)
            if i == n - 1:
                ax.set_xlabel(names[j], fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=8)
            elif j > 0:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=7)
    return fig


def plot_eels_linescan(scan: Any, quant: Any = None, truth: dict | None = None, fig: Any = None) -> Any:
    """A line scan: spectrum image (log counts) and elemental profiles along the scan.

    ``quant`` is a :func:`~interphase_sim.eels.analysis.quantify_line_scan` result (atoms/nm2);
    ``truth`` maps elements to the model's blurred areal densities, drawn dashed.
    """
    plt = pyplot_module()
    if fig is None:
        fig = plt.figure(figsize=(12, 4.8))
    ax1, ax2 = fig.subplots(1, 2)
    z = scan.axis("depth")
    e = scan.axis("energy")
    img = np.log10(np.maximum(scan.values, 1.0))
    ax1.imshow(img.T, origin="lower", aspect="auto", extent=(z[0], z[-1], e[0], e[-1]), cmap="magma")
    ax1.set_xlabel("probe position (nm)")
    ax1.set_ylabel("energy loss (eV)")
    ax1.set_title("log10 counts", fontsize=10)
    if quant is not None:
        for k, el in enumerate(quant.axes[1].values):
            line, = ax2.plot(z, quant.values[:, k], lw=1.2, label=f"{el} (edge integration)")
            if truth is not None and el in truth:
                ax2.plot(z, truth[el], "--", color=line.get_color(), lw=1)
    ax2.set_xlabel("probe position (nm)")
    ax2.set_ylabel("areal density (atoms/nm$^2$)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_model_slice(atoms: Any, stack: Any = None, slab_nm: float = 1.0, fig: Any = None) -> Any:
    """An atomistic model seen side-on, depth running left to right: a slab through the
    middle of y coloured by phase, and below it the phase fractions along depth (from the
    atoms' phase labels; dashed, the stack's volume fractions when ``stack`` is given).

    With ``stack``, the model's atom counts per phase are divided by each phase's number
    density (atoms/nm³), so both curves are volume fractions; without it, atom fractions.
    Depths in nm below the model's top (its ``depth_start_nm``)."""
    plt = pyplot_module()
    pos = atoms.get_positions() / 10.0  # nm
    cell = atoms.cell.lengths() / 10.0
    if fig is None:
        fig = plt.figure(figsize=(12, 2.0 + 6.0 * min(cell[0] / cell[2], 1.0) + 3.0))
    ax1, ax2 = fig.subplots(2, 1, sharex=True,
                            gridspec_kw={"height_ratios": (max(cell[0] / cell[2] * 12, 1.2), 3.0)})
    names = [str(n) for n in atoms.info.get("phase_names", [])]
    phase = atoms.arrays["phase"]
    sel = np.abs(pos[:, 1] - cell[1] / 2) < slab_nm / 2
    for i, name in enumerate(names):
        m = sel & (phase == i)
        if m.any():
            ax1.scatter(pos[m, 2], pos[m, 0], s=0.6, label=name, color=f"C{i}", rasterized=True)
    start = float(atoms.info.get("depth_start_nm", 0.0))
    ax1.set_xlim(0, cell[2])
    ax1.set_ylim(0, cell[0])
    ax1.set_ylabel("x (nm)")
    ax1.set_aspect("equal")
    ax1.legend(fontsize=7, markerscale=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax1.set_title(f"{slab_nm:g} nm slab through the model, coloured by phase", fontsize=9)
    edges = np.linspace(0, cell[2], 81)
    counts = np.array([np.histogram(pos[phase == i, 2], edges)[0] for i in range(len(names))], dtype=float)
    by_volume = stack is not None and all(n in stack.phases for n in names if n)
    if by_volume:  # atoms / (atoms per nm3) = the volume each phase fills, comparable to the stack
        counts /= np.array([stack.phases[n].total_number_density() for n in names])[:, None]
    total = counts.sum(axis=0)
    frac = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    mid = 0.5 * (edges[1:] + edges[:-1])
    for i, name in enumerate(names):
        if counts[i].any():
            ax2.plot(mid, frac[i], color=f"C{i}", lw=1.2, label=name)
    if stack is not None:
        prof = stack.profile(mid + start)
        for i, name in enumerate(names):
            if name in prof.phases:
                ax2.plot(mid, prof.fraction(name), "--", color=f"C{i}", lw=0.8)
    ax2.set_xlabel(f"depth below {start:g} nm (nm)")
    ax2.set_ylabel("volume fraction in the model\n(dashed: stack)" if by_volume else "fraction of atoms",
                   fontsize=8)
    ax2.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def plot_joint_fits(results: dict[str, Any], truth: dict[str, float] | None = None, fig: Any = None) -> Any:
    """Fitted values with their total errors (and statistical ones, thicker) of several
    fits side by side: one panel per parameter, one point per fit, the truth as a line."""
    plt = pyplot_module()
    names = list(dict.fromkeys(n for r in results.values() for n in r.names))
    if fig is None:
        fig = plt.figure(figsize=(3.2 * max(len(names), 1), 3.6))
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    labels = list(results)
    for ax, name in zip(axes, names):
        for k, label in enumerate(labels):
            r = results[label]
            if name not in r.values:
                continue
            v, tot, stat = r.values[name], r.stderr[name], r.stat_err.get(name, float("nan"))
            ax.errorbar([k], [v], yerr=[tot], fmt="o", color=f"C{k}", capsize=4, lw=1)
            if stat == stat:  # not NaN
                ax.errorbar([k], [v], yerr=[stat], fmt="none", color=f"C{k}", lw=3)
        if truth and name in truth:
            ax.axhline(truth[name], color="k", lw=0.8, ls="--")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(name, fontsize=9)
    axes[0].set_ylabel("value (thin: total error, thick: statistical)")
    fig.tight_layout()
    return fig
