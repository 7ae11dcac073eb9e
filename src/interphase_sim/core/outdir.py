"""A command's output folder: staged, moved into place whole, with a manifest.

Every command that writes files writes them into a staging folder inside ``--out``
(``.interphase-staging-<pid>``), made and checked writable before any work. When the run
ends well its files are moved into place, the files an earlier run recorded but this one
did not write are removed (an old ``model.cif`` does not linger beside a new
``model.extxyz``), and ``run.json`` records the command, the sample text's hash, the seed,
the files written and the package version. A run that fails or is interrupted leaves
nothing: its staging folder is removed, and a staging folder left by a killed process
(SIGKILL, power loss) is removed by the next run into the same folder. Files that no run
recorded (the user's own) are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["RunOutput", "MANIFEST", "STAGING_PREFIX", "abort_unfinished"]

MANIFEST = "run.json"
_UNFINISHED: list = []
STAGING_PREFIX = ".interphase-staging-"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another run may be writing into the folder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(folder: Path) -> list[Path]:
    """Remove staging folders of runs whose process is gone; returns what was removed."""
    removed = []
    for entry in folder.glob(f"{STAGING_PREFIX}*"):
        pid = entry.name[len(STAGING_PREFIX):].split("-")[0]
        if entry.is_dir() and (not pid.isdigit() or not _alive(int(pid))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def abort_unfinished() -> None:
    """Abort every run output that was opened but neither committed nor aborted (a command
    that failed or was interrupted between opening its folder and writing)."""
    for run in list(_UNFINISHED):
        run.abort()


class RunOutput:
    """The output folder of one run (use as a context manager).

    Parameters
    ----------
    out : str or path
        The ``--out`` folder (made if missing). An empty name is refused.
    command : list of str
        The command line (recorded in ``run.json``).
    sample_text : str, optional
        The sample file's text (its SHA-256 is recorded).
    seed : int, optional
        The run's seed (recorded; None is written as null).
    field : str
        The option that named the folder, for messages.
    """

    def __init__(self, out: str | os.PathLike, command: list[str], sample_text: str | None = None,
                 seed: int | None = None, field: str = "--out") -> None:
        if str(out).strip() == "":
            raise InterphaseInputError(field, "an empty folder name; give a folder, e.g. --out results")
        self.folder = Path(out)
        self.field = field
        self.command = list(command)
        self.sample_sha256 = None if sample_text is None else hashlib.sha256(sample_text.encode()).hexdigest()
        self.seed = seed
        self.names: list[str] = []
        self.staging = self._make_staging()
        self._t0 = time.time()
        _UNFINISHED.append(self)

    def _make_staging(self) -> Path:
        if self.folder.exists() and not self.folder.is_dir():
            raise InterphaseInputError(self.field, f"{self.folder} is a file, not a folder: give a folder")
        missing = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        self._made = missing[::-1]  # the folders this run made (removed again if it writes nothing)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            clean_stale_staging(self.folder)
            staging = self.folder / f"{STAGING_PREFIX}{os.getpid()}-{os.urandom(3).hex()}"
            staging.mkdir()
            probe = staging / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise InterphaseInputError(self.field, f"cannot write into {self.folder}: {exc.strerror or exc}") from None
        return staging

    def path(self, name: str) -> Path:
        """Where to write the output file ``name`` (inside the staging folder)."""
        if name not in self.names:
            self.names.append(name)
        return self.staging / name

    def final(self, name: str) -> Path:
        """Where ``name`` will be once the run has ended well."""
        return self.folder / name

    def previous(self) -> list[str]:
        """The files the last run into this folder recorded (none without a manifest)."""
        try:
            doc = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            return [str(n) for n in doc.get("files", [])]
        except (OSError, ValueError, AttributeError):
            return []

    def commit(self, extra: dict[str, Any] | None = None) -> list[Path]:
        """Move the staged files into place, remove the earlier run's files this run did not
        write, write ``run.json``; returns the final paths."""
        from interphase_sim import __version__

        written = [n for n in self.names if (self.staging / n).exists()]
        for name in self.previous():
            if name not in written and "/" not in name and name != MANIFEST:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    (self.folder / name).unlink()
        for name in written:
            os.replace(self.staging / name, self.folder / name)
        doc = {"command": self.command, "sample_sha256": self.sample_sha256, "seed": self.seed,
               "files": written, "interphase_sim": __version__, "python": sys.version.split()[0],
               "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self._t0)),
               "wall_time_s": round(time.time() - self._t0, 3), **(extra or {})}
        (self.staging / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(self.staging / MANIFEST, self.folder / MANIFEST)
        shutil.rmtree(self.staging, ignore_errors=True)
        self._finished()
        return [self.folder / n for n in written]

    def abort(self) -> None:
        """Remove the staging folder and whatever it holds, and the folders this run made
        when nothing is in them."""
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in reversed(self._made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        self._finished()

    def _finished(self) -> None:
        with contextlib.suppress(ValueError):
            _UNFINISHED.remove(self)

    def __enter__(self) -> RunOutput:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
