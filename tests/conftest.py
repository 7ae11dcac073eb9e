"""Shared test settings: non-interactive matplotlib, hypothesis profile for CI."""

import os

import matplotlib

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.load_profile("ci")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def quick_validation(tmp_path_factory):
    """``interphase-sim validate --quick`` run once for the session: (folder, exit status,
    report.json as a dict). The validation tests read this one run."""
    import contextlib
    import io
    import json

    from interphase_sim.cli.main import main

    out = tmp_path_factory.mktemp("validation") / "report"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(["validate", "--quick", "--out", str(out)])
    doc = json.loads((out / "report.json").read_text())
    return out, code, doc, printed.getvalue()


@pytest.fixture(scope="session")
def quick_sections(quick_validation):
    """The quick report's sections by check key, as the checks returned them, and the
    report folder (their figures are in it): the per-check tests read this one run."""
    from interphase_sim.validation.report import Section

    out, _, doc, _ = quick_validation
    return {d["key"]: Section.from_dict(d) for d in doc["sections"]}, out
