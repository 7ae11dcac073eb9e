"""``interphase-sim sweep``: a synthetic dataset into a Zarr store, and ``sweep info``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from interphase_sim.core.errors import InterphaseInputError

__all__ = ["add_sweep_parser"]


def add_sweep_parser(sub: Any) -> None:
    """``sweep SAMPLE --out STORE`` and ``sweep info STORE``."""
    from interphase_sim.cli.main import seed_arg

    sw = sub.add_parser(
        "sweep", help="simulate a synthetic dataset into a Zarr store (or: sweep info STORE)",
        description=("Simulate every point of the sample's [sweep] table with its instruments into the Zarr "
                     "store --out, batch by batch, resuming the same sweep where it stopped. "
                     "'interphase-sim sweep info STORE.zarr' says what a store holds and how complete it is."),
    )
    sw.add_argument("target", nargs="+", metavar="SAMPLE | info STORE",
                    help="sample file (TOML) or a shipped sample's name; or 'info' and a store")
    sw.add_argument("--out", default=None, help="the Zarr store (a folder)")
    sw.add_argument("--samples", type=int, default=None, help="design points (default the [sweep] table's)")
    sw.add_argument("--seed", type=seed_arg, default=None, help="sweep seed (default the [sweep] table's)")
    sw.add_argument("--batch-size", type=int, default=None, help="samples per task and per chunk (default 256)")
    sw.add_argument("--workers", type=int, default=None,
                    help="worker processes of a local dask cluster (default: one per core; 1: this process only)")
    sw.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="an existing dask scheduler, e.g. tcp://host:8786 (instead of --workers)")
    sw.add_argument("--overwrite", action="store_true", help="replace a store of another sweep")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch ``sweep`` and ``sweep info``."""
    if args.target[0] == "info":
        if len(args.target) != 2:
            raise InterphaseInputError("sweep info", "give one store: interphase-sim sweep info STORE.zarr")
        print(info_text(args.target[1]))
        return 0
    if len(args.target) != 1:
        raise InterphaseInputError("sweep", "give one sample file (and --out STORE.zarr)")
    return _sweep(args)


def _sweep(args: argparse.Namespace) -> int:
    from interphase_sim.cli.flags import read_sample
    from interphase_sim.sweep import SweepDesign
    from interphase_sim.sweep.engine import run_sweep
    from interphase_sim.sweep.store import done_mask

    if not args.out:
        raise InterphaseInputError("--out", "give the store to write, e.g. --out dataset.zarr")
    if args.workers is not None and args.scheduler is not None:
        raise InterphaseInputError("--workers", "give --workers or --scheduler, not both")
    if args.workers is not None and args.workers < 1:
        raise InterphaseInputError("--workers", f"must be >= 1, got {args.workers}")
    from interphase_sim.core.settings import SWEEP

    for key, flag in (("samples", "--samples"), ("batch_size", "--batch-size")):
        if getattr(args, key) is not None:
            SWEEP[key].read(getattr(args, key), f"{flag} ([sweep] {key})")
    stack = read_sample(args.target[0])
    design = SweepDesign.from_table(stack.sections.get("sweep"), samples=args.samples, seed=args.seed,
                                    batch_size=args.batch_size)
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    try:
        workers = "auto" if args.workers is None and client is None else args.workers
        result = run_sweep(stack, design, args.out, overwrite=args.overwrite, client=client, workers=workers,
                           progress=not args.quiet)
    except KeyboardInterrupt:
        try:
            have = int(done_mask(args.out).sum())
        except Exception:
            have = 0
        print(f"interphase-sim: interrupted: {have} of {design.samples} samples are in {args.out}; run the same "
              "command again to resume", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
    print(result.summary())
    return 0


def info_text(path: str) -> str:
    """What a store holds: the sweep, its variables and how complete it is."""
    from interphase_sim.sweep.store import done_mask, open_dataset

    store = Path(path)
    ds = open_dataset(store)
    if "sweep" not in ds.attrs:
        raise InterphaseInputError(str(store), "not a sweep store")
    sweep = json.loads(ds.attrs["sweep"])
    done = done_mask(store)
    size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    lines = [f"{store}: {int(done.sum())} of {done.size} samples done ({100 * done.mean():.1f} %), "
             f"{size / 1e6:.1f} MB on disk",
             f"  design {sweep['design']}, seed {sweep['seed']}, instruments {', '.join(sweep['instruments'])}, "
             f"outputs {', '.join(sweep['outputs'])}",
             "  swept: " + ", ".join(sweep["parameters"])]
    for name, var in ds.data_vars.items():
        if name != "done":
            dims = " x ".join(f"{d} {n}" for d, n in zip(var.dims, var.shape))
            lines.append(f"  {name}: {dims} ({var.dtype})")
    return "\n".join(lines)
