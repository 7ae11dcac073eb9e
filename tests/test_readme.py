"""The README's and the docs' Python examples run and their command lines parse; the
Quickstart matches .ci/run."""

import pytest

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


#: Pages whose Python blocks run in order (in one folder, each block on its own) and whose
#: ``interphase-sim`` lines must parse as written.
PAGES = ["README.md", "docs/guide.md", "docs/getting-started.md", "docs/scaling.md", "docs/validation.md"]


@pytest.mark.parametrize("page", PAGES)
def test_python_examples_run(page, tmp_path, monkeypatch):
    text = (ROOT / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        if "dask_jobqueue" in code:  # needs a batch-queue cluster: not here
            continue
        exec(compile(code, page, "exec"), {})
    if page in ("README.md", "docs/guide.md"):
        assert blocks and (tmp_path / "sample.toml").exists()


def test_ci_runs_the_quickstart_test_command():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2, "the Quickstart has exactly two commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert all(cmd.strip() in ci for cmd in commands)
    assert "interphase-sim demo" in commands[0] and "pytest" in commands[1]


@pytest.mark.parametrize("page", PAGES)
def test_every_command_line_parses_as_written(page):
    """Each ``interphase-sim ...`` line of the page's bash blocks is a command the parser
    takes as it stands (no ``[--optional]`` placeholders that fail when pasted)."""
    import shlex

    from interphase_sim.cli.main import build_parser

    text = (ROOT / page).read_text()
    lines = [ln.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
             for ln in block.splitlines()]
    commands = [shlex.split(ln)[1:] for ln in lines if ln.startswith((".venv/bin/interphase-sim", "interphase-sim"))]
    assert len(commands) >= (8 if page in ("README.md", "docs/guide.md") else 0)
    parser = build_parser()
    for argv in commands:
        assert "[" not in " ".join(argv), argv
        parser.parse_args(argv)  # argparse exits (SystemExit) on anything it does not take
