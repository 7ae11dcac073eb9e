"""The validation report: rows of reference comparisons, grouped in sections, written out.

A *check* is a function ``check(ctx: Context) -> Section``; :data:`CHECKS` lists them in
report order (each validation module registers its own with :func:`register`). Each
:class:`Row` holds one comparison: the reference value and where it comes from, the
package's value, their difference, the tolerance and the verdict. A check whose optional
peer (exspy, pycatima) is missing returns rows with the verdict ``"skipped"`` and the
reason, never a silent pass.

:func:`run_validation` runs the checks and :meth:`Report.write` writes ``report.md``,
``report.json`` and the figures into a folder.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["Row", "Section", "Context", "Report", "CHECKS", "register", "run_validation", "compare",
           "VERDICTS"]

#: A row's verdict: within tolerance; outside it; outside, but a documented deviation of the
#: method (the note says which and why); not run (an optional peer missing, the note says which).
VERDICTS = ("pass", "fail", "known deviation", "skipped")


@dataclass
class Row:
    """One comparison of the package with a reference.

    Parameters
    ----------
    name : str
        What is compared, e.g. ``"alpha 2 MeV in Si: electronic stopping"``.
    reference : float
        The reference value (NaN when the reference is a statement, e.g. an identity).
    source : str
        Where the reference comes from (a table and its publication, a peer code and its
        version, or "exact" for an invariant).
    value : float
        The package's value.
    tolerance : float
        Largest accepted ``difference`` (same unit as ``difference``).
    unit : str
        Unit of ``reference`` and ``value``.
    relative : bool
        Whether ``difference`` is relative ((value - reference) / |reference|) or absolute.
    verdict : str, optional
        One of :data:`VERDICTS`; default ``"pass"`` when ``|difference| <= tolerance``,
        else ``"fail"``.
    note : str
        A sentence for the reader (a known deviation's reason, a skip's reason).
    """

    name: str
    reference: float
    source: str
    value: float
    tolerance: float
    unit: str = ""
    relative: bool = True
    verdict: str = ""
    note: str = ""
    difference: float = field(default=math.nan, init=False)

    def __post_init__(self) -> None:
        self.reference = float(self.reference)
        self.value = float(self.value)
        self.tolerance = float(self.tolerance)
        if self.relative:
            self.difference = ((self.value - self.reference) / abs(self.reference)
                               if self.reference != 0 else math.inf * np.sign(self.value))
        else:
            self.difference = self.value - self.reference
        if not self.verdict:
            ok = math.isfinite(self.difference) and abs(self.difference) <= self.tolerance
            if math.isnan(self.reference) and math.isfinite(self.value):  # a statement checked by value only
                ok = abs(self.value) <= self.tolerance
            self.verdict = "pass" if ok else "fail"
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}: one of {VERDICTS}")

    @classmethod
    def skipped(cls, name: str, source: str, reason: str) -> Row:
        """A row that could not run (``reason``: e.g. "exspy is not installed")."""
        return cls(name, math.nan, source, math.nan, math.nan, verdict="skipped", note=reason)

    @property
    def ok(self) -> bool:
        """Passed, a documented deviation, or skipped with its reason."""
        return self.verdict != "fail"


def compare(name: str, reference: float, value: float, tolerance: float, source: str, *, unit: str = "",
            relative: bool = True, known: str = "", note: str = "") -> Row:
    """A :class:`Row`; when it falls outside ``tolerance`` and ``known`` is given (the
    documented reason), its verdict is ``"known deviation"`` with that reason as its note."""
    row = Row(name, reference, source, value, tolerance, unit=unit, relative=relative, note=note)
    if row.verdict == "fail" and known:
        row.verdict, row.note = "known deviation", known
    return row


@dataclass
class Section:
    """One part of the report: a title, a paragraph saying what is checked and how, its
    rows and its figures (file names inside the report folder)."""

    title: str
    text: str = ""
    rows: list[Row] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    wall_time_s: float = math.nan
    key: str = ""  # the check that made it (``run_validation`` sets it)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Section:
        """A section of ``report.json`` (``Report.to_dict``) as the check returned it."""
        def number(v: Any) -> float:
            return math.nan if v is None else float(v)

        rows = [Row(r["name"], number(r["reference"]), r["source"], number(r["value"]), number(r["tolerance"]),
                    unit=r["unit"], relative=r["relative"], verdict=r["verdict"], note=r["note"]) for r in d["rows"]]
        return cls(d["title"], d["text"], rows, [tuple(f) for f in d["figures"]], number(d["wall_time_s"]),
                   d.get("key", ""))

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


@dataclass
class Context:
    """What a check is given: the report folder (figures go in it), quick or full mode and
    the seed of every random step (checks spawn their own children from it)."""

    out: Path
    quick: bool = True
    seed: int = 1

    def figure_path(self, name: str) -> Path:
        """Where a figure called ``name`` (e.g. ``"ndp_detectability.png"``) is saved."""
        return self.out / name

    def rng(self, key: str) -> np.random.Generator:
        """A Generator for the check ``key``, the same in every run with this seed."""
        digest = [int.from_bytes(key.encode()[i:i + 4].ljust(4, b"\0"), "little") for i in range(0, len(key), 4)]
        return np.random.default_rng(np.random.SeedSequence([int(self.seed), *digest]))


#: (key, check) in report order.
CHECKS: list[tuple[str, Callable[[Context], Section]]] = []


def register(key: str) -> Callable[[Callable[[Context], Section]], Callable[[Context], Section]]:
    """Decorator: add a check under ``key`` (e.g. ``"stopping"``) to :data:`CHECKS`."""

    def add(fn: Callable[[Context], Section]) -> Callable[[Context], Section]:
        if key not in dict(CHECKS):
            CHECKS.append((key, fn))
        return fn

    return add


@dataclass
class Report:
    """The sections of one validation run, with its mode and run time."""

    sections: list[Section]
    quick: bool
    seed: int
    wall_time_s: float
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> list[Row]:
        return [r for s in self.sections for r in s.rows]

    @property
    def ok(self) -> bool:
        """Every row passed, is a documented deviation or was skipped with a reason."""
        return all(s.ok for s in self.sections)

    def counts(self) -> dict[str, int]:
        return {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}

    def to_dict(self) -> dict[str, Any]:
        return {"quick": self.quick, "seed": self.seed, "wall_time_s": self.wall_time_s, "ok": self.ok,
                "counts": self.counts(), "versions": self.versions,
                "sections": [{**{k: v for k, v in asdict(s).items() if k != "rows"},
                              "rows": [_finite(asdict(r)) for r in s.rows]} for s in self.sections]}

    def markdown(self) -> str:
        """The report as Markdown: a summary, then a table and figures per section."""
        c = self.counts()
        mode = "quick" if self.quick else "full"
        lines = ["# interphase_sim validation report", "",
                 f"Mode: {mode} (seed {self.seed}), run time {self.wall_time_s:.0f} s. "
                 f"{c['pass']} rows pass, {c['fail']} fail, {c['known deviation']} are documented known "
                 f"deviations, {c['skipped']} were skipped (their reason given).", "",
                 "Versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()), ""]
        for s in self.sections:
            lines += [f"## {s.title}", "", s.text, "", _table(s.rows), ""]
            lines += [f"![{cap}]({name})\n\n*{cap}*\n" for name, cap in s.figures]
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out: str | Path) -> list[Path]:
        """Write ``report.md`` and ``report.json`` into ``out`` (the figures are there
        already); returns the paths of every file of the report."""
        from interphase_sim.core.fileio import atomic_write_text

        out = Path(out)
        atomic_write_text(out / "report.md", self.markdown())
        atomic_write_text(out / "report.json", json.dumps(self.to_dict(), indent=2))
        return [out / "report.md", out / "report.json", *[out / n for s in self.sections for n, _ in s.figures]]


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or inf: they become None."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _fmt(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.4g}"


def _table(rows: Iterable[Row]) -> str:
    head = "| check | reference | source | value | difference | tolerance | verdict |\n|---|---|---|---|---|---|---|"
    body = []
    for r in rows:
        diff = _fmt(100 * r.difference) + " %" if r.relative and math.isfinite(r.difference) else _fmt(r.difference)
        tol = _fmt(100 * r.tolerance) + " %" if r.relative and math.isfinite(r.tolerance) else _fmt(r.tolerance)
        unit = f" {r.unit}" if r.unit else ""
        verdict = r.verdict + (f": {r.note}" if r.note else "")
        body.append(f"| {r.name} | {_fmt(r.reference)}{unit if math.isfinite(r.reference) else ''} | {r.source} | "
                    f"{_fmt(r.value)}{unit if math.isfinite(r.value) else ''} | {diff} | {tol} | {verdict} |")
    return "\n".join([head, *body])


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("interphase_sim", "numpy", "scipy", "abtem", "ase", "pymatgen", "exspy", "pycatima"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def run_validation(out: str | Path, *, quick: bool = True, seed: int = 1, only: Iterable[str] | None = None,
                   progress: bool = False) -> Report:
    """Run the checks (all, or the keys in ``only``) and return the :class:`Report`.

    Parameters
    ----------
    out : path
        Folder for the figures (made if missing); :meth:`Report.write` adds the text.
    quick : bool
        The quick mode (minutes; CI runs it); the full mode runs the long studies in full.
    seed : int
        Seed of every random step.
    only : iterable of str, optional
        Keys of :data:`CHECKS` to run.
    progress : bool
        A progress bar over the checks (tqdm, on stderr).
    """
    from interphase_sim.core.progress import Stages
    from interphase_sim.validation import load_checks

    load_checks()
    keys = dict(CHECKS)
    chosen = list(only) if only is not None else list(keys)
    unknown = [k for k in chosen if k not in keys]
    if unknown:
        raise InterphaseInputError("only", f"unknown check {unknown[0]!r}; choose from {', '.join(keys)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out, quick=quick, seed=seed)
    t0 = time.perf_counter()
    sections = []
    with Stages(chosen, "validate", progress) as stages:
        for key in chosen:
            stages.next(key)
            t = time.perf_counter()
            section = keys[key](ctx)
            section.wall_time_s = time.perf_counter() - t
            section.key = key
            sections.append(section)
    return Report(sections, quick, seed, time.perf_counter() - t0, _versions())
