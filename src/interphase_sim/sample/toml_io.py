"""Sample files: a :class:`~interphase_sim.Stack` to and from TOML.

Format (the layout of a sample file)::

    [sample]
    name = "Li | SEI | LiPON"
    li6_abundance = 0.0759

    [phases.LiPON]                      # optional: override a built-in amorphous density
    density = { value = 2.4, min = 2.2, max = 2.6, vary = true }

    [phases.Glass]                      # optional: a custom amorphous phase
    formula = "Li2S"
    density = 1.66

    [phases.MyCrystal]                  # optional: a crystal from a CIF (path relative to this file)
    cif = "my_crystal.cif"

    [[layers]]
    name = "SEI"
    thickness_nm = { value = 60, min = 10, max = 200, vary = true }
    phases = { Li2O = 0.5, Li3N = 0.3, Li3PO4 = 0.2 }
    phases_bottom = { Li2O = 0.8, Li3N = 0.2 }
    roughness_nm = 3
    grain_size_nm = 5
    density_scale = 1.0
    li6_abundance = 0.95

Any number may be a plain value or a table ``{value, min, max, vary, prior}`` where
``prior = { dist = "norm", loc = 2.4, scale = 0.1 }`` names a scipy.stats continuous
distribution and its arguments (looked up by name; nothing is evaluated). A thickness of
``"inf"`` marks a semi-infinite last layer. The settings tables (``[ndp]``, ``[eels]``,
``[hrtem]``, ``[build]``, ``[fit]``, ``[sweep]``) are checked against
:mod:`interphase_sim.core.settings` when the file is read (an unknown key or an
out-of-range value in any of them is an error naming the file, table and field) and
kept verbatim for the models that read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import difflib
import json
import math
import os
import re
import tomllib
from typing import Any

import tomli_w

from interphase_sim.sample import phases as _phases
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.fileio import atomic_write_text
from interphase_sim.core import validate as V
from interphase_sim.core.params import Parameter
from interphase_sim.core.settings import check_tables, read_number
from interphase_sim.sample.isotopes import is_default_li6
from interphase_sim.sample.phases import Phase

__all__ = ["SampleSpec", "read_sample_spec", "parse_sample_spec", "dump_stack", "write_stack"]

SECTIONS = ("sample", "phases", "layers", "ndp", "eels", "hrtem", "build", "fit", "sweep")
INSTRUMENT_SECTIONS = ("ndp", "eels", "hrtem", "build", "fit", "sweep")
SAMPLE_KEYS = ("name", "li6_abundance")
LAYER_KEYS = (
    "name", "thickness_nm", "phases", "phases_bottom", "roughness_nm",
    "grain_size_nm", "density_scale", "li6_abundance",
)
PHASE_KEYS = ("formula", "density", "cif")
#: The thickest finite layer a sample file may describe (nm): 1 cm. Beyond it no instrument
#: sees the layer's bottom (NDP reaches microns, a lamella hundreds of nm), and a typo's
#: 1e9 nm would give impossible NDP yields; "inf" marks a semi-infinite substrate.
MAX_LAYER_THICKNESS_NM = 1e7


def check_thickness(value: Any, field: str) -> None:
    """A finite thickness (and a Parameter's bounds) at most :data:`MAX_LAYER_THICKNESS_NM`;
    raises :class:`InterphaseInputError` naming ``field`` otherwise."""
    p = value if isinstance(value, Parameter) else Parameter(value)
    for what, v in (("value", p.value), ("min", p.bounds[0]), ("max", p.bounds[1])):
        if math.isfinite(v) and v > MAX_LAYER_THICKNESS_NM:
            raise InterphaseInputError(field, f"{what} {v:g} nm is thicker than any layer a sample can have "
                                              f"(at most {MAX_LAYER_THICKNESS_NM:g} nm = 1 cm); write \"inf\" for "
                                              "a semi-infinite substrate")


def _check_keys(table: dict, allowed: tuple[str, ...], field: str) -> None:
    V.unknown_keys(table, allowed, field)


def _read_fractions(x: Any, field: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise InterphaseInputError(field, f"expected a table {{phase = fraction}}, got {x!r}")
    return {k: read_number(v, f"{field}.{k}") for k, v in x.items()}


def _read_phases(table: Any, base_dir: str) -> dict[str, Phase]:
    if not isinstance(table, dict):
        raise InterphaseInputError("phases", "expected a table of [phases.NAME] tables")
    out = {}
    for name, spec in table.items():
        field = f"phases.{name}"
        if not isinstance(spec, dict):
            raise InterphaseInputError(field, "expected a table with formula/density or cif")
        _check_keys(spec, PHASE_KEYS, field)
        if "cif" in spec:
            if set(spec) != {"cif"}:
                raise InterphaseInputError(field, "a CIF phase takes only 'cif' (its density comes from the cell)")
            path = os.path.join(base_dir, V.string(spec["cif"], field + ".cif"))
            if not os.path.isfile(path):
                raise InterphaseInputError(field + ".cif", f"no such file {path} (a path relative to the sample "
                                                           "file)")
            ph = Phase.from_cif(path, name=name)
            ph.source = os.path.abspath(path)  # stays valid wherever the sample is written
        elif "formula" in spec:
            if "density" not in spec:
                raise InterphaseInputError(field + ".density", "an amorphous phase needs a density (g/cm3)")
            ph = Phase.amorphous(name, spec["formula"], read_number(spec["density"], field + ".density"))
        else:
            try:
                canon = _phases.resolve(name)
            except InterphaseInputError as exc:
                raise InterphaseInputError(field, exc.problem + "; or give 'formula' and 'density'") from None
            ph = _phases.get(canon)
            if "density" in spec:
                if ph.density_parameter is None:
                    raise InterphaseInputError(
                        field + ".density",
                        f"{canon} is crystalline: its density comes from its structure; use a layer's density_scale",
                    )
                d = read_number(spec["density"], field + ".density")
                if not isinstance(d, Parameter):  # a plain value replaces the default bounds too
                    d = Parameter(d)
                d.name, d.units = f"phases.{canon}.density", "g/cm3"
                ph = Phase.amorphous(canon, ph.formula, d, source=ph.source, description=ph.description)
                ph.builtin = True
        out[ph.name] = ph
    return out


@dataclass(frozen=True)
class SampleSpec:
    """A sample file, read and checked, as the keywords of its Layers and its Stack.

    ``layers`` holds one dict of :class:`~interphase_sim.Layer` keywords per ``[[layers]]``
    table; ``stack`` holds the :class:`~interphase_sim.Stack` keywords other than the layers
    (name, shared phase objects, instrument sections, 6Li abundance).
    :meth:`Stack.from_spec <interphase_sim.Stack.from_spec>` builds the Stack.
    """

    layers: tuple[dict[str, Any], ...]
    stack: dict[str, Any]
    source: str = "<string>"

    def build(self, make: Any) -> Any:
        """``make(spec)`` (the Stack's constructor), with its input errors naming this file."""
        try:
            return make(self)
        except InterphaseInputError as exc:
            if self.source == "<string>":
                raise
            raise InterphaseInputError(f"{self.source}: {exc.field}", exc.problem) from None


def parse_sample_spec(text: str, source: str = "<string>", base_dir: str | os.PathLike = ".") -> SampleSpec:
    """A sample's specification from TOML text. Errors name the file, the field and what is accepted."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InterphaseInputError(source, f"TOML syntax error: {exc}") from None
    try:
        return _stack_from_doc(doc, os.fspath(base_dir), source)
    except InterphaseInputError as exc:
        if source == "<string>":
            raise
        raise InterphaseInputError(f"{source}: {exc.field}", exc.problem) from None


def _read_layer(lay: Any, field: str, phase_objs: dict[str, Phase]) -> dict[str, Any]:
    """The Layer keywords of one [[layers]] table (``field``: ``layers[i]``)."""
    if not isinstance(lay, dict):
        raise InterphaseInputError(field, "expected a [[layers]] table")
    _check_keys(lay, LAYER_KEYS, field)
    for req in ("name", "thickness_nm", "phases"):
        if req not in lay:
            raise InterphaseInputError(f"{field}.{req}", "required key is missing")
    if not isinstance(lay["name"], str) or not lay["name"].strip() or "." in lay["name"]:
        raise InterphaseInputError(f"{field}.name", f"write a name without dots, e.g. \"SEI\"; got {lay['name']!r}")
    kw: dict[str, Any] = {}
    for key in ("thickness_nm", "roughness_nm", "grain_size_nm", "density_scale", "li6_abundance"):
        if key in lay:
            kw[key] = read_number(lay[key], f"{field}.{key}")
    check_thickness(kw["thickness_nm"], f"{field}.thickness_nm")
    fr = _read_fractions(lay["phases"], f"{field}.phases")
    fr_b = _read_fractions(lay["phases_bottom"], f"{field}.phases_bottom") if "phases_bottom" in lay else None
    # Names given in [phases] map to those objects so that layers share them.
    fr = {phase_objs.get(k, k): v for k, v in fr.items()}
    if fr_b is not None:
        fr_b = {phase_objs.get(k, k): v for k, v in fr_b.items()}
    return dict(name=lay["name"], phases=fr, phases_bottom=fr_b, **kw)


def _phase_name(phase: Any) -> str:
    if isinstance(phase, Phase):
        return phase.name
    try:
        return _phases.resolve(phase)
    except InterphaseInputError:
        return str(phase)  # an unknown phase: the Layer's error names it


def _check_references(doc: dict[str, Any], layers: list[dict[str, Any]]) -> None:
    """Keys of the settings tables that name a layer or a phase of this sample name one."""
    names = [lay["name"] for lay in layers]
    for name in (doc.get("build", {}).get("orientations") or {}):
        if name not in names:
            raise InterphaseInputError(f"build.orientations.{name}", f"no layer is named {name!r}"
                                       f"{V.did_you_mean(name, names)}; layers: {', '.join(names)}")
    used = {_phase_name(p) for lay in layers for table in (lay["phases"], lay["phases_bottom"] or {})
            for p in table}
    for phase in (doc.get("eels", {}).get("templates") or {}):
        if _phase_name(phase) not in used:
            raise InterphaseInputError(f"eels.templates.{phase}", f"no layer holds the phase {phase!r}"
                                       f"{V.did_you_mean(phase, sorted(used))}; phases: {', '.join(sorted(used))}")


def _stack_from_doc(doc: dict[str, Any], base_dir: str, source: str) -> SampleSpec:
    for key in doc:
        if key not in SECTIONS:
            close = difflib.get_close_matches(key, SECTIONS, n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            raise InterphaseInputError(key, f"unknown section{hint}; allowed: {', '.join(SECTIONS)}")
    sample = doc.get("sample", {})
    if not isinstance(sample, dict):
        raise InterphaseInputError("sample", "expected a [sample] table")
    _check_keys(sample, SAMPLE_KEYS, "sample")
    if "name" in sample:
        V.string(sample["name"], "sample.name")
    phase_objs = _read_phases(doc.get("phases", {}), base_dir)
    layers_raw = doc.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise InterphaseInputError("layers", "a sample needs at least one [[layers]] table")
    layers = [_read_layer(lay, f"layers[{i}]", phase_objs) for i, lay in enumerate(layers_raw)]
    kw = {}
    if "li6_abundance" in sample:
        kw["li6_abundance"] = read_number(sample["li6_abundance"], "sample.li6_abundance")
    check_tables(doc)  # every settings table, so a typo in [eels] fails `simulate ndp` too
    _check_references(doc, layers)
    sections = {k: doc[k] for k in INSTRUMENT_SECTIONS if k in doc}
    return SampleSpec(tuple(layers), dict(name=sample.get("name"), phases=phase_objs, sections=sections, **kw),
                      source)


def read_sample_spec(path: str | os.PathLike) -> SampleSpec:
    """A sample's specification from a sample file (``.toml``)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:  # a BOM (a Windows editor's) is allowed
            text = fh.read()
    except OSError as exc:
        raise InterphaseInputError("sample file", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InterphaseInputError(path, f"not a UTF-8 text file (byte {exc.object[exc.start]:#04x} at offset "
                                         f"{exc.start}): a sample file is TOML text") from None
    return parse_sample_spec(text, source=path, base_dir=os.path.dirname(os.path.abspath(path)))


# -- writing --------------------------------------------------------------------------------
def _prior_table(prior: Any) -> dict[str, Any]:
    dist = prior.dist
    shapes = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]
    out: dict[str, Any] = {"dist": dist.name}
    out.update({k: float(v) for k, v in zip(shapes, prior.args)})
    rest = prior.args[len(shapes):]
    for k, v in zip(("loc", "scale"), rest):
        out[k] = float(v)
    out.update({k: float(v) for k, v in prior.kwds.items()})
    return out


def _number(p: Parameter) -> Any:
    """Plain value when the Parameter is fixed and unbounded, else a table."""
    v: Any = "inf" if math.isinf(p.value) and p.value > 0 else p.value
    lo, hi = p.bounds
    if not p.vary and math.isinf(lo) and math.isinf(hi) and p.prior is None:
        return v
    t: dict[str, Any] = {"value": v}
    if math.isfinite(lo):
        t["min"] = lo
    if math.isfinite(hi):
        t["max"] = hi
    t["vary"] = p.vary
    if p.prior is not None:
        t["prior"] = _prior_table(p.prior)
    return t


def _same_prior(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return a.dist.name == b.dist.name and a.args == b.args and a.kwds == b.kwds


def _phase_table(ph: Phase) -> dict[str, Any] | None:
    """The [phases.NAME] table a phase needs, or None for an unchanged built-in."""
    dp = ph.density_parameter
    if ph.builtin:
        if dp is None:
            return None
        proto = _phases.get(ph.name).density_parameter
        same = (dp.value == proto.value and dp.bounds == proto.bounds and not dp.vary and dp.role == proto.role
                and _same_prior(dp.prior, proto.prior))
        return None if same else {"density": _number(dp)}
    if dp is not None:
        return {"formula": ph.formula, "density": _number(dp)}
    if ph.source and str(ph.source).lower().endswith(".cif"):
        return {"cif": str(ph.source)}
    raise InterphaseInputError(
        f"phases.{ph.name}",
        "a crystalline phase not from the library or a CIF file cannot be written to TOML; "
        "save its structure as CIF and use Phase.from_cif",
    )


def stack_to_dict(stack: Any) -> dict[str, Any]:
    """The TOML document of a stack as nested dicts.

    A Parameter shared by several fields cannot be expressed in TOML: each field gets its
    own copy, and a UserWarning names the ties that are lost.
    """
    import warnings

    params = stack.parameters()
    tied = [params.aliases(n) for n in params if len(params.aliases(n)) > 1]
    if tied:
        warnings.warn(
            "TOML cannot express shared Parameters; these are written as independent copies: "
            + "; ".join(" = ".join(t) for t in tied), UserWarning, stacklevel=3)
    doc: dict[str, Any] = {}
    sample: dict[str, Any] = {}
    if stack.name is not None:
        sample["name"] = stack.name
    li6 = stack.li6_abundance
    sample["li6_abundance"] = li6.value if is_default_li6(li6) else _number(li6)
    doc["sample"] = sample
    ptables = {k: t for k, ph in stack.phases.items() if (t := _phase_table(ph)) is not None}
    if ptables:
        doc["phases"] = ptables
    layers = []
    for lay in stack.layers:
        t: dict[str, Any] = {"name": lay.name, "thickness_nm": _number(lay.thickness_nm)}
        t["phases"] = {k: _number(p) for k, p in lay.fractions.items()}
        if lay.fractions_bottom is not None:
            t["phases_bottom"] = {k: _number(p) for k, p in lay.fractions_bottom.items()}
        t["roughness_nm"] = _number(lay.roughness_nm)
        if lay.grain_size_nm is not None:
            t["grain_size_nm"] = _number(lay.grain_size_nm)
        t["density_scale"] = _number(lay.density_scale)
        if lay.li6_abundance is not None:
            t["li6_abundance"] = _number(lay.li6_abundance)
        layers.append(t)
    doc["layers"] = layers
    doc.update(stack.sections)
    return doc


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _inline(v: Any) -> str:
    """A TOML value on one line (inline tables for number tables and phase maps)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    raise InterphaseInputError("toml", f"cannot write a value of type {type(v).__name__}")


def dump_stack(stack: Any) -> str:
    """TOML text of a stack in the sample-file layout; reading it back gives an identical Stack."""
    doc = stack_to_dict(stack)
    out: list[str] = []
    out.append("[sample]")
    out += [f"{_key(k)} = {_inline(v)}" for k, v in doc["sample"].items()]
    for name, table in doc.get("phases", {}).items():
        out += ["", f"[phases.{_key(name)}]"]
        out += [f"{_key(k)} = {_inline(v)}" for k, v in table.items()]
    for lay in doc["layers"]:
        out += ["", "[[layers]]"]
        out += [f"{_key(k)} = {_inline(v)}" for k, v in lay.items()]
    text = "\n".join(out) + "\n"
    if stack.sections:
        # instrument tables are arbitrary nested TOML: tomli_w writes them faithfully
        text += "\n" + tomli_w.dumps(dict(stack.sections))
    return text


def write_stack(stack: Any, path: str | os.PathLike) -> None:
    """Write a stack's sample file atomically (temporary name, then rename)."""
    atomic_write_text(path, dump_stack(stack))
