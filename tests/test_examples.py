"""Every script in examples/ runs in quick mode (CI keeps them working), writes into the
folder it is given, and is in sphinx-gallery format (a docstring that opens with an RST
title underlined by '=')."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(script), str(out), "--quick"], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"})
    assert r.returncode == 0, r.stderr[-4000:]
    assert out.is_dir() and any(p.is_file() for p in out.rglob("*")), f"{script.name} wrote nothing into {out}"
    assert not (tmp_path / "example-output").exists(), "the OUT_DIR argument was ignored"


def test_example_runs_without_arguments(tmp_path):
    """As sphinx-gallery runs it: no arguments, INTERPHASE_SIM_QUICK=1, output under the
    current folder's example-output/<script stem>."""
    script = EXAMPLES_DIR / "sei_depth_profile.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env={**os.environ, "MPLBACKEND": "Agg", "INTERPHASE_SIM_QUICK": "1"})
    assert r.returncode == 0, r.stderr[-4000:]
    assert any((tmp_path / "example-output" / script.stem).iterdir())


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_follows_the_conventions(script):
    text = script.read_text(encoding="utf-8")
    assert f'"example-output/{script.stem}"' in text, "default OUT_DIR must be example-output/<script stem>"
    assert "--quick" in text and "INTERPHASE_SIM_QUICK" in text


def test_there_are_enough_examples():
    assert len(EXAMPLES) >= 8, [p.name for p in EXAMPLES]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_is_in_gallery_format(script):
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")), clean=True)
    assert doc, f"{script.name} has no module docstring"
    lines = doc.splitlines()
    assert len(lines) >= 3, f"{script.name}: the docstring needs a title, its underline and a paragraph"
    title, underline = lines[0].rstrip(), lines[1].rstrip()
    assert title and not title.startswith(("=", "-")), f"{script.name}: the first line must be the title"
    assert underline and set(underline) == {"="} and len(underline) >= len(title), \
        f"{script.name}: the title must be underlined by '=' at least as long as it"


def test_gallery_header():
    header = EXAMPLES_DIR / "GALLERY_HEADER.rst"
    assert header.is_file()
    lines = header.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Examples gallery" and set(lines[1]) == {"="}
