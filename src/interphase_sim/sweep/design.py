"""What a sweep varies: the ``[sweep]`` table as a checked design, and its points.

A :class:`SweepDesign` names dotted Parameters of the sample and of its instruments
(``SEI.thickness_nm``, ``SEI.phases.Li2O``, ``ndp.fwhm_keV``, ``eels.probe_fwhm_nm``) and
gives each a scipy.stats distribution (looked up by name, never evaluated) or, for a grid,
its values::

    [sweep]
    samples = 1000
    seed = 1
    design = "sobol"                  # "random" | "sobol" | "lhs" | "grid"
    instruments = ["ndp", "eels"]
    outputs = ["noisy", "expected"]
    [sweep.parameters]
    "SEI.thickness_nm" = { dist = "uniform", low = 10, high = 100 }
    "ndp.fwhm_keV" = { dist = "norm", loc = 20, scale = 2 }

``uniform`` takes ``low`` and ``high`` (scipy's ``loc`` and ``scale`` also work); every
other distribution takes scipy's own arguments. A grid parameter takes ``values = [...]``,
or ``low``, ``high`` and ``num``; the grid is their product, and ``samples`` (if given)
must equal its size. Random designs draw uniform numbers (numpy, or scipy.stats.qmc's
scrambled Sobol' and Latin hypercube) and map them through each distribution's inverse
CDF, so one seed fixes every point. Each sample also gets its own seed, spawned from the
sweep seed (:meth:`SweepDesign.sample_seeds`): sample i is the same whatever the batch
or the worker that computes it.

Everything is checked before anything runs: an unknown key, distribution or parameter
name (with the closest names), a parameter that is not free to vary in a sweep (a
semi-infinite thickness), and any drawn value outside the Parameter's physical range
(:meth:`SweepDesign.check_points`) is a one-line error naming the field.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats
from scipy.stats import qmc

from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.settings import SWEEP

__all__ = ["SweepParameter", "SweepDesign", "DESIGNS"]

DESIGNS = ("random", "sobol", "lhs", "grid")
#: Where the sweep description lives in a sample file.
WHERE = "sweep"


@dataclass(frozen=True)
class SweepParameter:
    """One swept Parameter: its dotted name and a frozen distribution, or grid values."""

    name: str
    spec: dict[str, Any]
    dist: Any = None
    values: np.ndarray | None = None

    @classmethod
    def read(cls, name: str, spec: Any, grid: bool) -> SweepParameter:
        """From the table ``{dist, ...}`` (or ``{values}`` / ``{low, high, num}`` on a grid)."""
        where = f"{WHERE}.parameters.{name}"
        if not isinstance(spec, Mapping):
            raise InterphaseInputError(where, 'expected a table such as { dist = "uniform", low = 10, high = 100 }')
        spec = dict(spec)
        if grid:
            return cls(name, spec, values=_grid_values(spec, where))
        if "dist" not in spec:
            raise InterphaseInputError(where, 'needs a distribution: { dist = "uniform", low = 10, high = 100 }')
        return cls(name, spec, dist=_distribution(spec, where))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at uniform numbers ``u`` in [0, 1) (the inverse CDF)."""
        return np.asarray(self.dist.ppf(u), dtype=float)


def _distribution(spec: dict[str, Any], where: str) -> Any:
    """A frozen scipy.stats continuous distribution from its name and arguments."""
    name = spec["dist"]
    dist = getattr(scipy.stats, str(name), None) if isinstance(name, str) else None
    if not isinstance(dist, scipy.stats.rv_continuous):
        known = ("uniform", "norm", "truncnorm", "lognorm", "loguniform", "beta", "gamma", "triang")
        raise InterphaseInputError(f"{where}.dist", f"{name!r} is not a scipy.stats continuous distribution"
                                   f"{V.did_you_mean(str(name), known)}; e.g. {', '.join(known)}")
    args = {k: v for k, v in spec.items() if k != "dist"}
    if str(name) == "uniform" and ("low" in args or "high" in args):
        low, high = V.number(args.pop("low", None), f"{where}.low"), V.number(args.pop("high", None), f"{where}.high")
        if not high > low:
            raise InterphaseInputError(f"{where}.high", f"must be > low ({low}), got {high}")
        args.update(loc=low, scale=high - low)
    for k, v in args.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InterphaseInputError(f"{where}.{k}", f"expected a finite number, got {v!r}")
    try:
        frozen = dist(**args)
        probe = frozen.ppf([0.001, 0.5, 0.999])
    except (TypeError, ValueError) as exc:
        raise InterphaseInputError(where, f"bad arguments for {name}: {exc}") from None
    if not np.all(np.isfinite(probe)):
        raise InterphaseInputError(where, f"{name} with {args} has no finite values to draw")
    return frozen


def _grid_values(spec: dict[str, Any], where: str) -> np.ndarray:
    """A grid axis from ``values = [...]`` or ``low``, ``high`` and ``num``."""
    if "values" in spec:
        V.unknown_keys(spec, ("values",), where)
        vals = V.finite_array(spec["values"], f"{where}.values", ndim=1)
    else:
        V.unknown_keys(spec, ("low", "high", "num"), where)
        if not {"low", "high", "num"} <= set(spec):
            raise InterphaseInputError(where, "a grid takes values = [...], or low, high and num")
        low, high = V.number(spec["low"], f"{where}.low"), V.number(spec["high"], f"{where}.high")
        num = V.integer(spec["num"], f"{where}.num", 1, 10**6)
        vals = np.linspace(low, high, num)
    return np.asarray(vals, dtype=float)


@dataclass(frozen=True)
class SweepDesign:
    """A checked ``[sweep]`` description.

    Attributes
    ----------
    samples : int
        Number of design points.
    seed : int
        Seeds the points and the per-sample seeds (drawn from entropy when the table has
        none, and recorded, so a sweep is always reproducible from its store).
    design : str
        One of :data:`DESIGNS`.
    instruments : tuple of str
        The instruments simulated at each point.
    outputs : tuple of str
        ``"noisy"`` and/or ``"expected"``.
    parameters : tuple of SweepParameter
    batch_size : int or None
        Samples per task (None: chosen by the engine).
    hrtem_device : str
        ``"cpu"``, ``"gpu"`` or ``"auto"`` (a worker's GPU when cupy finds one): where
        HRTEM samples run. Images from a GPU agree with the CPU's to float32 rounding,
        not bit for bit, so a store records which was asked for.
    """

    samples: int
    seed: int
    design: str
    instruments: tuple[str, ...]
    outputs: tuple[str, ...]
    parameters: tuple[SweepParameter, ...]
    batch_size: int | None = None
    hrtem_device: str = "cpu"
    table: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, **overrides: Any) -> SweepDesign:
        """From a ``[sweep]`` table (a sample file's, or a dict), keywords overriding it."""
        raw = {**dict(table or {}), **{k: v for k, v in overrides.items() if v is not None}}
        s = SWEEP.resolve(raw, {}, where=WHERE)
        params = s.get("parameters") or {}
        if not params:
            raise InterphaseInputError(f"{WHERE}.parameters", 'name what to vary, e.g. [sweep.parameters] '
                                       '"LAYER.thickness_nm" = { dist = "uniform", low = 10, high = 100 }')
        grid = s["design"] == "grid"
        swept = tuple(SweepParameter.read(str(n), spec, grid) for n, spec in params.items())
        samples = _sample_count(s.get("samples"), swept, grid)
        seed = s.get("seed")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(2, np.uint64)[0] >> np.uint64(1))
        instruments = tuple(s.get("instruments") or ("ndp",))
        outputs = tuple(s.get("outputs") or ("noisy",))
        return cls(samples=samples, seed=int(seed), design=s["design"], instruments=instruments, outputs=outputs,
                   parameters=swept, batch_size=s.get("batch_size"), hrtem_device=s["hrtem_device"], table=raw)

    @property
    def names(self) -> list[str]:
        """The swept Parameters' dotted names, in table order."""
        return [p.name for p in self.parameters]

    def points(self) -> dict[str, np.ndarray]:
        """``{name: (samples,) values}``: the design's points, the same for the same seed."""
        if self.design == "grid":
            grid = list(itertools.product(*[p.values for p in self.parameters]))
            arr = np.array(grid, dtype=float).reshape(len(grid), len(self.parameters))
            return {p.name: arr[:, j] for j, p in enumerate(self.parameters)}
        u = self._uniform()
        return {p.name: p.ppf(u[:, j]) for j, p in enumerate(self.parameters)}

    def _uniform(self) -> np.ndarray:
        """(samples, d) uniform numbers in (0, 1) from the design's generator."""
        d = len(self.parameters)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(2)[0])
        if self.design == "random":
            u = rng.random((self.samples, d))
        elif self.design == "sobol":
            engine = qmc.Sobol(d, scramble=True, seed=rng)
            m = math.ceil(math.log2(max(self.samples, 1)))
            u = engine.random_base2(m)[: self.samples]  # a power of two keeps the balance properties
        else:
            u = qmc.LatinHypercube(d, seed=rng).random(self.samples)
        return np.clip(u, 1e-12, 1.0 - 1e-12)  # the inverse CDF of an unbounded law is infinite at 0 and 1

    def sample_seeds(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start,) uint64 seeds of samples ``start .. stop - 1`` (default all), one
        per sample, spawned from the sweep seed: sample i's noise is the same whatever
        computes it. All of them are made once per process and sweep (10^4 spawned
        sequences take ~0.3 s); a range alone costs only its own samples."""
        stop = self.samples if stop is None else int(stop)
        if start == 0 and stop == self.samples:
            return _sample_seeds(int(self.seed), int(self.samples)).copy()
        return np.array([self.sample_seed(i) for i in range(int(start), stop)], dtype=np.uint64)

    def sample_seed(self, i: int) -> int:
        """Sample ``i``'s seed alone: child ``i`` of the sweep seed's second child."""
        child = np.random.SeedSequence(self.seed, spawn_key=(1, int(i)))
        return int(child.generate_state(1, np.uint64)[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain values (what a store records): the resolved description."""
        return {"samples": self.samples, "seed": self.seed, "design": self.design,
                "instruments": list(self.instruments), "outputs": list(self.outputs),
                "batch_size": self.batch_size, "hrtem_device": self.hrtem_device,
                "parameters": {p.name: dict(p.spec) for p in self.parameters}}



@functools.lru_cache(maxsize=4)
def _sample_seeds(seed: int, samples: int) -> np.ndarray:
    """:meth:`SweepDesign.sample_seeds` of a sweep seed and sample count."""
    children = np.random.SeedSequence(seed).spawn(2)[1].spawn(samples)
    return np.array([c.generate_state(1, np.uint64)[0] for c in children], dtype=np.uint64)

def _sample_count(samples: int | None, swept: tuple[SweepParameter, ...], grid: bool) -> int:
    """The number of points: the table's, or the grid's size (which a given count must equal)."""
    if grid:
        size = int(np.prod([p.values.size for p in swept]))
        if samples is not None and samples != size:
            raise InterphaseInputError(f"{WHERE}.samples", f"the grid has {size} points, got samples = {samples}")
        return size
    if samples is None:
        raise InterphaseInputError(f"{WHERE}.samples", "how many points? give samples = N (N >= 1)")
    return int(samples)


# -- the design against a sample ------------------------------------------------------------
def parameter_ranges(stack: Any, instruments: tuple[str, ...]) -> dict[str, V.Range]:
    """Every dotted name a sweep over ``stack`` and ``instruments`` may vary, with the
    physical range a value must lie in: the layers' ranges, phase weights >= 0, densities
    > 0, the 6Li abundance in [0, 1], each instrument table's numbers in their ranges, and the other
    Parameters of the NDP and EELS models (stopping and cross-section scales, ...) within
    their bounds."""
    from interphase_sim.core.settings import TABLES
    from interphase_sim.registry import instruments as registry
    from interphase_sim.sample.stack import LAYER_RANGES

    out: dict[str, V.Range] = {}
    for name, p in stack.parameters().items():
        key = name.rsplit(".", 1)[-1]
        if name.startswith("phases.") and name.endswith(".density"):
            out[name] = V.Range(0.0, 30.0, low_open=True, units="g/cm3")
        elif ".phases." in name or ".phases_bottom." in name:
            out[name] = V.Range(0.0, math.inf)
        elif key in LAYER_RANGES:
            lo, hi, lo_open = LAYER_RANGES[key]
            out[name] = V.Range(lo, hi, low_open=lo_open)
        else:
            out[name] = V.Range(*p.bounds)
        if key == "thickness_nm" and math.isinf(p.value):
            out.pop(name)  # a semi-infinite layer stays so
    for kind in instruments:
        table = TABLES[kind]
        if kind in ("ndp", "eels"):
            for name, p in registry[kind].from_stack(stack).parameters().items():
                if name.startswith(f"{kind}.") and name not in out:
                    out[name] = V.Range(*p.bounds)
        for setting in table.settings:  # the table's numbers (a microscope's defocus, dose, ...)
            if setting.kind in ("parameter", "number"):
                out[f"{kind}.{setting.name}"] = setting.range
    return out


def check_design(design: SweepDesign, stack: Any) -> dict[str, np.ndarray]:
    """The design's points, after checking every name against ``stack`` and its
    instruments and every drawn value against its physical range (one-line errors)."""
    ranges = parameter_ranges(stack, design.instruments)
    for p in design.parameters:
        if p.name not in ranges:
            raise InterphaseInputError(
                f"{WHERE}.parameters.{p.name}", f"not a Parameter of the sample or of {', '.join(design.instruments)}"
                f"{V.did_you_mean(p.name, list(ranges))}")
    points = design.points()
    for name, values in points.items():
        rng = ranges[name]
        bad = [v for v in (float(values.min()), float(values.max())) if not rng.contains(v)]
        if bad or not np.all(np.isfinite(values)):
            raise InterphaseInputError(f"{WHERE}.parameters.{name}", f"draws reach {bad[0] if bad else 'NaN'}, "
                                       f"outside its physical range {rng.text()}: narrow the distribution")
    return points
