"""One progress convention: tqdm bars on a terminal, nothing in a log file or with --quiet.

:func:`shown` decides once per command whether bars are drawn (stderr is a terminal and
the user did not ask for quiet). :class:`Stages` is a bar over a few named steps of
unequal length (building a lamella, the multislice, the phase map), which says what runs
now and how long it has run, rather than a percentage that jumps and sits.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["shown", "Stages", "bar"]


def shown(quiet: bool = False) -> bool:
    """Whether to draw progress bars: not ``quiet`` and stderr is a terminal."""
    return not quiet and sys.stderr.isatty()


def bar(total: int | None, desc: str, unit: str = "it", show: bool = True, **kw: Any) -> Any:
    """A tqdm bar on stderr (``show=False``: a silent one with the same methods)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show, dynamic_ncols=True, leave=False, **kw)


class Stages:
    """A bar over named stages: ``with Stages(["build", "image"], "hrtem", show) as s: s.next("build")``.

    Parameters
    ----------
    names : list of str
        The stages, in order.
    desc : str
        The bar's label.
    show : bool
        Draw it (see :func:`shown`).
    """

    def __init__(self, names: list[str], desc: str, show: bool) -> None:
        self.names = list(names)
        self._bar = bar(len(self.names), desc, "stage", show,
                        bar_format="{desc}: {n_fmt}/{total_fmt} stages, {postfix} [{elapsed}]")
        self._started = False

    @property
    def drawn(self) -> bool:
        """Whether the bar is drawn (a terminal, not quiet)."""
        return not self._bar.disable

    def next(self, name: str) -> None:
        """Mark the previous stage done and ``name`` running."""
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_postfix_str(name, refresh=True)

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._started and exc[0] is None:
            self._bar.update(1)
        self._bar.close()
