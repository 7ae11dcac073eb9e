"""The fuzz corpus's contract: exit status 2, one line naming the field, an empty --out.

Every case runs the CLI in-process; a case that starts computing instead of failing is
stopped by an alarm (a defect: every case must fail before any real work).
"""

from __future__ import annotations

import math
import re
import signal
import tomllib
from pathlib import Path

import tomli_w

from interphase_sim import samples
from interphase_sim.cli.main import main

LI = "li_sei_lipon"
LNMO = "lnmo_lipon"
#: seconds a case may run before it counts as "computing instead of failing"
LIMIT_S = 60


class _Computing(BaseException):
    """Raised by the alarm: the case got past every check and started working."""


def _alarm(signum, frame):
    raise _Computing(f"still running after {LIMIT_S} s: the input was not refused up front")


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """(exit status, stderr's non-blank lines) of ``interphase-sim ARGV``."""
    capsys.readouterr()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT_S)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    err = capsys.readouterr().err
    return code, [ln for ln in err.splitlines() if ln.strip()]


def refused(argv: list[str], capsys, out: Path, *names: str, pattern: str | None = None) -> str:
    """Assert the contract and return the error line; ``names`` (any one of) must be in it."""
    code, lines = run_cli(argv, capsys)
    text = "\n".join(lines)
    assert code == 2, f"status {code}: {text}"
    assert len(lines) == 1 and "Traceback" not in text, text
    line = lines[0]
    if names:
        assert any(n in line for n in names), f"none of {names} in: {line}"
    if pattern is not None:
        assert re.search(pattern, line), f"{pattern!r} not in: {line}"
    if out.exists():
        assert out.is_dir() and not any(out.iterdir()), f"--out holds {list(out.iterdir())}"
    return line


# --------------------------------------------------------------------------- sample files


def base_doc(name: str = LI) -> dict:
    """A shipped sample as a TOML document, with a [fit] and a [sweep] table."""
    doc = tomllib.loads(samples.text(name))
    doc.setdefault("fit", {"method": "least_squares"})
    doc.setdefault("sweep", {"samples": 4, "instruments": ["ndp"]})
    return doc


def write_doc(tmp_path: Path, doc: dict, name: str = "sample.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


#: The command that reads each table (a sample file error comes before any of them works).
COMMAND = {
    "ndp": ["simulate", "ndp"], "eels": ["simulate", "eels"], "hrtem": ["simulate", "hrtem"],
    "build": ["build"], "fit": ["fit"], "sweep": ["sweep"],
}


def command(table: str, sample: Path, out: Path) -> list:
    return [*COMMAND.get(table, ["simulate", "ndp"]), sample, "--out", out]


def set_key(doc: dict, where: str, value) -> None:
    """Set ``doc[a][b]...`` for ``where = "a.b"`` (a number indexes a list); ``...`` deletes."""
    node = doc
    *parents, last = where.split(".")
    for p in parents:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    key = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value


NAN, INF = math.nan, math.inf
