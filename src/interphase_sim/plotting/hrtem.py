"""Matplotlib figures for HRTEM images, diffractograms and phase maps.

Like :mod:`interphase_sim.plotting.common`: each function takes an optional ``ax`` (or
``fig``) and returns what it drew on. Images are Measurements with (depth y, lateral x)
axes in nm, as :class:`~interphase_sim.hrtem.model.HRTEMModel` returns them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interphase_sim.plotting.common import pyplot_module

__all__ = ["plot_diffractogram", "plot_hrtem_image", "plot_phase_map", "phase_colors"]


def phase_colors(names: Any) -> dict[str, Any]:
    """A fixed colour per phase name (tab10, in the given order)."""
    plt = pyplot_module()
    cmap = plt.get_cmap("tab10")
    return {str(n): cmap(i % 10) for i, n in enumerate(names)}


def _extent(image: Any) -> list[float]:
    y, x = image.axis("depth"), image.axis("lateral")
    dy, dx = (y[1] - y[0]) if y.size > 1 else 1.0, (x[1] - x[0]) if x.size > 1 else 1.0
    return [x[0] - dx / 2, x[-1] + dx / 2, y[-1] + dy / 2, y[0] - dy / 2]


def plot_hrtem_image(image: Any, ax: Any = None, scale_bar_nm: float | None = None,
                     interfaces_nm: Any = None, title: str | None = None) -> Any:
    """Grey-scale image (contrast clipped at the 0.5/99.5 percentiles) with a scale bar.

    ``interfaces_nm`` (depths, nm) are marked as ticks on the right edge.
    """
    plt = pyplot_module()
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 8))
    v = np.asarray(image.values, dtype=float)
    lo, hi = np.percentile(v, [0.5, 99.5])
    ext = _extent(image)
    # antialiased: a tall image shown small is low-pass filtered, not aliased shot noise
    ax.imshow(v, cmap="gray", vmin=lo, vmax=hi, extent=ext, interpolation="antialiased")
    width = ext[1] - ext[0]
    if scale_bar_nm is None:  # a round length near a quarter of the width
        target = width / 4
        scale_bar_nm = min((1, 2, 5, 10, 20, 50, 100), key=lambda s: abs(np.log(s / target)))
    x0, y0 = ext[0] + 0.05 * width, ext[2] - 0.03 * (ext[2] - ext[3])
    ax.plot([x0, x0 + scale_bar_nm], [y0, y0], color="white", lw=4, solid_capstyle="butt")
    ax.text(x0 + scale_bar_nm / 2, y0 - 0.01 * (ext[2] - ext[3]), f"{scale_bar_nm:g} nm", color="white",
            ha="center", va="bottom", fontsize=9, fontweight="bold")
    for z in np.atleast_1d(interfaces_nm if interfaces_nm is not None else []):
        if ext[3] <= z <= ext[2]:
            ax.annotate("", xy=(ext[1], z), xytext=(ext[1] + 0.06 * width, z),
                        arrowprops={"arrowstyle": "->", "color": "C3"}, annotation_clip=False)
    ax.set_xlabel("lateral (nm)")
    ax.set_ylabel("depth (nm)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_diffractogram(image: Any, ax: Any = None, k_max: float | None = None, title: str | None = None) -> Any:
    """Log power spectrum (Hann-windowed) of an image, axes in 1/Å (``k_max`` crops)."""
    from interphase_sim.hrtem.analysis import diffractogram

    plt = pyplot_module()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    p, (ky, kx) = diffractogram(image)  # already centred (k = 0 in the middle)
    logp = np.log10(p + p.max() * 1e-9)
    lo, hi = np.percentile(logp, [50, 99.9])
    ax.imshow(logp, cmap="magma", vmin=lo, vmax=hi, origin="lower",
              extent=[kx[0], kx[-1], ky[0], ky[-1]], aspect="equal")
    if k_max:
        ax.set_xlim(-k_max, k_max)
        ax.set_ylim(-k_max, k_max)
    ax.set_xlabel("k$_x$ (1/Å)")
    ax.set_ylabel("k$_y$ (1/Å)")
    ax.set_title(title or "diffractogram (log power)", fontsize=9)
    return ax


def plot_phase_map(image: Any, pm: Any, depth_fractions: Any = None, stack_fractions: Any = None,
                   fig: Any = None, title: str | None = None) -> Any:
    """The image with each labelled window tinted by its phase, and, when given, the
    labelled fractions along depth (points with binomial errors) beside a stack's (lines).
    """
    plt = pyplot_module()
    from matplotlib.patches import Patch, Rectangle

    cols = 2 if depth_fractions is not None else 1
    if fig is None:
        fig = plt.figure(figsize=(4.2 * cols, 8))
    axes = fig.subplots(1, cols, squeeze=False)[0]
    ax = axes[0]
    plot_hrtem_image(image, ax=ax, title=title)
    labels = np.asarray(pm.labels, dtype=object)
    names = sorted({str(v) for v in labels.ravel() if v})
    listed = [] if depth_fractions is None else [str(n) for n in depth_fractions.axis("phase")]
    colors = phase_colors(sorted(set(names) | set(listed)))  # one colour per phase in both panels
    xs, ys = np.asarray(pm.lateral_nm), np.asarray(pm.depth_nm)
    sx = xs[1] - xs[0] if xs.size > 1 else 1.0
    sy = ys[1] - ys[0] if ys.size > 1 else 1.0
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            if labels[i, j]:
                ax.add_patch(Rectangle((x - sx / 2, y - sy / 2), sx, sy, color=colors[labels[i, j]],
                                       alpha=0.25 + 0.35 * float(pm.confidence[i, j]), lw=0))
    ax.legend(handles=[Patch(color=colors[n], label=n) for n in names], loc="upper right", fontsize=7,
              framealpha=0.7)
    if depth_fractions is not None:
        ax2 = axes[1]
        z = depth_fractions.axis("depth")
        for k, n in enumerate(listed):
            ax2.errorbar(depth_fractions.values[:, k], z, xerr=depth_fractions.uncertainties[:, k], fmt="o", ms=3,
                         color=colors[n], label=f"{n} (phase map)")
            if stack_fractions is not None:
                ax2.plot(stack_fractions[:, k], z, "-", color=colors[n], lw=1.5, label=f"{n} (stack)")
        ax2.set_ylim(ax.get_ylim())
        ax2.set_xlim(-0.05, 1.05)
        ax2.set_xlabel("fraction of labelled windows")
        ax2.set_ylabel("depth (nm)")
        ax2.legend(fontsize=7, loc="lower right")
        ax2.set_title("crystalline phases along depth", fontsize=9)
    fig.tight_layout()
    return fig
