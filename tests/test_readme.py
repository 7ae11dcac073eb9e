"""The README's Python example runs, and its Quickstart matches .ci/run."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "sample.toml").exists()


def test_ci_runs_the_quickstart_test_command():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2, "the Quickstart has exactly two commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert all(cmd.strip() in ci for cmd in commands)
    assert "interphase-sim demo" in commands[0] and "pytest" in commands[1]


def test_every_readme_command_line_parses_as_written():
    """Each ``interphase-sim ...`` line of the README's bash blocks is a command the parser
    takes as it stands (no ``[--optional]`` placeholders that fail when pasted)."""
    import shlex

    from interphase_sim.cli.main import build_parser

    text = (ROOT / "README.md").read_text()
    lines = [ln.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
             for ln in block.splitlines()]
    commands = [shlex.split(ln)[1:] for ln in lines if ln.startswith((".venv/bin/interphase-sim", "interphase-sim"))]
    assert len(commands) >= 8
    parser = build_parser()
    for argv in commands:
        assert "[" not in " ".join(argv), argv
        parser.parse_args(argv)  # argparse exits (SystemExit) on anything it does not take
