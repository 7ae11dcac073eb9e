"""``interphase-sim samples list|show|copy``: the shipped sample files, to read and to start from."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from interphase_sim.core.errors import InterphaseInputError


def add_samples_parser(sub: Any) -> None:
    """``samples list``, ``samples show NAME`` and ``samples copy NAME [DEST]``."""
    sp = sub.add_parser("samples", help="list, show or copy the shipped sample files",
                        description="The sample files shipped with the package: list them, print one, or copy "
                                    "one to start your own from.")
    ssub = sp.add_subparsers(dest="action", metavar="ACTION")
    ssub.required = True
    ssub.add_parser("list", help="the shipped samples, one line each").set_defaults(func=_cmd_list)
    show = ssub.add_parser("show", help="print a shipped sample file")
    show.add_argument("name", help="a shipped sample's name (see: interphase-sim samples list)")
    show.set_defaults(func=_cmd_show)
    copy = ssub.add_parser("copy", help="copy a shipped sample file to edit it")
    copy.add_argument("name", help="a shipped sample's name")
    copy.add_argument("dest", nargs="?", default=None, help="file or folder to copy to (default ./NAME.toml)")
    copy.add_argument("--overwrite", action="store_true", help="replace an existing file")
    copy.set_defaults(func=_cmd_copy)


def _title(text: str) -> str:
    """The sample's ``name`` from its [sample] table (the first one in the file)."""
    for line in text.splitlines():
        if line.strip().startswith("name ="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def _cmd_list(args: argparse.Namespace) -> int:
    from interphase_sim.sample import shipped

    for name in shipped.names():
        print(f"{name:16s} {_title(shipped.text(name))}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from interphase_sim.sample import shipped

    print(shipped.text(_name(args.name)), end="")
    return 0


def _cmd_copy(args: argparse.Namespace) -> int:
    from interphase_sim.core.fileio import atomic_write_text
    from interphase_sim.sample import shipped

    name = _name(args.name)
    dest = Path(args.dest) if args.dest else Path(f"{name}.toml")
    if dest.is_dir():
        dest = dest / f"{name}.toml"
    if dest.exists() and not args.overwrite:
        raise InterphaseInputError(str(dest), "exists: give --overwrite to replace it, or another destination")
    atomic_write_text(dest, shipped.text(name))
    print(f"wrote {dest} (a copy of the shipped sample {name}; edit it, then e.g. "
          f"interphase-sim simulate ndp {dest} --out results)")
    return 0


def _name(text: str) -> str:
    """A shipped sample's name (``.toml`` allowed), or a one-line error listing them."""
    from interphase_sim.sample import shipped

    name = text[:-5] if text.endswith(".toml") else text
    if name not in shipped.names():
        from interphase_sim.core.validate import did_you_mean

        raise InterphaseInputError("samples", f"no shipped sample {text!r}{did_you_mean(name, shipped.names())}; "
                                   f"available: {', '.join(shipped.names())}")
    return name
