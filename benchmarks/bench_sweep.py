"""Dataset-sweep benchmarks, called from ``benchmarks/run.py`` (or run alone).

Rows (targets beside them):

* one NDP spectrum (10 layers, 1024 channels, alpha + triton) < 0.25 ms and one EELS
  line scan (200 x 2048, 5 edges) < 5 ms, with default thread settings (measured in a
  child process whose environment sets no thread counts);
* a sweep of 10^4 NDP + 10^3 EELS samples, noisy and expected, on a LocalCluster of 2
  workers: end to end (interpreter start, cluster, stores, every write) < 30 s, client
  memory < 500 MB, parallel efficiency (serial time / (2 x sweep time), the serial run in
  the same benchmark) >= 0.8 when the cores are free (the machine row: two processes of
  pure compute each at >= 0.9 of one alone), and >= 0.8 of that machine ceiling always.
  The serial and the parallel sweep run twice, in turn, and each row takes the faster
  run of each (the peak memory the larger): this machine's speed drifts by several per
  cent within a minute, which one pair of runs would put into the ratio;
* 10^5 NDP samples: the client's memory flat (growth from 10 % to 100 % done < 50 MB),
  and the store's size;
* HRTEM of the shipped lamella: images per hour on this CPU, for a microscope-only sweep
  (one multislice, a transfer function per image; target 10^4 per GPU-hour, measured on
  a GPU when one is present) and for a structure sweep (a multislice per image).

``python benchmarks/bench_sweep.py`` prints the table alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

NDP_SWEEP = {
    "seed": 1, "design": "sobol", "instruments": ["ndp"], "outputs": ["noisy", "expected"],
    "parameters": {
        "SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 70},
        "SEI-inner.thickness_nm": {"dist": "uniform", "low": 10, "high": 70},
        "ndp.fwhm_keV": {"dist": "norm", "loc": 18, "scale": 2},
    },
}
EELS_SWEEP = {**NDP_SWEEP, "instruments": ["eels"],
              "parameters": {"SEI-outer.thickness_nm": {"dist": "uniform", "low": 10, "high": 70},
                             "SEI-inner.thickness_nm": {"dist": "uniform", "low": 10, "high": 70}}}


# -- jobs run in child processes ---------------------------------------------------------------
def _job_models() -> dict:
    """Median seconds of one NDP spectrum and one EELS line scan, a thickness moved per call."""
    import statistics

    from bench_models import eels_linescan, ndp_spectrum

    out = {}
    for name, fn in (("ndp", ndp_spectrum()), ("eels", eels_linescan())):
        fn()
        times = []
        for _ in range(200 if name == "ndp" else 40):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def _sample_text(sweep: dict, samples: int) -> str:
    import tomli_w

    from interphase_sim import samples as shipped

    text = shipped.text("li_sei_lipon").replace("positions = 170", "positions = 200")
    return text + "\n" + tomli_w.dumps({"sweep": {**sweep, "samples": samples}})


def _job_sweep(out: str, workers: int, ndp: int, eels: int) -> dict:
    """The NDP and the EELS sweep into two stores, on one LocalCluster (or this process)."""
    from interphase_sim.sample.stack import Stack
    from interphase_sim.sweep import SweepDesign, run_sweep

    client = cluster = None
    t0 = time.perf_counter()
    if workers > 1:
        from distributed import Client

        from interphase_sim.sweep import local_cluster

        cluster = local_cluster(workers)
        client = Client(cluster)
    runs = {}
    for name, sweep, n in (("ndp", NDP_SWEEP, ndp), ("eels", EELS_SWEEP, eels)):
        if n:
            stack = Stack.from_toml_string(_sample_text(sweep, n))
            design = SweepDesign.from_table(stack.sections["sweep"])
            runs[name] = run_sweep(stack, design, Path(out) / f"{name}.zarr", client=client).wall_time_s
    if client is not None:
        client.close()
        cluster.close()
    return {"wall_s": time.perf_counter() - t0, "runs": runs}


# -- the parent: children timed and watched ----------------------------------------------------
def _child(args: list[str], clean_threads: bool = False, watch: bool = False) -> tuple[dict, float, list]:
    """Run this file with ``args`` in a child; (its JSON answer, wall seconds, [(t, RSS MB)])."""
    import psutil

    env = dict(os.environ)
    if clean_threads:
        for k in THREAD_VARS:
            env.pop(k, None)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HERE / "bench_sweep.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    rss, me = [], psutil.Process(proc.pid)
    while watch and proc.poll() is None:
        try:
            rss.append((time.perf_counter() - t0, me.memory_info().rss / 2**20))
        except psutil.Error:
            break
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {args} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1]), wall, rss


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def model_rows(rows: list) -> None:
    got, _, _ = _child(["--job", "models"], clean_threads=True)
    rows.append(("NDP spectrum, 10 layers, 1024 ch, alpha+triton (default threads)", got["ndp"] * 1e3, "ms",
                 "< 0.25 ms", got["ndp"] < 0.25e-3, None))
    rows.append(("EELS line scan 200 x 2048, 5 edges, plural (default threads)", got["eels"] * 1e3, "ms",
                 "< 5 ms", got["eels"] < 5e-3, None))


def sweep_rows(rows: list, ndp: int = 10_000, eels: int = 1_000, ceiling: float = 1.0, quick: bool = False) -> None:
    """The sweep's rows. ``ceiling``: :func:`machine_scaling_row`'s figure. The efficiency
    target holds "when the cores are free" (a ceiling of at least 0.9); below, the row
    says the cores are busy, and the efficiency over the ceiling (the engine's own share
    of the loss) carries the target. The quick sweep is too small to amortise the
    workers' start-up: its efficiencies are shown without a target."""
    serials, pars, peaks = [], [], []
    for _ in range(1 if quick else 2):  # serial and parallel in turn, the best of each (the machine drifts)
        with tempfile.TemporaryDirectory() as tmp:
            got, t, _ = _child(["--job", "sweep", "--out", f"{tmp}/serial", "--workers", "1", "--ndp", str(ndp),
                                "--eels", str(eels)])
            serials.append((t, sum(got["runs"].values())))
        with tempfile.TemporaryDirectory() as tmp:
            got, t, rss = _child(["--job", "sweep", "--out", f"{tmp}/par", "--workers", "2", "--ndp", str(ndp),
                                  "--eels", str(eels)], watch=True)
            pars.append((t, sum(got["runs"].values())))
            peaks.append(max(r for _, r in rss))
            size = _du_mb(Path(tmp) / "par")
    (t_serial, b_serial), (t_par, b_par), peak = min(serials), min(pars), max(peaks)
    eff = t_serial / (2 * t_par)
    label = f"{ndp:,} NDP + {eels:,} EELS 200x2048, noisy+expected, 2 workers"
    rows.append((f"sweep {label}, end to end ({size:,.0f} MB store)", t_par, "s", "< 30 s", t_par < 30.0, None))
    rows.append(("sweep: client memory (peak RSS of the process that runs it)", peak, "MB", "< 500 MB",
                 peak < 500.0, None))
    free = ceiling >= 0.9
    busy = "" if free else f" (cores busy: ceiling {ceiling:.2f})"
    rows.append((f"sweep: parallel efficiency, serial {t_serial:.1f} s / (2 x {t_par:.1f} s){busy}", eff, "x",
                 ">= 0.8" if free and not quick else "(free cores)", eff >= 0.8 if free and not quick else None,
                 None))
    rows.append(("sweep: parallel efficiency / machine ceiling (the engine's own loss)", eff / ceiling, "x",
                 "(quick)" if quick else ">= 0.8", None if quick else eff / ceiling >= 0.8, None))
    rows.append((f"sweep: the batches alone (after the stores are laid out), serial {b_serial:.1f} s / "
                 f"(2 x {b_par:.1f} s): where the end-to-end loss is", b_serial / (2 * b_par), "x", "(no target)",
                 None, None))


_SPIN = ("import time\nt = time.perf_counter()\ns = 0\nfor i in range(4_000_000):\n    s += i\n"
         "print(time.perf_counter() - t)")


def machine_scaling_row(rows: list) -> float:
    """How fast two processes of pure compute run on this machine, each against one alone:
    the ceiling of any parallel efficiency here (a VM's cores may share a physical core)."""
    def spin(n: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    alone = min(spin(1) for _ in range(3))
    pair = min(spin(2) for _ in range(3))
    rows.append(("machine: 2 processes of a pure-Python loop, speed of each vs one alone (efficiency ceiling)",
                 alone / pair, "x", "(no target)", None, None))
    return alone / pair


def flat_memory_row(rows: list, ndp: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        got, wall, rss = _child(["--job", "sweep", "--out", tmp, "--workers", "2", "--ndp", str(ndp),
                                 "--eels", "0"], watch=True)
        size = _du_mb(Path(tmp) / "ndp.zarr")
    start = wall - got["runs"]["ndp"]  # when the sweep itself began
    during = [(t - start) / got["runs"]["ndp"] for t, _ in rss]
    at10 = max(r for (t, r), f in zip(rss, during) if f <= 0.1)
    growth = max(r for (t, r), f in zip(rss, during) if f > 0.1) - at10
    rows.append((f"sweep {ndp:,} NDP, 2 workers: client RSS growth 10->100 % ({wall:.0f} s, store {size:,.0f} MB)",
                 growth, "MB", "< 50 MB", growth < 50.0, None))


def hrtem_rows(rows: list, images: int = 40) -> None:
    """Images per hour of the shipped lamella: a defocus x Cs sweep (one multislice) and a
    thickness sweep (a multislice per image), in this process."""
    from interphase_sim import samples
    from interphase_sim.sweep.design import SweepDesign
    from interphase_sim.sweep.simulate import SampleSimulator

    stack = samples.load("li_sei_lipon")
    micro = SweepDesign.from_table({"samples": images, "seed": 1, "design": "random", "instruments": ["hrtem"],
                                    "outputs": ["noisy"], "parameters": {
                                        "hrtem.defocus_A": {"dist": "uniform", "low": -200, "high": 600},
                                        "hrtem.Cs_mm": {"dist": "uniform", "low": 0.5, "high": 1.5}}})
    sim = SampleSimulator(stack, micro)
    t0 = time.perf_counter()
    sim.simulate_batch(micro.points(), micro.sample_seeds(), 0, 1)  # the multislice
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.simulate_batch(micro.points(), micro.sample_seeds(), 1, images)
    per = (time.perf_counter() - t0) / (images - 1)
    rate = 3600.0 / per
    device = sim.models["hrtem"].device
    rows.append((f"HRTEM sweep, defocus x Cs, shipped lamella, {device}: images/hour (1 multislice {t_first:.0f} s)",
                 rate, "/h", ">= 1e4 (GPU)", rate >= 1e4 if device == "gpu" else None, None))
    struct = SweepDesign.from_table({"samples": 2, "seed": 1, "design": "random", "instruments": ["hrtem"],
                                     "outputs": ["noisy"], "parameters": {
                                         "SEI-outer.thickness_nm": {"dist": "uniform", "low": 20, "high": 40}}})
    sim = SampleSimulator(stack, struct)
    t0 = time.perf_counter()
    sim.simulate_batch(struct.points(), struct.sample_seeds(), 0, 2)
    rate = 3600.0 * 2 / (time.perf_counter() - t0)
    rows.append((f"HRTEM sweep, SEI thickness (a multislice each), {device}: images/hour", rate, "/h",
                 "(no target)", None, None))


def run(rows: list, quick: bool) -> None:
    model_rows(rows)
    ceiling = machine_scaling_row(rows)
    if quick:
        sweep_rows(rows, ndp=1_000, eels=100, ceiling=ceiling, quick=True)
        return
    sweep_rows(rows, ceiling=ceiling)
    flat_memory_row(rows)
    hrtem_rows(rows)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job", choices=("models", "sweep"))
    ap.add_argument("--out")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ndp", type=int, default=10_000)
    ap.add_argument("--eels", type=int, default=1_000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.job == "models":
        print(json.dumps(_job_models()))
        return 0
    if args.job == "sweep":
        print(json.dumps(_job_sweep(args.out, args.workers, args.ndp, args.eels)))
        return 0
    rows: list = []
    run(rows, args.quick)
    from run import print_table

    return print_table(rows)


if __name__ == "__main__":
    sys.exit(main())
