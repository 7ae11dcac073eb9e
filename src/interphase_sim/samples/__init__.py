"""Sample files shipped with the package (the demo's stacks; templates to copy).

``li_sei_lipon``: Li | multilayer-mosaic SEI | LiPON. ``lnmo_lipon``: LiPON | LNMO on Au.
"""

from __future__ import annotations

from importlib import resources

from ..errors import InterphaseInputError

__all__ = ["names", "path", "load", "text"]


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
    from ..stack import Stack

    return Stack.from_toml_string(text(name))
