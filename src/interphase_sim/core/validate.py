"""The one set of input checkers: every user-facing value passes through one of these.

Each checker takes the value and the dotted ``field`` that names it (``"ndp.fwhm_keV"``,
``"layers[1].thickness_nm"``, ``"--seed"``) and either returns the value in its checked
form or raises :class:`~interphase_sim.core.errors.InterphaseInputError` with one message
style: the field, what was given and the accepted range. A physical range is declared
once, as a :class:`Range`, and read wherever the quantity is checked.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from interphase_sim.core.errors import InterphaseInputError

__all__ = [
    "Range",
    "number",
    "integer",
    "boolean",
    "choice",
    "string",
    "finite_array",
    "increasing_axis",
    "pair",
    "unknown_keys",
    "did_you_mean",
    "as_rng",
    "seed",
]


@dataclass(frozen=True)
class Range:
    """A closed, open or half-open interval of accepted values, with units.

    Parameters
    ----------
    low, high : float
        Limits; ``-inf`` / ``inf`` for none.
    low_open, high_open : bool
        Whether the limit itself is excluded.
    units : str
        Units of the values, printed in messages.
    """

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    units: str = ""

    def contains(self, v: float) -> bool:
        """Whether ``v`` lies in the range (NaN never does)."""
        if math.isnan(v):
            return False
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def text(self) -> str:
        """The range as a user reads it, e.g. ``(0, 1000] keV`` or ``> 0 nm``."""
        u = f" {self.units}" if self.units else ""
        if math.isinf(self.high) and math.isinf(self.low):
            return f"any finite number{u}"
        if math.isinf(self.high):
            return f"{'>' if self.low_open else '>='} {self.low:g}{u}"
        if math.isinf(self.low):
            return f"{'<' if self.high_open else '<='} {self.high:g}{u}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}{u}"


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def number(value: Any, field: str, rng: Range = Range(), allow_inf: bool = False) -> float:
    """A float in ``rng``; booleans, strings, NaN (and +/-inf unless ``allow_inf``) are refused."""
    if not _is_number(value):
        raise InterphaseInputError(field, f"expected a number ({rng.text()}), got {value!r}")
    v = float(value)
    if math.isinf(v) and allow_inf and rng.contains(v):
        return v
    if not math.isfinite(v) or not rng.contains(v):
        raise InterphaseInputError(field, f"value {v} is outside the physical range {rng.text()}")
    return v


POSITIVE = Range(0.0, math.inf, low_open=True)
NON_NEGATIVE = Range(0.0, math.inf)


def positive(value: Any, field: str) -> float:
    """A finite number > 0."""
    return number(value, field, POSITIVE)


def non_negative(value: Any, field: str) -> float:
    """A finite number >= 0."""
    return number(value, field, NON_NEGATIVE)


def integer(value: Any, field: str, low: int | None = None, high: int | None = None) -> int:
    """An int (a whole float is not accepted: a count is written as one) in ``[low, high]``."""
    text = ("an integer" + (f" >= {low}" if low is not None and high is None else "")
            + (f" in [{low}, {high}]" if low is not None and high is not None else "")
            + (f" <= {high}" if high is not None and low is None else ""))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InterphaseInputError(field, f"expected {text}, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise InterphaseInputError(field, f"must be {text}, got {value!r}")
    return v


def boolean(value: Any, field: str) -> bool:
    """``True`` or ``False`` (TOML ``true`` / ``false``); 0, 1 and strings are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise InterphaseInputError(field, f"expected true or false, got {value!r}")
    return bool(value)


def string(value: Any, field: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InterphaseInputError(field, f"expected a non-empty text, got {value!r}")
    return value


def did_you_mean(key: str, allowed: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``allowed``, or an empty string."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def choice(value: Any, field: str, options: Iterable[Any]) -> Any:
    """One of ``options``, else an error listing them with the closest."""
    opts = list(options)
    if isinstance(value, (list, dict)) or value not in opts:
        raise InterphaseInputError(
            field, f"{value!r} is not one of {', '.join(map(str, opts))}{did_you_mean(value, map(str, opts))}")
    return value


def unknown_keys(table: Mapping[str, Any], allowed: Iterable[str], field: str) -> None:
    """Refuse any key of ``table`` not in ``allowed``, naming the closest allowed one."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            prefix = f"{field}." if field else ""
            raise InterphaseInputError(
                f"{prefix}{key}", f"unknown key{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}")


def finite_array(value: Any, field: str, units: str = "", ndim: int | None = None, min_size: int = 1) -> np.ndarray:
    """A float array with only finite entries (and ``ndim`` dimensions, ``min_size`` entries)."""
    u = f" ({units})" if units else ""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InterphaseInputError(field, f"expected numbers{u}, got {value!r}") from None
    if ndim is not None and arr.ndim != ndim:
        raise InterphaseInputError(field, f"expected a {ndim}-d array{u}, got shape {arr.shape}")
    if arr.size < min_size:
        raise InterphaseInputError(field, f"needs at least {min_size} values{u}, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise InterphaseInputError(field, f"has {int(np.sum(~np.isfinite(arr)))} non-finite values (NaN or inf)")
    return arr


def increasing_axis(value: Any, field: str, units: str = "", min_size: int = 2) -> np.ndarray:
    """A 1-d axis of at least ``min_size`` finite values, strictly increasing."""
    arr = finite_array(value, field, units, min_size=min_size).ravel()
    if np.any(np.diff(arr) <= 0):
        i = int(np.argmax(np.diff(arr) <= 0))
        raise InterphaseInputError(
            field, f"must increase strictly; value {i + 1} ({arr[i + 1]:g}) follows {arr[i]:g}"
            + (f" {units}" if units else ""))
    return arr


def pair(value: Any, field: str, rng: Range = Range(), increasing: bool = True) -> tuple[float, float]:
    """Two numbers ``(a, b)`` in ``rng``, with ``a < b`` when ``increasing``."""
    u = f" {rng.units}" if rng.units else ""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InterphaseInputError(field, f"expected two numbers [a, b]{u}, got {value!r}")
    items = list(value)
    if len(items) != 2:
        raise InterphaseInputError(field, f"expected two numbers [a, b]{u}, got {len(items)}")
    a, b = (number(v, f"{field}[{i}]", rng) for i, v in enumerate(items))
    if increasing and not a < b:
        raise InterphaseInputError(field, f"needs start < stop, got [{a:g}, {b:g}]{u}")
    return a, b


def seed(value: Any, field: str = "seed") -> int | None:
    """A random seed: ``None`` or an integer in ``[0, 2**63 - 1]`` (numpy refuses negatives)."""
    if value is None:
        return None
    return integer(value, field, 0, 2**63 - 1)


def as_rng(value: Any, field: str = "seed") -> np.random.Generator:
    """A numpy Generator from a Generator (kept), a SeedSequence, ``None`` or a seed."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, np.random.SeedSequence):
        return np.random.default_rng(value)
    return np.random.default_rng(seed(value, field))
