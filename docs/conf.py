"""Sphinx configuration of the interphase_sim documentation.

Build (warnings are errors, as in CI)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network: intersphinx is not used. The sample-file reference
(``docs/_generated/settings_reference.md``) is written at build time from
:data:`interphase_sim.core.settings.TABLES` by the local extension
``docs/_ext/sample_reference.py``. The examples of ``examples/`` run in their quick mode
(``INTERPHASE_SIM_QUICK=1``); set ``INTERPHASE_SIM_DOCS_RUN_EXAMPLES=0`` to render them
without running them (a fast local build of the prose and the API pages).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# The examples run in their quick mode (seconds each), before anything imports the package.
os.environ["INTERPHASE_SIM_QUICK"] = "1"
os.environ.setdefault("MPLBACKEND", "agg")
# No progress bars in the build log.
os.environ.setdefault("TQDM_DISABLE", "1")

sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT / "src"))

import interphase_sim  # noqa: E402

# -- project ---------------------------------------------------------------------------

project = "interphase_sim"
author = "interphase_sim developers"
copyright = "interphase_sim developers (GPL-3.0-or-later)"
version = release = interphase_sim.__version__

# -- extensions ------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sample_reference",  # docs/_ext: the sample-file reference from core.settings
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "_generated",  # included by sample-file.md
    "**.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "sg_execution_times.rst",
]
templates_path = ["_templates"]

# Cross-references: nitpicky off (numpy, scipy and ase types are not linked; no
# intersphinx, so the build never touches the network).
nitpicky = False
default_role = "py:obj"

# -- MyST (Markdown pages) -------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "amsmath", "attrs_inline"]
myst_heading_anchors = 3

# -- autodoc / autosummary / numpydoc -------------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = False  # a package's __all__ lists what it offers
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types and units
autodoc_preserve_defaults = True

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()  # style is reviewed in code review, not here

# -- sphinx-gallery --------------------------------------------------------------------

_run_examples = os.environ.get("INTERPHASE_SIM_DOCS_RUN_EXAMPLES", "1") != "0"
# INTERPHASE_SIM_DOCS_GALLERY=0 leaves the gallery out altogether (a stub page stands in):
# for quick local builds of the prose and the API while the examples are being edited.
_gallery = os.environ.get("INTERPHASE_SIM_DOCS_GALLERY", "1") != "0"
_EXAMPLES = ROOT / "examples"
if _gallery and not any((_EXAMPLES / f"{name}{ext}").is_file()
                        for name in ("GALLERY_HEADER", "README") for ext in (".rst", ".txt")):
    raise RuntimeError(f"{_EXAMPLES} has no GALLERY_HEADER.rst: sphinx-gallery needs it for the examples' index "
                       "(or build with INTERPHASE_SIM_DOCS_GALLERY=0 to leave the gallery out)")
if not _gallery:
    extensions.remove("sphinx_gallery.gen_gallery")
    _stub = DOCS / "auto_examples" / "index.rst"
    _stub.parent.mkdir(exist_ok=True)
    _text = "Examples\n========\n\nThis build leaves the gallery out (``INTERPHASE_SIM_DOCS_GALLERY=0``).\n"
    if not _stub.is_file() or _stub.read_text() != _text:
        _stub.write_text(_text)

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # every example script runs, whatever it is called (the set of examples may change)
    "filename_pattern": r"\.py$",
    "ignore_pattern": r"(__init__|conftest)\.py$",
    "plot_gallery": "True" if _run_examples else "False",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": False,  # all failures are reported together, then the build fails
    "show_memory": False,
    "write_computation_times": False,
    "min_reported_time": 1,
}

# -- HTML ------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"interphase_sim {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_depth": 3,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "use_edit_page_button": False,
    "icon_links": [],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting-started": [], "validation": [], "scaling": [], "references": []}
html_show_sourcelink = False
html_last_updated_fmt = None  # deterministic output


# -- API pages: one index entry per class ---------------------------------------------
#
# A package re-exports classes from its modules (``interphase_sim.Phase``,
# ``interphase_sim.sample.phases.Phase``, defined in ``interphase_sim.sample.phases.phase``).
# autodoc registers every re-export under the defining module's (canonical) name, so two
# re-exports of one class clash ("duplicate object description"). The shortest re-exported
# name of such a class keeps its index entry; the others are marked :no-index: by the
# class template (docs/_templates/autosummary/class.rst).


def _alias_clashes() -> list[str]:
    import importlib
    import pkgutil

    aliases: dict[str, list[str]] = {}
    names = ["interphase_sim"] + [m.name for m in pkgutil.walk_packages(interphase_sim.__path__, "interphase_sim.")
                                  if not any(part.startswith("_") for part in m.name.split("."))]
    for modname in names:
        try:
            mod = importlib.import_module(modname)
        except Exception:  # a module being written: autosummary reports it
            continue
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if isinstance(obj, type):
                canonical = f"{obj.__module__}.{obj.__qualname__}"
                if canonical != f"{modname}.{name}":
                    aliases.setdefault(canonical, []).append(f"{modname}.{name}")
    return sorted(a for names in aliases.values() if len(names) > 1
                  for a in sorted(set(names), key=lambda n: (len(n), n))[1:])


#: Modules left out of the API pages, each with its reason (none now).
EXCLUDED_MODULES: dict[str, str] = {}

autosummary_context = {"noindex_aliases": _alias_clashes(), "exclude_modules": sorted(EXCLUDED_MODULES)}


# -- docstrings: plain-text absolute values --------------------------------------------
#
# The docstrings write absolute values as plain text, ``|x|``; reStructuredText would
# read ``|x|`` as a substitution reference (an error). Outside ``literals`` such a word
# between pipes is escaped before numpydoc and docutils see it.

import re  # noqa: E402

_ABS = re.compile(r"(?<![\\|`\w])\|(\w+)\|(?![|`\w])")
_LITERAL = re.compile(r"(``.+?``)")


def _escape_abs(app, what, name, obj, options, lines) -> None:
    for i, line in enumerate(lines):
        if "|" in line:
            parts = _LITERAL.split(line)
            lines[i] = "".join(p if p.startswith("``") else _ABS.sub(r"\\|\1\\|", p) for p in parts)


def setup(app) -> None:
    app.connect("autodoc-process-docstring", _escape_abs, priority=100)
