"""Settings: every table of a sample file declared once, and the one parser that reads them.

A :class:`Setting` names one key of a table (``[ndp] fwhm_keV``), its kind, its accepted
range with units and its default. A :class:`SettingTable` is the whole table; its
:meth:`~SettingTable.read` turns a TOML table (or Python keywords) into checked values,
refusing unknown keys with a "did you mean". The instrument models, the atomistic
builder, the fitter and the sweep read their settings through these tables, so a range
is declared in one place and every message names the table, the field and the range.

Numbers of kind ``"parameter"`` may be written as a plain value or as a
``{ value, min, max, vary, prior }`` table, which becomes a
:class:`~interphase_sim.core.params.Parameter` (``prior`` a scipy.stats distribution
given by name and arguments, never an evaluated string).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interphase_sim.core import validate as V
from interphase_sim.core.errors import InterphaseInputError
from interphase_sim.core.params import Parameter, check_physical
from interphase_sim.core.validate import Range

__all__ = [
    "Setting",
    "SettingTable",
    "read_number",
    "read_prior",
    "NDP",
    "EELS",
    "HRTEM",
    "BUILD",
    "FIT",
    "SWEEP",
    "TABLES",
    "CALIBRATION",
    "check_tables",
]

NUMBER_KEYS = ("value", "min", "max", "vary", "prior")
KINDS = ("parameter", "number", "integer", "bool", "choice", "choices", "string", "pair", "seed", "any")


# --------------------------------------------------------------------------- numbers


def read_prior(spec: Any, field: str) -> Any:
    """A frozen scipy.stats continuous distribution from ``{ dist = "norm", loc = 0, scale = 1 }``."""
    import scipy.stats

    if not isinstance(spec, dict) or "dist" not in spec:
        raise InterphaseInputError(field, 'expected a table such as { dist = "norm", loc = 0, scale = 1 }')
    args = {k: V.number(v, f"{field}.{k}") for k, v in spec.items() if k != "dist"}
    dist = getattr(scipy.stats, str(spec["dist"]), None)
    if not isinstance(dist, scipy.stats.rv_continuous):
        raise InterphaseInputError(field + ".dist", f"{spec['dist']!r} is not a scipy.stats continuous distribution")
    takes = [s.strip() for s in (dist.shapes or "").split(",") if s.strip()] + ["loc", "scale"]
    V.unknown_keys(args, takes, field)  # e.g. norm's mean and sd are loc and scale
    try:
        frozen = dist(**args)
        median = float(frozen.median())  # NaN for arguments outside the distribution's domain
    except TypeError as exc:
        raise InterphaseInputError(field, f"bad arguments for {spec['dist']} (it takes {', '.join(takes)}): "
                                          f"{exc}") from None
    if math.isnan(median):
        given = ", ".join(f"{k} = {v:g}" for k, v in args.items())
        raise InterphaseInputError(field, f"{spec['dist']} does not take {given} (a scale must be > 0; "
                                          f"shape arguments: {dist.shapes or 'none'})")
    return frozen


def read_number(x: Any, field: str) -> float | Parameter:
    """A plain number, ``"inf"``, or a ``{value, min, max, vary, prior}`` table (a Parameter)."""
    if isinstance(x, dict):
        V.unknown_keys(x, NUMBER_KEYS, field)
        if "value" not in x:
            raise InterphaseInputError(field, "a number table needs a 'value'")
        vary = V.boolean(x.get("vary", False), field + ".vary")
        prior = read_prior(x["prior"], field + ".prior") if "prior" in x else None
        bounds = (x.get("min"), x.get("max")) if ("min" in x or "max" in x) else None
        # named while it is checked, so its own errors say which field (then unnamed again:
        # the objects that read it give it their dotted name)
        p = Parameter(read_number(x["value"], field + ".value"), bounds=bounds, vary=vary, prior=prior, name=field)
        p.name = None
        return p
    if isinstance(x, str) and x.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise InterphaseInputError(field, f"expected a number or a {{value, min, max, vary}} table, got {x!r}")
    if math.isnan(x):
        raise InterphaseInputError(field, "nan is not a number a sample can have; write a finite value")
    return float(x)


# --------------------------------------------------------------------------- one setting


@dataclass(frozen=True)
class Setting:
    """One key of a settings table.

    Parameters
    ----------
    name : str
        The key, with its units as suffix where it has units (``fwhm_keV``).
    kind : str
        ``"parameter"`` (a number a fit may vary), ``"number"``, ``"integer"``, ``"bool"``,
        ``"choice"`` (one of ``choices``), ``"choices"`` (a list of them), ``"string"``,
        ``"pair"`` (two numbers, increasing), ``"seed"`` or ``"any"`` (checked by ``check``).
    default : Any
        Value when the key is absent (``None``: none).
    range : Range
        Accepted values of a number, integer or pair (and its units).
    choices : tuple
        Accepted values of a choice.
    doc : str
        One line for help texts.
    check : callable, optional
        ``check(value, field) -> value`` for kind ``"any"`` (a nested table, a list of tables).
    """

    name: str
    kind: str = "number"
    default: Any = None
    range: Range = Range()
    choices: tuple = ()
    doc: str = ""
    check: Callable[[Any, str], Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Setting {self.name}: unknown kind {self.kind!r}")

    def read(self, value: Any, field: str) -> Any:
        """The checked value (a Parameter for a parameter given as a table or a Parameter)."""
        kind, rng = self.kind, self.range
        if kind == "parameter":
            return self._parameter(value, field)
        if kind == "number":
            return V.number(value, field, rng, allow_inf=math.isinf(rng.high))
        if kind == "integer":
            lo = None if math.isinf(rng.low) else int(math.ceil(rng.low))
            hi = None if math.isinf(rng.high) else int(math.floor(rng.high))
            return V.integer(value, field, lo, hi)
        if kind == "bool":
            return V.boolean(value, field)
        if kind == "choice":
            return V.choice(value, field, self.choices)
        if kind == "choices":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not items:
                raise InterphaseInputError(field, f"expected a list of {', '.join(map(str, self.choices))}")
            return [V.choice(v, f"{field}[{i}]", self.choices) for i, v in enumerate(items)]
        if kind == "string":
            return V.string(value, field)
        if kind == "pair":
            return V.pair(value, field, rng)
        if kind == "seed":
            return V.seed(value, field)
        return self.check(value, field) if self.check is not None else value

    def _parameter(self, value: Any, field: str) -> float | Parameter:
        rng = self.range
        if isinstance(value, dict):
            value = read_number(value, field)
        if isinstance(value, Parameter):
            check_physical(value, field, rng.low, rng.high, lo_open=rng.low_open, allow_inf=False)
            if rng.high_open and value.value >= rng.high:
                raise InterphaseInputError(field, f"must be in {rng.text()}, got {value.value!r}")
            return value
        return V.number(value, field, rng)

    def describe(self) -> str:
        """``name: kind in range (default ...)`` for help texts and documentation."""
        what = self.kind if self.kind != "parameter" else "number (or {value, min, max, vary, prior})"
        rng = f" {self.range.text()}" if self.kind in ("parameter", "number", "integer", "pair") else ""
        ch = f" one of {', '.join(map(str, self.choices))}" if self.choices else ""
        default = "" if self.default is None else f"; default {self.default!r}"
        return f"{self.name}: {what}{rng}{ch}{default}" + (f". {self.doc}" if self.doc else "")


# --------------------------------------------------------------------------- one table


@dataclass(frozen=True)
class SettingTable(Mapping):
    """The settings of one sample-file table (``[ndp]``, ``[eels]``, ``[hrtem]``, ``[build]``, ...).

    A read-only mapping of key -> :class:`Setting`.
    """

    name: str
    settings: tuple[Setting, ...]
    doc: str = ""
    check_all: Callable[[dict[str, Any], str], None] | None = field(default=None, compare=False)

    def __getitem__(self, key: str) -> Setting:
        for s in self.settings:
            if s.name == key:
                return s
        raise KeyError(key)

    def __iter__(self):
        return (s.name for s in self.settings)

    def __len__(self) -> int:
        return len(self.settings)

    def read(self, table: Any, where: str | None = None) -> dict[str, Any]:
        """Checked values of the keys present in ``table`` (a TOML table or keywords).

        ``where`` prefixes field names (default the table's name: ``ndp.fwhm_keV``).
        Unknown keys are errors naming the closest known one; absent keys stay absent.
        """
        where = self.name if where is None else where
        if not isinstance(table, Mapping):
            raise InterphaseInputError(where, f"expected a [{self.name}] table, got {type(table).__name__}")
        V.unknown_keys(table, list(self), where)
        out = {key: self[key].read(value, f"{where}.{key}" if where else key) for key, value in table.items()}
        if self.check_all is not None:
            self.check_all(out, where)
        return out

    def parameter(self, key: str, value: Any, where: str | None = None) -> Parameter:
        """A checked Parameter for number ``key`` (an existing Parameter keeps its identity)."""
        where = self.name if where is None else where
        field = f"{where}.{key}" if where else key
        setting = self[key]
        checked = setting.read(value, field)
        if isinstance(checked, Parameter):
            if checked.name is None:
                checked.name = field
            if checked.units is None and setting.range.units:
                checked.units = setting.range.units
            return checked
        return Parameter(checked, name=field, units=setting.range.units or None)

    def numbers(self) -> tuple[str, ...]:
        """The keys of kind ``"parameter"``: the numbers a fit may vary."""
        return tuple(s.name for s in self.settings if s.kind == "parameter")

    def defaults(self) -> dict[str, Any]:
        """Every key that has a default, with it."""
        return {s.name: s.default for s in self.settings if s.default is not None}

    def resolve(self, *layers: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
        """Defaults, overridden by each of ``layers`` in turn (the file's table, then keywords), checked."""
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update({k: v for k, v in dict(layer).items() if v is not None})
        return {**self.defaults(), **self.read(merged, where)}

    def help(self) -> str:
        """One line per key: name, kind, range, default."""
        return "\n".join(s.describe() for s in self.settings)


# --------------------------------------------------------------------------- checks of nested values


def _table_list(keys: dict[str, Setting]) -> Callable[[Any, str], list[dict[str, Any]]]:
    """A checker of a list of small tables with the given keys (all required)."""

    def check(value: Any, field: str) -> list[dict[str, Any]]:
        if not isinstance(value, (list, tuple)):
            raise InterphaseInputError(field, f"expected a list of {{{', '.join(keys)}}} tables")
        out = []
        for i, item in enumerate(value):
            f = f"{field}[{i}]"
            if isinstance(item, (list, tuple)) and len(item) == len(keys):  # Python: (material, thickness)
                item = dict(zip(keys, item))
            if not isinstance(item, Mapping):
                raise InterphaseInputError(f, f"expected {{{', '.join(keys)}}}, got {item!r}")
            V.unknown_keys(item, keys, f)
            for k in keys:
                if k not in item:
                    raise InterphaseInputError(f"{f}.{k}", "required key is missing")
            out.append({k: keys[k].read(item[k], f"{f}.{k}") for k in keys})
        return out

    return check


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InterphaseInputError(field, f"expected a table, got {value!r}")
    return dict(value)


def _mtf(value: Any, field: str) -> tuple[float, float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InterphaseInputError(field, f"expected three numbers [a, b, c], got {value!r}")
    items = list(value)
    if len(items) != 3:
        raise InterphaseInputError(field, f"expected three numbers [a, b, c], got {len(items)}")
    a = V.number(items[0], f"{field}[0]", Range(0.0, math.inf, low_open=True), allow_inf=True)
    b = V.number(items[1], f"{field}[1]", Range(0.0, math.inf, low_open=True))
    c = V.number(items[2], f"{field}[2]", Range(0.0, 1.0, high_open=True))
    return a, b, c


def _positions_or_count(value: Any, field: str) -> int:
    return V.integer(value, field, 2, 100_000)


def _lateral_pair(value: Any, field: str) -> tuple[float, float]:
    return V.pair(value, field, Range(0.0, 1e4, low_open=True, units="nm"), increasing=False)


def _orientations(value: Any, field: str) -> dict[str, tuple[int, int, int]]:
    out = {}
    for name, hkl in _mapping(value, field).items():
        f = f"{field}.{name}"
        if not isinstance(hkl, (list, tuple)) or len(hkl) != 3:
            raise InterphaseInputError(f, f"expected three integers [h, k, l], got {hkl!r}")
        out[name] = tuple(V.integer(v, f"{f}[{i}]") for i, v in enumerate(hkl))
        if out[name] == (0, 0, 0):
            raise InterphaseInputError(f, "[0, 0, 0] is not a direction")
    return out


def _channels(value: Any, field: str) -> Any:
    if isinstance(value, (list, tuple)):
        return list(V.increasing_axis(value, field, "channel"))
    return V.integer(value, field, 2, 10**7)


def _edge(name: Any, field: str) -> str:
    """An EELS edge's name as given (``"Li K"``), checked against the edge table."""
    from interphase_sim.eels.xsec import edge

    try:
        edge(V.string(name, field))
    except InterphaseInputError as exc:
        if exc.field == field:
            raise
        raise InterphaseInputError(field, exc.problem) from None
    return name


def _templates(value: Any, field: str) -> dict[str, dict[str, str]]:
    out = {}
    for phase, per_edge in _mapping(value, field).items():
        out[phase] = {_edge(e, f"{field}.{phase}.{e}"): V.string(p, f"{field}.{phase}.{e}")
                      for e, p in _mapping(per_edge, f"{field}.{phase}").items()}
    return out


def _scales(check_key: Callable[[Any, str], Any] | None = None) -> Callable[[Any, str], dict[str, Any]]:
    """A checker of ``{name = scale or {value, min, max, vary, prior}}`` (names by ``check_key``)."""

    def check(value: Any, field: str) -> dict[str, Any]:
        out = {}
        for k, x in _mapping(value, field).items():
            if check_key is not None:
                check_key(k, f"{field}.{k}")
            out[str(k)] = x if isinstance(x, Parameter) else read_number(x, f"{field}.{k}")
        return out

    return check


def _dead_layer_material(name: Any, field: str) -> Any:
    """A built-in phase's name (a Phase object, from Python, as it is)."""
    from interphase_sim.sample import phases

    if not isinstance(name, str):
        return name
    try:
        phases.resolve(name)
    except InterphaseInputError as exc:
        raise InterphaseInputError(field, f"{exc.problem}; a dead layer is a built-in phase (interphase-sim "
                                          "phases lists them)") from None
    return name


# --------------------------------------------------------------------------- the tables

_POS = Range(0.0, math.inf, low_open=True)
_NONNEG = Range(0.0, math.inf)


def _p(name: str, default: Any, rng: Range, doc: str = "") -> Setting:
    return Setting(name, "parameter", default, rng, doc=doc)


def _ndp_check(kw: dict[str, Any], where: str) -> None:
    angle = float(kw.get("detector_angle_deg", 0.0)) + float(kw.get("acceptance_half_angle_deg", 3.0))
    if angle >= 89.9:
        raise InterphaseInputError(f"{where}.acceptance_half_angle_deg", "detector angle + acceptance half-angle "
                                   "must stay below 90 deg (particles must leave the sample)")


#: Detector angle from the sample normal: 0 to 89 degrees (grazing exit beyond).
DETECTOR_ANGLE_DEG = Range(0.0, 89.0, units="deg")
#: Acceptance half-angle of the detector cone: (0, 89) degrees.
ACCEPTANCE_HALF_ANGLE_DEG = Range(0.0, 89.0, low_open=True, high_open=True, units="deg")

NDP = SettingTable("ndp", (
    Setting("particles", "choices", ["alpha", "triton"], choices=("alpha", "triton", "boron-alpha"),
            doc="charged particles counted"),
    _p("fwhm_keV", 15.0, Range(0.0, 1000.0, low_open=True, units="keV"), "detector resolution (FWHM)"),
    _p("detector_angle_deg", 0.0, DETECTOR_ANGLE_DEG, "detector axis from the sample normal"),
    _p("acceptance_half_angle_deg", 3.0, ACCEPTANCE_HALF_ANGLE_DEG, "half-angle of the acceptance cone"),
    Setting("dead_layers", "any", [], doc="layers on the detector face: [{material, thickness_nm}]",
            check=_table_list({"material": Setting("material", "any", check=_dead_layer_material),
                               "thickness_nm": _p("thickness_nm", None, Range(0.0, 1e6, units="nm"))})),
    _p("fluence", 1e12, Range(0.0, math.inf, low_open=True, units="n/cm2"), "neutron fluence over the live time"),
    _p("area_cm2", 1.0, Range(0.0, math.inf, low_open=True, units="cm2"), "irradiated area"),
    _p("scale", 1.0, Range(0.0, math.inf, units=""), "free multiplier on the absolute yield"),
    _p("background", 0.0, Range(0.0, math.inf, units="counts/channel"), "flat background"),
    Setting("channels", "any", 1024, doc="channel count, or the channel numbers", check=_channels),
    _p("gain_keV", 3.0, Range(0.0, math.inf, low_open=True, units="keV/channel"), "energy per channel"),
    _p("offset_keV", 0.0, Range(units="keV"), "energy of channel 0"),
    _p("low_energy_cutoff_keV", 100.0, Range(0.0, math.inf, units="keV"), "discriminator threshold"),
    Setting("straggling", "bool", True, doc="energy-loss straggling, propagated along the path"),
    Setting("straggling_model", "choice", "lindhard-scharff", choices=("lindhard-scharff", "bohr"),
            doc="straggling rate: Bohr with the Lindhard-Scharff low-velocity correction, or plain Bohr"),
    Setting("angle_nodes", "integer", 3, Range(1, 32), doc="path-length groups across the acceptance cone"),
    _p("b10_abundance", 0.199, Range(0.0, 1.0), "10B atom fraction of boron"),
    Setting("energy_step_keV", "number", None, Range(0.0, math.inf, low_open=True, units="keV"),
            doc="energy lost between birth points; default min(channel width, FWHM / 2)"),
    Setting("stopping_scale", "any", None, doc="{phase = scale or {value, min, max, vary, prior}}: systematic "
            "stopping-power scales (default 1, free, prior norm(1, 0.02) element / 0.03 compound)",
            check=_scales()),
), "neutron depth profiling", _ndp_check)

def _eels_check(kw: dict[str, Any], where: str) -> None:
    start, stop = kw.get("scan_start_nm"), kw.get("scan_stop_nm")
    if start is not None and stop is not None and not stop > start:
        raise InterphaseInputError(f"{where}.scan_stop_nm", f"{stop:g} nm must be deeper than scan_start_nm = "
                                   f"{start:g} nm (the scan runs down the stack)")


#: EELS convergence semi-angle: [0, 200] mrad (beyond, the probe is no longer a STEM probe).
CONVERGENCE_MRAD = Range(0.0, 200.0, units="mrad")
#: EELS collection semi-angle: (0, 500] mrad.
COLLECTION_MRAD = Range(0.0, 500.0, low_open=True, units="mrad")
#: Beam energy of an electron microscope: (1 keV, 10 MeV].
BEAM_ENERGY_EV = Range(1e3, 1e7, low_open=True, units="eV")

EELS = SettingTable("eels", (
    Setting("edges", "any", None, doc="edges to simulate, e.g. [\"Li K\", \"O K\"]; default all on the axis",
            check=lambda v, f: [_edge(e, f"{f}[{i}]") for i, e in enumerate(v if isinstance(v, list) else [v])]),
    _p("beam_energy_eV", 300e3, BEAM_ENERGY_EV, "incident energy"),
    _p("convergence_mrad", 10.0, CONVERGENCE_MRAD, "probe convergence semi-angle"),
    _p("collection_mrad", 20.0, COLLECTION_MRAD, "spectrometer collection semi-angle"),
    _p("energy_resolution_eV", 1.0, Range(0.0, 50.0, low_open=True, units="eV"), "zero-loss FWHM"),
    _p("dispersion_eV", 0.3, Range(0.0, 100.0, low_open=True, units="eV/channel"), "energy per channel"),
    _p("offset_eV", 40.0, Range(0.0, 1e5, low_open=True, units="eV"), "energy loss of channel 0"),
    Setting("channels", "integer", 2048, Range(16, 10**6), doc="channels of the energy axis"),
    _p("thickness_nm", 60.0, Range(0.0, 1e4, low_open=True, units="nm"), "lamella thickness along the beam"),
    _p("dose_e_per_A2", 1000.0, Range(0.0, 1e12, low_open=True, units="e/A2"), "electron dose per pixel"),
    _p("pixel_nm", 1.0, Range(0.0, 1e4, low_open=True, units="nm"), "pixel size"),
    _p("probe_fwhm_nm", 1.0, Range(0.0, 1e4, units="nm"), "probe FWHM"),
    _p("background_counts", 0.0, Range(0.0, math.inf, units="counts/channel"), "power-law background amplitude"),
    _p("background_exponent", 3.0, Range(0.0, 10.0, units=""), "power-law background exponent"),
    _p("plasmon_width_eV", 6.0, Range(0.0, 100.0, low_open=True, units="eV"), "bulk plasmon FWHM"),
    Setting("elnes", "bool", True, doc="ELNES templates on the edges"),
    Setting("plural", "bool", True, doc="plural scattering (Fourier-log convolution)"),
    Setting("beam_broadening", "bool", True, doc="Goldstein beam broadening"),
    Setting("templates", "any", None, doc="{phase = {edge = file.msa}} ELNES templates", check=_templates),
    Setting("scan_start_nm", "number", None, Range(units="nm"), doc="first probe depth"),
    Setting("scan_stop_nm", "number", None, Range(units="nm"), doc="last probe depth"),
    Setting("positions", "any", None, doc="probe positions of the line scan (2 to 100000)",
            check=_positions_or_count),
    _p("scan_origin_nm", 0.0, Range(-1e6, 1e6, units="nm"),
       "stack depth of the scan's nominal zero; a plain value is free in fits (+-20 nm)"),
    _p("scan_step_scale", 1.0, Range(0.5, 2.0, units=""), "true / nominal probe step (drift, calibration)"),
    Setting("xsec_scale", "any", None, doc="{edge = scale or {value, min, max, vary, prior}}: systematic "
            "cross-section scales (default 1, free, prior norm(1, 0.05) K / 0.15 L2,3)",
            check=_scales(_edge)),
), "EELS core-loss spectra and line scans", _eels_check)

_MICROSCOPE = (
    Setting("energy_eV", "number", 300e3, BEAM_ENERGY_EV, doc="beam energy"),
    Setting("Cs_mm", "number", 1.2, Range(0.0, 100.0, units="mm"), doc="spherical aberration"),
    Setting("C5_mm", "number", 0.0, Range(0.0, 1e4, units="mm"), doc="fifth-order spherical aberration"),
    Setting("defocus_A", "number", None, Range(-1e6, 1e6, units="Å"),
            doc="defocus, positive = underfocus; default Scherzer"),
    Setting("astigmatism_A", "number", 0.0, Range(0.0, 1e5, units="Å"), doc="two-fold astigmatism"),
    Setting("astigmatism_angle_deg", "number", 0.0, Range(-360.0, 360.0, units="deg"), doc="its azimuth"),
    Setting("focal_spread_A", "number", 30.0, Range(0.0, 1e4, units="Å"), doc="focal spread (1/e)"),
    Setting("angular_spread_mrad", "number", 0.1, Range(0.0, 100.0, units="mrad"), doc="beam divergence"),
    Setting("aperture_mrad", "number", None, Range(0.0, math.inf, low_open=True, units="mrad"),
            doc="objective aperture; default Scherzer's, inf for none"),
    Setting("dose_e_per_A2", "number", 200.0, Range(0.0, 1e12, low_open=True, units="e/A2"), doc="shot-noise dose"),
    Setting("mtf", "any", None, doc="detector MTF (a, b, c); default (0.5, 2.5, 0.1)", check=_mtf),
)
_LAMELLA = (
    Setting("lateral_nm", "number", 12.0, Range(0.0, 1e4, low_open=True, units="nm"), doc="image width"),
    Setting("thickness_nm", "number", 5.0, Range(0.0, 1e3, low_open=True, units="nm"), doc="lamella thickness"),
    Setting("depth_range_nm", "pair", None, Range(-1e3, 1e9, units="nm"), doc="depth window imaged"),
    Setting("vacuum_nm", "number", 0.5, Range(0.0, 1e3, units="nm"), doc="vacuum below the deepest plane"),
    Setting("seed", "seed", 1, doc="seed of the lamella's structure (and frozen phonons)"),
)
_GRID = (
    Setting("sampling_A", "number", 0.2, Range(0.0, 10.0, low_open=True, units="Å"), doc="pixel size"),
    Setting("slice_thickness_A", "number", 2.0, Range(0.0, 100.0, low_open=True, units="Å"), doc="slice thickness"),
    Setting("frozen_phonons", "integer", 0, Range(0, 1000), doc="frozen-phonon configurations (0: none)"),
    Setting("max_memory_gb", "number", 8.0, Range(0.0, 1e4, low_open=True, units="GB"), doc="memory limit"),
)
_ANALYSIS = (
    Setting("window_nm", "number", 3.0, Range(0.0, 1e3, low_open=True, units="nm"), doc="phase-map FFT window"),
    Setting("step_nm", "number", 1.5, Range(0.0, 1e3, low_open=True, units="nm"), doc="phase-map window step"),
    Setting("tolerance", "number", 0.01, Range(0.0, 0.25, low_open=True, high_open=True, units=""),
            doc="relative d-spacing tolerance"),
    Setting("min_peaks", "integer", 1, Range(1, 100), doc="matched spots needed to label a window"),
    Setting("min_probability", "number", 0.6, Range(0.0, 1.0, low_open=True, units=""),
            doc="posterior probability needed to label a window"),
    Setting("min_intensity", "number", 0.02, Range(0.0, 1.0, high_open=True, units=""),
            doc="spot power (of the strongest) counted"),
)


HRTEM = SettingTable("hrtem", _MICROSCOPE + _LAMELLA + _GRID + _ANALYSIS, "HRTEM of a cross-section lamella")
#: Keys of [hrtem] that are Microscope fields.
MICROSCOPE_KEYS = tuple(s.name for s in _MICROSCOPE)
#: Keys of [hrtem] that shape the lamella.
LAMELLA_KEYS = tuple(s.name for s in _LAMELLA)
#: Keys of [hrtem] for the multislice grid.
GRID_KEYS = tuple(s.name for s in _GRID)
#: Keys of [hrtem] for the phase map.
ANALYSIS_KEYS = tuple(s.name for s in _ANALYSIS)

BUILD = SettingTable("build", (
    Setting("lateral_nm", "any", (10.0, 10.0), doc="lateral box (nm), periodic", check=_lateral_pair),
    Setting("depth_range_nm", "pair", None, Range(0.0, 1e9, units="nm"), doc="depth window built"),
    Setting("max_depth_nm", "number", None, Range(0.0, 1e9, low_open=True, units="nm"), doc="cut depth"),
    Setting("semi_infinite_nm", "number", 5.0, Range(0.0, 1e6, low_open=True, units="nm"),
            doc="how much of a semi-infinite last layer to build"),
    Setting("seed", "seed", None, doc="seed of every random choice of the builder"),
    Setting("orientations", "any", None, doc="{layer = [h, k, l]} surface normals", check=_orientations),
    Setting("correlation_nm", "number", 3.0, Range(0.0, 1e4, low_open=True, units="nm"),
            doc="lateral correlation length of rough interfaces"),
    Setting("max_atoms", "integer", 5_000_000, Range(1, 10**10), doc="refuse larger models before allocating"),
), "atomistic model (interphase-sim build)")

def _data_files(value: Any, field: str) -> dict[str, str | list[str]]:
    """``{instrument = "file"}`` or ``{instrument = ["file", ...]}``."""
    out: dict[str, str | list[str]] = {}
    for kind, files in _mapping(value, field).items():
        if isinstance(files, list):
            if not files:
                raise InterphaseInputError(f"{field}.{kind}", "expected a file or a non-empty list of files")
            out[kind] = [V.string(p, f"{field}.{kind}[{i}]") for i, p in enumerate(files)]
        else:
            out[kind] = V.string(files, f"{field}.{kind}")
    return out


#: What a data file may lack and a ``[fit] calibration`` table (or a flag) gives, per
#: instrument: the calibration keywords of :func:`interphase_sim.load_measurement`.
CALIBRATION: dict[str, dict[str, Range]] = {
    "ndp": {"gain_keV": Range(0.0, math.inf, low_open=True, units="keV/channel"), "offset_keV": Range(units="keV")},
    "eels": {"beam_energy_eV": BEAM_ENERGY_EV, "convergence_mrad": CONVERGENCE_MRAD,
             "collection_mrad": COLLECTION_MRAD, "offset_eV": Range(units="eV"),
             "dispersion_eV": Range(0.0, 100.0, low_open=True, units="eV/channel"),
             "step_nm": Range(0.0, 1e4, low_open=True, units="nm")},
    "hrtem": {"pixel_nm": Range(0.0, 1e3, low_open=True, units="nm"), "energy_eV": BEAM_ENERGY_EV},
}


def _calibration(value: Any, field: str) -> dict[str, dict[str, Any]]:
    """``{instrument = {key = number, ...}}``: what a data file lacks (gain_keV, beam_energy_eV, ...)."""
    out = {}
    for kind, table in _mapping(value, field).items():
        V.unknown_keys({kind: None}, CALIBRATION, field)
        keys = CALIBRATION[kind]
        V.unknown_keys(_mapping(table, f"{field}.{kind}"), keys, f"{field}.{kind}")
        out[kind] = {k: V.number(v, f"{field}.{kind}.{k}", keys[k]) for k, v in table.items()}
    return out


FIT = SettingTable("fit", (
    Setting("data", "any", None, doc="{instrument = file or [files]} measured data, relative to the sample file",
            check=_data_files),
    Setting("method", "choice", "least_squares", choices=("least_squares", "differential_evolution", "lbfgsb"),
            doc="the optimizer: trust-region least squares, global differential evolution (needs min and max "
                "on every free Parameter) or L-BFGS-B"),
    Setting("seed", "seed", None, doc="seed of a global optimizer / the sampler"),
    Setting("energy_min_keV", "number", None, Range(0.0, math.inf, units="keV"), doc="NDP channels fitted from"),
    Setting("energy_max_keV", "number", None, Range(0.0, math.inf, units="keV"), doc="NDP channels fitted to"),
    Setting("sample", "bool", False, doc="also sample the posterior with emcee"),
    Setting("nwalkers", "integer", 32, Range(2, 10**5), doc="emcee walkers"),
    Setting("nsteps", "integer", 2000, Range(1, 10**8), doc="emcee steps"),
    Setting("calibration", "any", None, doc="{instrument = {key = value}}: calibration a data file lacks",
            check=_calibration),
), "fits of measured data (interphase-sim fit; flags override)")

SWEEP = SettingTable("sweep", (
    Setting("samples", "integer", None, Range(1, 10**9), doc="design points"),
    Setting("seed", "seed", None, doc="seed of the design and of every sample's noise (per-sample seeds are "
                                      "spawned from it)"),
    Setting("design", "choice", "random", choices=("random", "sobol", "lhs", "grid"),
            doc="how the points are drawn (scipy.stats.qmc for Sobol' and Latin hypercube)"),
    Setting("instruments", "choices", None, choices=("ndp", "eels", "hrtem"),
            doc="the instruments simulated at every point, each with the sample's own table"),
    Setting("outputs", "choices", None, choices=("noisy", "expected"),
            doc="the arrays stored: Poisson counts, the expectation, or both"),
    Setting("parameters", "any", None, doc="{dotted name = {dist, ...}}", check=_mapping),
    Setting("batch_size", "integer", None, Range(1, 10**7),
            doc="samples per task and per chunk of the store (default: at most 1024 and 32 MB of output)"),
    Setting("hrtem_device", "choice", "cpu", choices=("cpu", "gpu", "auto"),
            doc="where HRTEM samples run: auto takes a worker's GPU (cupy) when it has one"),
), "synthetic datasets (schema)")

#: Every table of a sample file besides [sample], [phases] and [[layers]].
TABLES: dict[str, SettingTable] = {t.name: t for t in (NDP, EELS, HRTEM, BUILD, FIT, SWEEP)}


def check_tables(doc: Mapping[str, Any]) -> None:
    """Validate every settings table present in a parsed sample file (errors name the field)."""
    for name, table in TABLES.items():
        if name in doc:
            table.read(doc[name])
