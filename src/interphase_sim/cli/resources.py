"""What a command will cost, estimated from the sample file before anything is allocated.

Each estimate gives the peak memory (GB), the bytes the command writes (GB) and a rough
wall time (s) on one core. A command refuses to start when an estimate is beyond its limit
(``--max-memory-gb``, default half this machine's memory; ``--max-output-gb``, default 2 GB),
naming the setting that makes it so and the flag that raises the limit; a long run says
how long it will take. The coefficients are measured on this package's own models (see
each function) and err on the high side.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["Estimate", "add_limit_arguments", "check", "estimate_ndp", "estimate_eels", "estimate_build",
           "estimate_hrtem"]

GB = 1e9
#: Default --max-output-gb.
MAX_OUTPUT_GB = 2.0


def machine_memory_gb() -> float:
    """Physical memory of this machine (GB); 8 when it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    except (ValueError, OSError, AttributeError):
        return 8.0


@dataclass(frozen=True)
class Estimate:
    """A command's estimated cost and the setting that drives it (for the message)."""

    memory_gb: float
    output_gb: float
    seconds: float
    driver: str  # e.g. "[eels] positions x channels = 100000 x 2048"
    atoms: int = 0  # of an atomistic model, when there is one

    def text(self) -> str:
        return (f"about {self.memory_gb:.2g} GB of memory, {self.output_gb:.2g} GB written and "
                f"{_duration(self.seconds)}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-memory-gb`` and ``--max-output-gb``."""
    from interphase_sim.cli.flags import positive_float

    parser.add_argument("--max-memory-gb", type=positive_float, default=None,
                        help="refuse to start when the estimated memory is above this (GB; default half of this "
                             f"machine's, {machine_memory_gb() / 2:.0f} GB)")
    parser.add_argument("--max-output-gb", type=positive_float, default=None,
                        help=f"refuse to start when the files would be larger than this (GB; default {MAX_OUTPUT_GB:g})")


def check(estimate: Estimate, args: argparse.Namespace) -> None:
    """Refuse ``estimate`` beyond the limits of ``args`` (one line naming what drives it);
    say how long a run of over a minute will take."""
    mem_limit = getattr(args, "max_memory_gb", None) or machine_memory_gb() / 2
    out_limit = getattr(args, "max_output_gb", None) or MAX_OUTPUT_GB
    if estimate.memory_gb > mem_limit:
        raise InterphaseInputError(estimate.driver, f"needs {estimate.text()}, more than --max-memory-gb "
                                   f"{mem_limit:.3g}: reduce it, or raise the limit")
    if estimate.output_gb > out_limit:
        raise InterphaseInputError(estimate.driver, f"writes {estimate.text()}, more than --max-output-gb "
                                   f"{out_limit:.3g}: reduce it, or raise the limit")
    if estimate.seconds > 60 and not getattr(args, "quiet", False):
        print(f"interphase-sim: this run takes {estimate.text()} ({estimate.driver})", file=sys.stderr)


def estimate_ndp(stack: Any) -> Estimate:
    """An NDP spectrum from the ``[ndp]`` table (before the model is built): a few dozen
    channel-length arrays, the birth points (capped) and the CSV (~40 bytes a channel);
    ~0.5 µs a channel per particle and cone node."""
    from interphase_sim.core.settings import NDP

    table = {**NDP.defaults(), **NDP.read(dict(stack.sections.get("ndp", {})))}
    given = table["channels"]  # a count, or the channel numbers themselves
    channels = int(given) if np.ndim(given) == 0 else int(np.size(given))
    work = channels * len(table["particles"]) * int(table["angle_nodes"])
    return Estimate((64 * channels * 8 + 20000 * 8 * 16) / GB + 0.05, 40 * channels / GB, 5e-7 * work + 0.5,
                    f"[ndp] channels = {channels}")


def estimate_eels(stack: Any) -> Estimate:
    """An EELS line scan from the ``[eels]`` table: ~12 float64 arrays of positions x 2 x
    channels (the low-loss transforms and their inverse), the CSV (~12 bytes a value) and
    the HyperSpy file (8); ~10 ns a value (measured: 4 ms for 200 x 2048), plus ~1 µs a
    value to write."""
    from interphase_sim.core.settings import EELS
    from interphase_sim.eels.model import DEFAULT_SCAN_POSITIONS

    table = {**EELS.defaults(), **EELS.read(dict(stack.sections.get("eels", {})))}
    given = table.get("positions")  # none: the default scan
    positions = DEFAULT_SCAN_POSITIONS if given is None else int(given)
    channels = int(table["channels"])
    values = positions * channels
    return Estimate(12 * 8 * 2 * values / GB + 0.1, 20 * values / GB, 1e-8 * values + 1e-6 * values + 0.5,
                    f"[eels] positions x channels = {positions} x {channels}")


def estimate_build(stack: Any, settings: dict[str, Any]) -> Estimate:
    """An atomistic model: ~400 bytes an atom while building (positions, labels, neighbour
    lists), ~90 bytes an atom in extxyz and ~20,000 atoms a second (measured)."""
    from interphase_sim.build.assemble import estimate_atoms

    lateral = tuple(settings.get("lateral_nm") or (10.0, 10.0))
    start, stop = settings.get("depth_range_nm") or (0.0, stack.finite_depth_nm() + (
        settings.get("semi_infinite_nm") or 5.0) * stack.semi_infinite)
    if settings.get("max_depth_nm"):
        stop = min(stop, settings["max_depth_nm"])
    atoms = estimate_atoms(stack, (float(lateral[0]), float(lateral[1])), max(stop - start, 0.0), start)
    return Estimate(400 * atoms / GB + 0.2, 90 * atoms / GB, atoms / 2e4 + 1.0,
                    f"[build] lateral_nm x depth (--lateral-nm, --depth-range-nm) = {lateral[0]:g} x {lateral[1]:g} x {stop - start:g} nm "
                    f"(~{atoms:,} atoms)", atoms)


def estimate_hrtem(stack: Any, settings: dict[str, Any]) -> Estimate:
    """A cross-section image: the lamella's atoms (as a build) and its multislice grid of
    complex64 waves (a few buffers) at ``sampling_A``; ~30 ns a grid point per slice."""
    lo, hi = settings.get("depth_range_nm") or (0.0, stack.finite_depth_nm())
    depth = (hi - lo) + 2 * (settings.get("vacuum_nm") or 0.5)
    points = (settings["lateral_nm"] * 10 / settings["sampling_A"]) * (depth * 10 / settings["sampling_A"])
    slices = math.ceil(settings["thickness_nm"] * 10 / settings["slice_thickness_A"])
    lamella = estimate_build(stack, {"lateral_nm": (settings["lateral_nm"], settings["thickness_nm"]),
                                     "depth_range_nm": (lo, hi)})
    return Estimate(lamella.memory_gb + 40 * points / GB, 12 * points / GB, lamella.seconds + 3e-8 * points * slices,
                    f"[hrtem] lateral_nm x depth_range_nm at sampling_A = {settings['lateral_nm']:g} x {hi - lo:g} nm at "
                    f"{settings['sampling_A']:g} Å")
