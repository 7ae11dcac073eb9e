"""Sphinx extension: the sample-file reference, generated from the package's own vocabulary.

Every key of every table of a sample file is declared once in the package:

- ``[ndp]``, ``[eels]``, ``[hrtem]``, ``[build]``, ``[fit]``, ``[sweep]``:
  :data:`interphase_sim.core.settings.TABLES` (name -> ``SettingTable`` of ``Setting``);
  the calibration keys of ``[fit] calibration`` in
  :data:`interphase_sim.core.settings.CALIBRATION`;
- ``[[layers]]``: :data:`interphase_sim.sample.toml_io.LAYER_KEYS`, their physical ranges in
  :data:`interphase_sim.sample.stack.LAYER_RANGES`, their meaning in the Parameters section
  of the :class:`~interphase_sim.Layer` docstring and their defaults in its signature;
- ``[sample]``: :data:`~interphase_sim.sample.toml_io.SAMPLE_KEYS` (described by the
  :class:`~interphase_sim.Stack` docstring);
- ``[phases.NAME]``: :data:`~interphase_sim.sample.toml_io.PHASE_KEYS`.

:func:`render` turns them into one Markdown (MyST) page; on ``builder-inited`` the
extension writes it to ``docs/_generated/settings_reference.md`` (only when its text
changed, so an unchanged reference does not trigger rebuilds), and
``docs/sample-file.md`` includes it. A key added to the code appears in the
documentation at the next build; a layer or phase key without a description fails the
build. The module imports Sphinx only in :func:`setup`, so tests can call :func:`render`
without it.
"""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path
from typing import Any

#: Where the page is written, relative to the documentation source folder.
OUTPUT = Path("_generated") / "settings_reference.md"

#: The meaning of each ``[phases.NAME]`` key (the code holds only the names; a key the
#: code adds without a line here fails the build).
PHASE_KEY_DOCS = {
    "formula": ("string", "", "—",
                "chemical formula of a custom amorphous phase (e.g. `\"Li2S\"`); needs `density`"),
    "density": ("number or {value, min, max, vary, prior}", "g/cm3", "the library's",
                "mass density; for a built-in amorphous phase (LiPON) it overrides the library's "
                "value and may be a fit parameter"),
    "cif": ("string", "", "—",
            "path of a CIF file, relative to the sample file: a crystalline phase (its density comes "
            "from the cell); takes no other key"),
}

#: The meaning of each ``[sample]`` key that the Stack docstring does not name the same way.
SAMPLE_KEY_DOCS = {
    "name": ("string", "", "—", "the sample's name, printed in tables and figures"),
}

#: Descriptions of keys whose Setting has no ``doc`` yet (``table.key``); the Setting's own
#: ``doc``, once written in core/settings.py, takes precedence.
FALLBACK_DOCS = {
    "fit.method": "optimizer: trust-region least squares, scipy's differential evolution (global), or L-BFGS-B",
    "sweep.seed": "seed of the design and of every sample's noise (each sample gets its own, spawned from it)",
    "sweep.design": "how the points are drawn: random, scrambled Sobol', Latin hypercube, or a grid",
    "sweep.instruments": "instruments simulated for each sample",
    "sweep.outputs": "what is stored: Poisson-noisy counts, the noise-free expected signal, or both",
    "sweep.batch_size": "samples per batch (default: at most 1024 samples and about 32 MB of output per batch)",
}

#: HRTEM groups: the [hrtem] keys split by what they set (names of core.settings tuples).
_HRTEM_GROUPS = (("MICROSCOPE_KEYS", "Microscope"), ("LAMELLA_KEYS", "Lamella"),
                 ("GRID_KEYS", "Multislice grid"), ("ANALYSIS_KEYS", "Phase map"))

#: A short sentence per table, after its heading.
_TABLE_INTRO = {
    "ndp": "Settings of the NDP forward model (`interphase_sim.ndp.NDPModel`); "
           "see {doc}`the NDP physics page </physics/ndp>`.",
    "eels": "Settings of the core-loss EELS model (`interphase_sim.eels.EELSModel`); "
            "see {doc}`the EELS physics page </physics/eels>`.",
    "hrtem": "Settings of the cross-section HRTEM model (`interphase_sim.hrtem.HRTEMModel`, on abTEM) and "
             "of its phase map; see {doc}`the HRTEM physics page </physics/hrtem>`. Lengths of the microscope "
             "and the grid are in Å, as in abTEM; sizes of the lamella in nm.",
    "build": "In Python: `interphase_sim.build.atoms_from_stack` and `interphase_sim.build.workflow.run_build`; "
             "see {doc}`atomistic models </physics/atomistic>`.",
    "fit": "In Python: `interphase_sim.jointfit.joint_fit`; see {doc}`fitting </physics/fitting>`.",
    "sweep": "A synthetic dataset over Parameters of the sample and its instruments "
             "(`interphase-sim sweep`); see {doc}`scaling out </scaling>`.",
}


# --------------------------------------------------------------------------- formatting


def _esc(text: Any) -> str:
    """Text for a Markdown table cell: pipes, angle brackets, stars and brackets escaped."""
    s = re.sub(r"\s+", " ", str(text))
    for a, b in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("*", "\\*"),
                 ("[", "\\["), ("]", "\\]"), ("`", "\\`"), ("$", "\\$")):
        s = s.replace(a, b)
    return s


_LITERAL = re.compile(r"``(.+?)``|`([^`]+)`|:[a-z:]+:`~?([^`]+)`")


def _prose(text: Any) -> str:
    """A description for a table cell: RST ``literals``, roles and Markdown `code` become
    inline code, everything else is escaped."""
    s = " ".join(str(text).split())
    out, pos = [], 0
    for m in _LITERAL.finditer(s):
        out.append(_esc(s[pos:m.start()]))
        out.append(_code(next(g for g in m.groups() if g is not None)))
        pos = m.end()
    out.append(_esc(s[pos:]))
    return "".join(out)


def _sci(text: str) -> str:
    """``1e+07`` -> ``1e7``, ``1e-05`` -> ``1e-5``."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)


def _code(text: Any) -> str:
    """Inline code in a table cell (a pipe inside code is still a cell separator)."""
    s = str(text).replace("|", "\\|")
    return f"`{s}`" if "`" not in s else f"``{s}``"


def _number(x: float) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return f"{x:,}".replace(",", "\u2009") if abs(x) >= 100_000 else str(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return _sci(f"{x:g}")


def _toml_value(v: Any) -> str:
    """A default as it would be written in a sample file."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return _code("true" if v else "false")
    if isinstance(v, (int, float)):
        return _code(_number(v))
    if isinstance(v, str):
        return _code(f'"{v}"')
    if isinstance(v, (list, tuple)):
        if not v:
            return _code("[]")
        return _code("[" + ", ".join(_toml_value(x).strip("`") for x in v) + "]")
    if isinstance(v, dict):
        return _code("{" + ", ".join(f"{k} = {_toml_value(x).strip('`')}" for k, x in v.items()) + "}")
    return _code(repr(v))


def _kind(setting: Any) -> str:
    kind = setting.kind
    if kind == "parameter":
        return "number or {value, min, max, vary, prior} (fittable)"
    if kind == "choice":
        return "one of " + ", ".join(_code(f'"{c}"') for c in setting.choices)
    if kind == "choices":
        return "list of " + ", ".join(_code(f'"{c}"') for c in setting.choices)
    if kind == "pair":
        return "two numbers [low, high], increasing"
    if kind == "seed":
        return "seed (integer >= 0)"
    if kind == "any":
        return "table or list (see description)"
    return kind


def _range(setting: Any) -> str:
    if setting.kind in ("parameter", "number", "integer", "pair"):
        rng = setting.range
        if math.isinf(rng.low) and math.isinf(rng.high):
            return "any finite number"
        if setting.kind == "integer":
            lo = "" if math.isinf(rng.low) else f"{int(math.ceil(rng.low)):d}"
            hi = "" if math.isinf(rng.high) else f"{int(math.floor(rng.high)):d}"
            if not hi:
                return f">= {lo}"
            if not lo:
                return f"<= {hi}"
            return f"{_number(int(lo))} to {_number(int(hi))}"
        text = rng.text()
        if rng.units:  # the unit has its own column
            text = text[: -len(rng.units) - 1]
        return _esc(_sci(text))
    return ""


def _units(setting: Any) -> str:
    u = setting.range.units if setting.kind in ("parameter", "number", "integer", "pair") else ""
    if not u:
        m = re.search(r"_(nm|A|eV|keV|mrad|deg|mm|GB|cm2)$", setting.name)
        u = {"A": "Å"}.get(m.group(1), m.group(1)) if m else ""
    return _esc(u) if u else ""


def _setting_rows(table: str, settings: Any) -> list[str]:
    rows = ["| key | kind | accepted range | unit | default | description |",
            "|---|---|---|---|---|---|"]
    for s in settings:
        doc = s.doc or FALLBACK_DOCS.get(f"{table}.{s.name}", "")
        rows.append(f"| {_code(s.name)} | {_kind(s)} | {_range(s)} | {_units(s)} | {_toml_value(s.default)} "
                    f"| {_prose(doc)} |")
    return rows


# --------------------------------------------------------------------------- the sections


def _parameters_section(obj: Any) -> dict[str, str]:
    """``name -> description`` from the numpydoc Parameters section of ``obj``'s docstring
    (a small parser, so that the generator needs neither numpydoc nor Sphinx)."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    out: dict[str, str] = {}
    try:
        start = next(i for i in range(len(lines) - 1)
                     if lines[i].strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"}) + 2
    except StopIteration:
        return out
    names: list[str] = []
    for i in range(start, len(lines)):
        line = lines[i]
        if line.strip() and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"} and not line.startswith(" "):
            break  # the next section
        if line and not line.startswith(" "):
            names = [n.strip() for n in line.split(" : ")[0].split(",")]
            for n in names:
                out[n] = ""
        elif names and line.strip():
            for n in names:
                out[n] = (out[n] + " " + line.strip()).strip()
    return out


def _layer_section() -> list[str]:
    from interphase_sim.sample.stack import LAYER_RANGES, Layer
    from interphase_sim.sample.toml_io import LAYER_KEYS, MAX_LAYER_THICKNESS_NM

    params = _parameters_section(Layer)
    sig = inspect.signature(Layer.__init__).parameters
    required = [k for k in LAYER_KEYS if k in sig and sig[k].default is inspect.Parameter.empty]
    out = ["(sample-layers)=", "### `[[layers]]`", "",
           "One table per layer, from the top surface (depth 0, the side that faces the NDP detector) "
           "downward. Required keys: " + ", ".join(_code(k) for k in required) + ". Every number may be "
           "a plain value or a `{ value, min, max, vary, prior }` table (a fit Parameter).", "",
           "| key | kind | accepted range | unit | default | description |", "|---|---|---|---|---|---|"]
    for key in LAYER_KEYS:
        if key not in params:
            raise RuntimeError(f"[[layers]] key {key!r} is not described in the Layer docstring's Parameters")
        desc = params[key]
        if key in LAYER_RANGES:
            lo, hi, lo_open = LAYER_RANGES[key]
            if key == "thickness_nm":
                hi = MAX_LAYER_THICKNESS_NM
            rng = f"{'(' if lo_open else '['}{_number(lo)}, {_number(hi)}]"
            if key == "thickness_nm":
                rng += ", or \"inf\" (last layer)"
            kind = "number or {value, min, max, vary, prior} (fittable)"
        elif key == "name":
            rng, kind = "no dots", "string"
        else:
            rng, kind = "weights >= 0, sum > 0", "table {phase = weight}"
        unit = "nm" if key.endswith("_nm") else ""
        d = sig[key].default if key in sig else inspect.Parameter.empty
        default = "required" if d is inspect.Parameter.empty else _toml_value(d)
        if key == "li6_abundance" and d is None:
            default = "the sample's"
        if key == "grain_size_nm" and d is None:
            default = "none (no grains)"
        out.append(f"| {_code(key)} | {_esc(kind)} | {_esc(rng)} | {unit} | {default} | {_prose(desc)} |")
    return out + [""]


def _sample_section() -> list[str]:
    from interphase_sim.sample.stack import NATURAL_LI6_ABUNDANCE, Stack
    from interphase_sim.sample.toml_io import SAMPLE_KEYS

    params = _parameters_section(Stack)
    out = ["(sample-sample)=", "### `[sample]`", "", "Sample-wide settings (the table is optional).", "",
           "| key | kind | accepted range | unit | default | description |", "|---|---|---|---|---|---|"]
    for key in SAMPLE_KEYS:
        if key in SAMPLE_KEY_DOCS:
            kind, unit, default, desc = SAMPLE_KEY_DOCS[key]
            out.append(f"| {_code(key)} | {_esc(kind)} | | {unit} | {default} | {_prose(desc)} |")
        elif key == "li6_abundance":
            desc = params[key]
            out.append(f"| {_code(key)} | number or {{value, min, max, vary, prior}} (fittable) | \\[0, 1\\] | "
                       f"atom fraction | {_toml_value(NATURAL_LI6_ABUNDANCE)} | {_prose(desc)} A systematic of "
                       "fits, with the prior N(0.0759, 0.002) unless given. |")
        elif key in params:
            desc = params[key]
            out.append(f"| {_code(key)} | | | | | {_prose(desc)} |")
        else:
            raise RuntimeError(f"[sample] key {key!r} has no description (docs/_ext/sample_reference.py)")
    return out + [""]


def _phase_section() -> list[str]:
    from interphase_sim.sample.toml_io import PHASE_KEYS

    missing = [k for k in PHASE_KEYS if k not in PHASE_KEY_DOCS]
    if missing:
        raise RuntimeError(f"[phases.NAME] keys {missing} have no description (docs/_ext/sample_reference.py)")
    out = ["(sample-phases)=", "### `[phases.NAME]`", "",
           "Optional: a custom phase, or a built-in amorphous phase's density as a parameter. A custom "
           "amorphous phase takes `formula` and `density`; a crystal takes `cif` alone.", "",
           "| key | kind | unit | default | description |", "|---|---|---|---|---|"]
    for key in PHASE_KEYS:
        kind, unit, default, desc = PHASE_KEY_DOCS[key]
        out.append(f"| {_code(key)} | {_esc(kind)} | {unit} | {default} | {_prose(desc)} |")
    return out + [""]


def _table_section(table: Any) -> list[str]:
    from interphase_sim.core import settings as S

    out = [f"(sample-table-{table.name})=", f"### `[{table.name}]`", ""]
    intro = _TABLE_INTRO.get(table.name, "")
    out += [f"{table.doc[:1].upper()}{table.doc[1:]}." + (f" {intro}" if intro else ""), ""]
    if table.name == "hrtem":
        done: set[str] = set()
        for attr, title in _HRTEM_GROUPS:
            keys = [k for k in getattr(S, attr, ()) if k in table]
            if keys:
                out += [f"#### {title}", "", *_setting_rows(table.name, (table[k] for k in keys)), ""]
                done.update(keys)
        rest = [k for k in table if k not in done]
        if rest:
            out += ["#### Other keys", "", *_setting_rows(table.name, (table[k] for k in rest)), ""]
    else:
        out += [*_setting_rows(table.name, table.settings), ""]
    if table.name == "fit":
        out += ["#### `[fit] calibration`", "",
                "`calibration = { instrument = { key = value } }` gives what a measured data file lacks "
                "(the same keywords as `interphase_sim.load_measurement`):", "",
                "| instrument | key | accepted range | unit |", "|---|---|---|---|"]
        for kind, keys in S.CALIBRATION.items():
            for key, rng in keys.items():
                text = rng.text()
                if rng.units:
                    text = text[: -len(rng.units) - 1]
                out.append(f"| {_code(kind)} | {_code(key)} | {_esc(_sci(text))} | {_esc(rng.units)} |")
        out.append("")
    return out


def render() -> str:
    """The whole reference page (Markdown, MyST) from the package's declarations."""
    from interphase_sim import __version__
    from interphase_sim.core.settings import TABLES

    lines = ["<!-- Generated by docs/_ext/sample_reference.py from interphase_sim.core.settings.TABLES, ",
             "     sample.toml_io and sample.stack at build time: do not edit. -->", "",
             f"*Generated from interphase_sim {__version__}: the tables the package itself reads "
             "sample files with.*", ""]
    lines += _sample_section() + _phase_section() + _layer_section()
    for table in TABLES.values():
        lines += _table_section(table)
    return "\n".join(lines).rstrip() + "\n"


def write(srcdir: str | Path) -> Path:
    """Write the page under ``srcdir`` (only if its text changed); returns its path."""
    path = Path(srcdir) / OUTPUT
    text = render()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _builder_inited(app: Any) -> None:
    write(app.srcdir)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _builder_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
