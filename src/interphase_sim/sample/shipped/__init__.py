"""Sample files shipped with the package (the demo's stacks; templates to copy).

``li_sei_lipon``: Li | multilayer-mosaic SEI | LiPON. ``lnmo_lipon``: LiPON | LNMO on Au.
"""

from __future__ import annotations

import os
from importlib import resources

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["names", "path", "load", "text", "read"]


def names() -> list[str]:
    """Names of the shipped sample files (without ``.toml``)."""
    return sorted(f.name[:-5] for f in resources.files(__package__).iterdir() if f.name.endswith(".toml"))


def text(name: str) -> str:
    """The TOML text of a shipped sample."""
    if name not in names():
        raise InterphaseInputError("sample", f"unknown shipped sample {name!r}; available: {', '.join(names())}")
    return (resources.files(__package__) / f"{name}.toml").read_text(encoding="utf-8")


def path(name: str):
    """A path-like to a shipped sample file."""
    text(name)  # validates the name
    return resources.files(__package__) / f"{name}.toml"


def load(name: str):
    """The shipped sample ``name`` as a Stack."""
    from interphase_sim.sample.stack import Stack

    return Stack.from_toml_string(text(name))


def read(spec: str | os.PathLike):
    """A Stack from a sample file's path, or from a shipped sample's name.

    ``spec`` is read as a path when such a file exists (a folder does not count); otherwise a bare name such as
    ``"li_sei_lipon"`` (or ``"li_sei_lipon.toml"``) loads the shipped sample, so the
    command line takes ``interphase-sim simulate hrtem li_sei_lipon ...``.
    """
    from interphase_sim.sample.stack import Stack

    text_spec = os.fspath(spec)
    if not os.path.isfile(text_spec):
        name = text_spec[:-5] if text_spec.endswith(".toml") else text_spec
        if os.path.basename(name) == name and name in names():
            return load(name)
        raise InterphaseInputError(
            "sample file",
            f"cannot read {text_spec}: no such file, and not a shipped sample ({', '.join(names())})",
        )
    return Stack.from_toml(text_spec)
