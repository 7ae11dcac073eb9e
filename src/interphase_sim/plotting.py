"""Matplotlib figures for the package's result types.

Functions take an optional ``ax`` (or ``axes``) and return what they drew on, so users
can compose their own figures. matplotlib is imported lazily; the Agg backend is used
when no display is available.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_profile", "plot_fractions", "profile_figure"]


def _pyplot():
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
    plt = _pyplot()
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
    plt = _pyplot()
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
    plt = _pyplot()
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
