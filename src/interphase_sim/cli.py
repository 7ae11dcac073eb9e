"""The ``interphase-sim`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import InterphaseInputError

__all__ = ["main"]


def _cmd_phases(args: argparse.Namespace) -> int:
    from . import phases

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


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import samples
    from .fileio import atomic_savefig
    from .plotting import _pyplot, profile_figure

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    for key in ("li_sei_lipon", "lnmo_lipon"):
        stack = samples.load(key)
        print(stack.table())
        print()
        zoom = _interphase_window(stack)
        fig = profile_figure(stack, zooms=[zoom] if zoom else None)
        png = out / f"{key}_profile.png"
        atomic_savefig(fig, png, dpi=110)
        plt.close(fig)
        stack.to_toml(out / f"{key}.toml")
        prof = stack.profile(stack.depth_grid(step_nm=0.5))
        print(
            f"  6Li areal density over 0-{prof.z_nm[-1]:.0f} nm: {prof.areal_density('6Li'):.4g} atoms/nm2"
            f"\n  wrote {png} and {out / (key + '.toml')}"
        )
        print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="interphase-sim",
        description="Models of solid-state-battery interphases, and what HRTEM, EELS and NDP would measure on them.",
    )
    p.add_argument("--version", action="version", version=f"interphase_sim {__version__}")
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
            "print their layer tables, and write depth-profile figures (PNG) and sample files (TOML) to --out."
        ),
    )
    sd.add_argument("--out", default="interphase-demo", help="output folder (default: %(default)s)")
    sd.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InterphaseInputError as exc:
        print(f"interphase-sim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
