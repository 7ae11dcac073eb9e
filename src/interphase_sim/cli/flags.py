"""Command-line flags checked through the settings vocabulary, before any work.

A flag that sets a sample-file key (``--fluence`` is ``[ndp] fluence``) is read by that
key's :class:`~interphase_sim.core.settings.Setting`, so its range is the file's and its
error names the flag (``--fluence ([ndp] fluence): ...``). A reader's remedy written for
Python callers (``give gain_keV=``) is said here as what to type or to write in the sample
file instead.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError

__all__ = ["depth_flags", "fit_flags", "built_in_phase", "for_the_command_line", "positive_float", "read_sample"]

#: ``ndp-depth`` flags that are ``[ndp]`` keys: key -> (flag, attribute of the parsed arguments).
DEPTH_FLAGS = {
    "detector_angle_deg": ("--detector-angle-deg", "detector_angle_deg"),
    "acceptance_half_angle_deg": ("--acceptance-half-angle-deg", "acceptance_half_angle_deg"),
    "fluence": ("--fluence", "fluence"), "area_cm2": ("--area-cm2", "area_cm2"),
    "background": ("--background", "background"), "low_energy_cutoff_keV": ("--cutoff-keV", "cutoff_keV"),
}
#: ``fit`` flags that are ``[fit]`` keys.
FIT_FLAGS = {"method": "--method", "seed": "--seed", "energy_min_keV": "--energy-min-keV",
             "energy_max_keV": "--energy-max-keV", "nwalkers": "--nwalkers", "nsteps": "--nsteps"}
#: Calibration flags of an NDP spectrum (``fit`` and ``ndp-depth``).
NDP_CALIBRATION_FLAGS = {"gain_keV": "--gain-keV", "offset_keV": "--offset-keV"}


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (a limit such as ``--max-memory-gb``)."""
    try:
        return V.positive(float(text), "value")
    except (ValueError, InterphaseInputError):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}") from None


def read_sample(spec: str, flag: str = "SAMPLE") -> Any:
    """The Stack of a sample file or a shipped sample's name; a folder is named as one."""
    import os

    from interphase_sim.sample import shipped

    if os.path.isdir(spec):
        raise InterphaseInputError(spec, f"is a folder: {flag} is a sample file (TOML) or a shipped sample's name "
                                         f"({', '.join(shipped.names())})")
    return shipped.read(spec)


def built_in_phase(name: str, flag: str) -> str:
    """The canonical name of a built-in phase given on the command line."""
    from interphase_sim.sample import phases

    try:
        return phases.resolve(name)
    except InterphaseInputError as exc:
        raise InterphaseInputError(flag, f"{exc.problem} (interphase-sim phases lists them)") from None


def ndp_calibration(args: argparse.Namespace) -> dict[str, float]:
    """``--gain-keV`` and ``--offset-keV`` where given, checked."""
    from interphase_sim.core.settings import CALIBRATION

    return {key: V.number(getattr(args, key), flag, CALIBRATION["ndp"][key])
            for key, flag in NDP_CALIBRATION_FLAGS.items() if getattr(args, key) is not None}


def _cone(values: dict[str, Any]) -> None:
    from interphase_sim.core.settings import NDP

    try:
        NDP.check_all(values, "ndp")
    except InterphaseInputError as exc:
        raise InterphaseInputError("--detector-angle-deg + --acceptance-half-angle-deg", exc.problem) from None


def depth_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ndp-depth`` flags, checked; returns the geometry and yield keywords of
    :func:`~interphase_sim.ndp.analysis.spectrum_to_depth` (dead layers resolved to names)."""
    from interphase_sim.core.settings import NDP

    ndp_calibration(args)
    out = {key: NDP[key].read(getattr(args, attr), f"{flag} ([ndp] {key})")
           for key, (flag, attr) in DEPTH_FLAGS.items() if getattr(args, attr) is not None}
    _cone(out)
    V.choice(args.particle, "--particle", NDP["particles"].choices)
    if args.species is not None:
        V.choice(args.species, "--species", ("6Li", "Li", "10B"))
    if args.li6_abundance is not None:
        V.number(args.li6_abundance, "--li6-abundance", V.Range(0.0, 1.0, low_open=True))
    elif args.species == "Li":
        raise InterphaseInputError("--li6-abundance", "--species Li reports all lithium: give the 6Li atom "
                                   "fraction, e.g. --li6-abundance 0.0759 (natural)")
    thickness = NDP["dead_layers"].check  # the [ndp] dead_layers table's checker
    dead = []
    for i, (material, text) in enumerate(args.dead_layer):
        try:
            t = float(text)
        except ValueError:
            raise InterphaseInputError("--dead-layer", f"expected MATERIAL THICKNESS_NM, got thickness "
                                       f"{text!r}") from None
        try:
            row = thickness([{"material": built_in_phase(material, "--dead-layer"), "thickness_nm": t}], "")[0]
        except InterphaseInputError as exc:
            raise InterphaseInputError("--dead-layer", f"{material} {text}: {exc.problem}") from None
        dead.append((row["material"], row["thickness_nm"]))
    out["dead_layers"] = dead
    built_in_phase(args.matrix, "--matrix")
    return out


def fit_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The ``fit`` flags that are ``[fit]`` keys, checked (None where not given)."""
    from interphase_sim.core.settings import FIT

    out = {key: None if getattr(args, key) is None else FIT[key].read(getattr(args, key), f"{flag} ([fit] {key})")
           for key, flag in FIT_FLAGS.items()}
    lo, hi = out["energy_min_keV"], out["energy_max_keV"]
    if lo is not None and hi is not None and not lo < hi:
        raise InterphaseInputError("--energy-min-keV", f"must be below --energy-max-keV, got {lo:g} and {hi:g} keV")
    return out


def for_the_command_line(exc: InterphaseInputError, how: dict[str, tuple[str, str]]) -> InterphaseInputError:
    """``exc`` with a reader's Python remedy (``give offset_eV= and dispersion_eV=``, ``as an
    argument``) replaced by what a command-line user does: ``how[kind] = (field, remedy)``,
    the remedy naming the flags or the sample file's table (``{table}`` is filled with the
    ``[fit] calibration`` line to write). Other errors are returned as they are."""
    from interphase_sim.core.settings import CALIBRATION

    kind = next((k for k, keys in CALIBRATION.items() if exc.field in keys), None)
    if kind is None or kind not in how or not re.search(r"\bgive\b", exc.problem):
        return exc
    what = re.sub(r":? give [^;]*", "", exc.problem).strip()
    keys = [k for k in CALIBRATION[kind] if k in exc.problem]
    table = "[fit] calibration = { %s = { %s } }" % (kind, ", ".join(f"{k} = ..." for k in keys))
    field, remedy = how[kind]
    return InterphaseInputError(field, f"{what}: {remedy.format(table=table)}")
