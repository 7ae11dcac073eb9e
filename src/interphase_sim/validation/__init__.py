"""Validation: the package checked against independent references, as a report.

``interphase-sim validate --out DIR [--quick]`` (or :func:`run_validation` with
:meth:`Report.write`) runs every comparison and writes ``report.md``, ``report.json`` and
figures; each row gives the reference and its source, the package's value, the
difference, the tolerance and a verdict.
"""

from __future__ import annotations

import importlib

from interphase_sim.validation.report import CHECKS, Context, Report, Row, Section, compare, register, run_validation

__all__ = ["CHECKS", "Context", "Report", "Row", "Section", "compare", "register", "run_validation", "load_checks"]

#: The modules whose checks make the report, in report order.
CHECK_MODULES = ("stopping", "ndp", "eels", "hrtem", "structures", "fitting", "studies")


def load_checks() -> None:
    """Import every check module (each registers its checks in :data:`CHECKS`); a module
    not written yet is left out."""
    for name in CHECK_MODULES:
        try:
            importlib.import_module(f"interphase_sim.validation.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"interphase_sim.validation.{name}":
                raise
