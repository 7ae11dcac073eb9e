"""The atomistic build of a sample as one call: ``[build]`` settings in, a typed result out.

:func:`run_build` is what ``interphase-sim build`` and the demo do: it reads the sample's
``[build]`` table through :data:`interphase_sim.core.settings.BUILD` (keywords override
it), builds the model with :func:`~interphase_sim.build.atoms_from_stack` and times it.
Writing files is the caller's business.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.model import plain
from interphase_sim.core.settings import BUILD

__all__ = ["BuildRun", "build_settings", "run_build"]


@dataclass(frozen=True, eq=False)
class BuildRun:
    """What :func:`run_build` made.

    Attributes
    ----------
    atoms : ase.Atoms
        The model (Å; z = depth below the top surface), with per-atom ``layer``/``phase``
        arrays and its provenance in ``atoms.info``.
    settings : dict
        The ``[build]`` settings used (defaults < the sample's table < keywords).
    build_s : float
        Wall time of the build (s).
    """

    atoms: Any
    settings: dict[str, Any]
    build_s: float

    def layer_compositions(self) -> list[tuple[str, int, dict[str, int]]]:
        """(layer name, atoms, {element: count}) for every layer with atoms in the model."""
        names = [str(n) for n in self.atoms.info["layer_names"]]
        symbols = np.array(self.atoms.get_chemical_symbols())
        layer = np.asarray(self.atoms.arrays["layer"])
        out = []
        for i, name in enumerate(names):
            sel = layer == i
            if sel.any():
                elements, counts = np.unique(symbols[sel], return_counts=True)
                out.append((name, int(sel.sum()), {str(e): int(c) for e, c in zip(elements, counts)}))
        return out

    def summary(self) -> dict[str, Any]:
        """Plain JSON-able values: atoms, timing, cell (Å), the settings and the model's info."""
        n = len(self.atoms)
        return {"atoms": n, "seconds": self.build_s,
                "atoms_per_second": n / self.build_s if self.build_s > 0 else None,
                "cell_A": [float(x) for x in self.atoms.cell.lengths()], "settings": plain(self.settings),
                **plain(dict(self.atoms.info))}


def build_settings(stack: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``[build]`` settings of a run: defaults < the sample's table < ``overrides``
    (``None`` values leave the table's), each checked by the one vocabulary."""
    return BUILD.resolve(stack.sections.get("build", {}), overrides or {}, where="build")


def run_build(stack: Any, settings: dict[str, Any] | None = None, progress: bool = False) -> BuildRun:
    """Build a sample's atomistic model from its ``[build]`` table.

    Parameters
    ----------
    stack : Stack
        The sample.
    settings : dict, optional
        ``[build]`` keys overriding the table: ``lateral_nm`` (two edges, nm),
        ``depth_range_nm``, ``max_depth_nm``, ``semi_infinite_nm``, ``seed``,
        ``orientations``, ``correlation_nm``, ``max_atoms``. Without a ``seed`` one is
        drawn and recorded in the result's settings and ``atoms.info``.
    progress : bool
        A bar over the layers on stderr (see :func:`interphase_sim.core.progress.shown`).
    """
    from interphase_sim.build.assemble import atoms_from_stack
    from interphase_sim.core.progress import Stages

    s = build_settings(stack, settings)
    if s.get("seed") is None:  # drawn, and recorded with the model: a rerun with it rebuilds it
        s["seed"] = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
    t0 = time.perf_counter()
    try:
        with Stages([lay.name for lay in stack.layers], "build", progress) as stages:
            atoms = atoms_from_stack(stack, **s, progress=stages)
    except InterphaseInputError as exc:  # the builder names its keyword: say it is the [build] table's
        if exc.field.split(".")[0].split("[")[0] not in BUILD:
            raise
        raise InterphaseInputError(f"build.{exc.field}", exc.problem) from None
    return BuildRun(atoms=atoms, settings=s, build_s=time.perf_counter() - t0)
