"""The validation report: its frame (rows, verdicts, files) and the quick run CI makes.

The quick run (``interphase-sim validate --quick``) is made once per session
(``quick_validation`` in conftest.py); every row of it must pass, be a documented known
deviation or be skipped with its reason.
"""

import math

import pytest

from interphase_sim.cli.main import main
from interphase_sim.validation import CHECK_MODULES, Context, Report, Row, Section, compare

SECTIONS = ("stopping", "ndp", "eels", "hrtem", "structures", "fitting", "study-ndp-detectability",
            "study-information")


def test_a_row_is_judged_by_its_tolerance_and_a_known_deviation_keeps_its_reason():
    assert Row("x", 2.0, "exact", 2.01, 0.01).verdict == "pass"  # 0.5 % relative
    assert Row("x", 2.0, "exact", 2.1, 0.01).verdict == "fail"
    assert Row("x", 2.0, "exact", 2.1, 0.01, relative=False).verdict == "fail"
    assert Row("x", 2.0, "exact", 2.005, 0.01, relative=False).verdict == "pass"
    assert math.isclose(Row("x", -4.0, "exact", -5.0, 1.0).difference, -0.25)
    known = compare("LiF alpha 2 MeV", 1.0, 0.954, 0.03, "ASTAR", known="Bragg's rule: F fit is for the gas")
    assert known.verdict == "known deviation" and "gas" in known.note and known.ok
    assert compare("y", 1.0, 0.99, 0.03, "ASTAR", known="unused").verdict == "pass"
    assert Row("nan", 1.0, "exact", math.nan, 0.1).verdict == "fail"  # a NaN never passes
    skipped = Row.skipped("exspy GOS", "exspy", "exspy is not installed")
    assert skipped.verdict == "skipped" and skipped.ok and "not installed" in skipped.note
    with pytest.raises(ValueError, match="verdict"):
        Row("x", 1.0, "exact", 1.0, 0.1, verdict="fine")


def test_a_report_with_one_failing_row_is_not_ok_and_says_so(tmp_path):
    good = Section("A", "what A checks", [Row("a", 1.0, "exact", 1.0, 1e-9)])
    bad = Section("B", "what B checks", [Row("b", 1.0, "exact", 2.0, 1e-9)])
    report = Report([good, bad], quick=True, seed=1, wall_time_s=1.0, versions={"numpy": "2"})
    assert not report.ok and report.counts()["fail"] == 1
    paths = report.write(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "| b | 1 | exact | 2 | 100 % |" in text and "1 fail" in text and all(p.exists() for p in paths)
    assert Context(tmp_path, seed=3).rng("ndp").random() == Context(tmp_path, seed=3).rng("ndp").random()
    assert Context(tmp_path, seed=3).rng("ndp").random() != Context(tmp_path, seed=3).rng("eels").random()


def test_every_check_module_is_in_the_package():
    import importlib

    for name in CHECK_MODULES:
        importlib.import_module(f"interphase_sim.validation.{name}")


def test_an_unknown_check_is_refused_in_one_line(tmp_path, capsys):
    assert main(["validate", "--quick", "--only", "stoping", "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "--only" in err and "stopping" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()


def test_the_quick_report_passes_with_every_section_its_rows_and_figures(quick_validation):
    out, code, doc, printed = quick_validation
    failing = [(s["title"], r["name"]) for s in doc["sections"] for r in s["rows"] if r["verdict"] == "fail"]
    assert code == 0 and doc["ok"] and not failing, failing
    titles = " | ".join(s["title"] for s in doc["sections"])
    assert len(doc["sections"]) >= len(SECTIONS), titles
    for section in doc["sections"]:
        assert section["rows"] and section["text"], section["title"]
        for row in section["rows"]:
            assert row["source"] and (row["verdict"] in ("pass", "fail") or row["note"]), row
        for name, caption in section["figures"]:
            assert (out / name).stat().st_size > 5_000 and caption
    assert doc["counts"]["pass"] >= 40
    assert "validation (quick" in printed and (out / "report.md").exists() and (out / "run.json").exists()


def test_an_unknown_check_in_python_names_the_ones_there_are(tmp_path):
    from interphase_sim import InterphaseInputError
    from interphase_sim.validation import run_validation

    with pytest.raises(InterphaseInputError, match="only: unknown check 'stoping'; choose from .*stopping"):
        run_validation(tmp_path, only=["stoping"])
