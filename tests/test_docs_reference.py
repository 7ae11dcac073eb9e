"""The generated sample-file reference (docs/_ext/sample_reference.py) lists every key.

The documentation's sample-file page is generated from the package's own declarations
(:data:`interphase_sim.core.settings.TABLES`, the layer, sample and phase keys of
:mod:`interphase_sim.sample.toml_io`), so it cannot drift from what the code reads. These
tests check that claim: every setting of every table appears as a row of its own table's
section, with its default and its units, and every ``[[layers]]``, ``[sample]`` and
``[phases.NAME]`` key has a row. Sphinx is not needed (the generator imports it only to
register itself).
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

from interphase_sim.core.settings import CALIBRATION, TABLES
from interphase_sim.sample.toml_io import LAYER_KEYS, PHASE_KEYS, SAMPLE_KEYS

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext" / "sample_reference.py"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("sample_reference", EXT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def page(generator) -> str:
    return generator.render()


def sections(page: str) -> dict[str, str]:
    """The page's sections by their heading's code text (``[ndp]``, ``[[layers]]``)."""
    parts = re.split(r"^### `([^`]+)`\s*$", page, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def rows(section: str) -> dict[str, list[str]]:
    """Table rows of a section by their first cell's key (cells split on unescaped pipes)."""
    out = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([^`]+)` \|", line)
        if m:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            out.setdefault(m.group(1), cells)
    return out


def test_every_table_has_a_section(page):
    found = sections(page)
    for name in TABLES:
        assert f"[{name}]" in found, f"no section for [{name}]"
    for name in ("[sample]", "[[layers]]", "[phases.NAME]"):
        assert name in found


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_setting_of_every_table_is_listed(page, table):
    section = sections(page)[f"[{table}]"]
    listed = rows(section)
    for setting in TABLES[table].settings:
        assert setting.name in listed, f"[{table}] {setting.name} missing from the reference"
        cells = listed[setting.name]
        assert len(cells) == 6, f"[{table}] {setting.name}: malformed row {cells}"
        kind, rng, unit, default, desc = cells[1:]
        if setting.default is None:
            assert default == "—"
        elif isinstance(setting.default, (int, float)) and not isinstance(setting.default, bool):
            assert re.sub(r"[\s\u2009]", "", default.strip("`")) == \
                re.sub(r"[\s\u2009]", "", generator_number(setting.default)), (table, setting.name, default)
        units = setting.range.units
        if units and setting.kind in ("parameter", "number", "integer", "pair"):
            assert unit.replace("&lt;", "<") == units, (table, setting.name, unit)
        if setting.kind in ("parameter", "number", "pair") and not (
                math.isinf(setting.range.low) and math.isinf(setting.range.high)):
            assert rng, f"[{table}] {setting.name}: no range"
        if setting.choices:
            for choice in setting.choices:
                assert f'"{choice}"' in kind, (table, setting.name, choice)
        assert desc, f"[{table}] {setting.name}: no description (give the Setting a doc)"


def generator_number(x: float) -> str:
    """The default as the page writes it (``1e12``, ``300000``, ``0.2``)."""
    if isinstance(x, int):
        return str(x)
    text = f"{x:g}"
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)


def test_hrtem_groups_cover_every_key(page):
    section = sections(page)["[hrtem]"]
    assert set(rows(section)) == set(TABLES["hrtem"])
    # each key appears once: the groups do not overlap
    assert sum(line.startswith("| `") for line in section.splitlines()) == len(TABLES["hrtem"])


def test_fit_calibration_keys_are_listed(page):
    section = sections(page)["[fit]"]
    for kind, keys in CALIBRATION.items():
        for key in keys:
            assert re.search(rf"^\| `{kind}` \| `{key}` \|", section, flags=re.M), (kind, key)


@pytest.mark.parametrize("heading, keys", [("[[layers]]", LAYER_KEYS), ("[sample]", SAMPLE_KEYS),
                                           ("[phases.NAME]", PHASE_KEYS)])
def test_layer_sample_and_phase_keys_are_listed(page, heading, keys):
    listed = rows(sections(page)[heading])
    assert set(listed) == set(keys)
    for key in keys:
        assert listed[key][-1], f"{heading} {key}: no description"


def test_layer_ranges_come_from_the_code(page):
    from interphase_sim.sample.stack import LAYER_RANGES

    listed = rows(sections(page)["[[layers]]"])
    for key, (lo, hi, lo_open) in LAYER_RANGES.items():
        rng = listed[key][2]
        assert rng.startswith("(" if lo_open else "\\["), (key, rng)
        assert f"{lo:g}" in rng, (key, rng)


def test_write_is_deterministic(generator, tmp_path):
    path = generator.write(tmp_path)
    first = path.read_text(encoding="utf-8")
    mtime = path.stat().st_mtime_ns
    generator.write(tmp_path)
    assert path.read_text(encoding="utf-8") == first == generator.render()
    assert path.stat().st_mtime_ns == mtime  # unchanged text is not rewritten
