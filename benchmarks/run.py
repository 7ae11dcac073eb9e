"""Run every benchmark and print a table with the target beside each figure.

Usage::

    python benchmarks/run.py            # all benchmarks
    python benchmarks/run.py --repeat 50

Timings are medians of repeated calls after one warm-up call (numba compilation and
caches excluded; the warm-up time is reported separately), on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from interphase_sim import Layer, Stack  # noqa: E402


def twenty_layer_stack() -> Stack:
    """20 layers cycling through the interphase phases, gradients and roughness on all."""
    cycle = ["Li2O", "Li3N", "Li3P", "Li3PO4", "LiPON", "LiF", "LNMO", "Li"]
    layers = []
    for i in range(19):
        a, b = cycle[i % len(cycle)], cycle[(i + 3) % len(cycle)]
        layers.append(
            Layer(f"L{i}", {a: 0.7, b: 0.3}, 10.0 + 5 * (i % 4), roughness_nm=1.0 + 0.5 * (i % 3),
                  phases_bottom={a: 0.4, b: 0.6}, grain_size_nm=5)
        )
    layers.append(Layer("substrate", {"Au": 1.0}, "inf"))
    return Stack(layers)


def six_parameter_problem():
    """LiPON | LNMO on Au with two thicknesses, a roughness, FWHM, scale and background free."""
    from interphase_sim import Parameter, samples
    from interphase_sim.fit import hold_systematics
    from interphase_sim.ndp.model import NDPModel

    stack = samples.load("lnmo_lipon")
    stack["LNMO"].roughness_nm = Parameter(15.0, bounds=(1.0, 60.0), vary=True)
    model = NDPModel.from_stack(stack, fwhm_keV=Parameter(18.0, bounds=(5.0, 40.0), vary=True),
                                scale=Parameter(1.0, bounds=(0.3, 3.0), vary=True),
                                background=Parameter(0.3, bounds=(0.0, 5.0), vary=True))
    hold_systematics(model)  # the row times the optimizer on six parameters
    data = model.simulate(noise=True, seed=7)
    params = model.parameters().varying()
    assert len(params) == 6, list(params)
    start = params.get_values() * np.array([1.25, 0.78, 1.3, 0.75, 1.2, 1.25])
    return model, data, start


def joint_problem():
    """The shipped Li | SEI | LiPON sample: an NDP spectrum and a 200 x 2048 EELS line scan,
    fitted jointly with every instrument's nuisance and systematic parameters."""
    from interphase_sim import samples
    from interphase_sim.eels.model import EELSModel
    from interphase_sim.fit import Objective
    from interphase_sim.ndp import NDPModel

    stack = samples.load("li_sei_lipon")
    ndp = NDPModel.from_stack(stack)
    eels = EELSModel.from_stack(stack, positions=200, channels=2048)
    data = [ndp.simulate(noise=True, seed=3), eels.simulate(noise=True, seed=4)]
    objectives = [Objective(ndp, data[0]), Objective(eels, data[1])]
    free = {n: p for o in objectives for n, p in o.parameters().varying().items()}
    start = {n: p.value for n, p in free.items()}
    for p in stack.parameters().varying().values():  # the sample's unknowns start 10 % off
        if p.role == "systematic":  # (the systematics at their prior means)
            continue
        lo, hi = p.bounds
        start[next(n for n, q in free.items() if q is p)] = min(max(p.value * 1.1, lo), hi)
    return objectives, free, start


def joint_fit_rows(rows: list, quick: bool) -> None:
    """The joint NDP + EELS fit (< 2 s) and, without --quick, emcee with the stopping
    systematics on an NDP spectrum (< 60 s; the joint fit's 200 x 2048 line scan costs ~10 ms
    an evaluation, so 64,000 of them cannot fit in a minute)."""
    import warnings

    from interphase_sim.fit import fit, sample

    objectives, free, start = joint_problem()

    def one_fit():
        for n, v in start.items():
            free[n].value = v
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fit(objectives)

    med, first = bench(one_fit, 3)
    rows.append((f"joint fit: NDP + EELS 200 x 2048, {len(free)} free (nuisance, systematics)", med, "s",
                 "< 2 s", med < 2.0, first))
    if not quick:  # emcee with the systematics, on the NDP spectrum of the thin-film cathode
        from interphase_sim import samples
        from interphase_sim.fit import Objective
        from interphase_sim.ndp import NDPModel

        model = NDPModel.from_stack(samples.load("lnmo_lipon"))
        objective = Objective(model, model.simulate(noise=True, seed=5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            best = fit(objective)
            t0 = time.perf_counter()
            sample(objective, nwalkers=32, nsteps=2000, seed=1, start=best)
        dt = time.perf_counter() - t0
        rows.append((f"emcee with systematics: NDP, {len(best.names)} free (stopping scales, 6Li, density), 32 x 2000", dt, "s",
                     "< 60 s", dt < 60.0, dt))


def bench(fn, repeat: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="skip the minute-long emcee benchmark")
    args = ap.parse_args()

    stack = twenty_layer_stack()
    z = np.linspace(0.0, stack.finite_depth_nm() + 50.0, 100_000)
    rows = []
    med, first = bench(lambda: stack.profile(z), args.repeat)
    rows.append(("Stack.profile, 20 layers with roughness, 100,000 depths", med * 1e3, "ms", "< 5 ms", med < 5e-3, first))

    text = stack.to_toml_string()
    med, first = bench(lambda: Stack.from_toml_string(text), args.repeat)
    rows.append(("Stack.from_toml_string, 20 layers", med * 1e3, "ms", "(no target)", None, first))

    from interphase_sim.ndp import NDPModel, spectrum_to_depth

    inv_stack = Stack([Layer("LiPON", {"LiPON": 1.0}, 2000), Layer("Si", {"Si": 1.0}, "inf")])
    inv_model = NDPModel(inv_stack, particles=("alpha",), channels=2000, gain_keV=1.2)
    spectrum = inv_model.simulate(noise=True, seed=1)
    med, first = bench(lambda: spectrum_to_depth(spectrum, "LiPON", "alpha", model=inv_model), args.repeat)
    rows.append(("NDP spectrum_to_depth, 2000 channels", med * 1e3, "ms", "< 5 ms", med < 5e-3, first))

    from interphase_sim import phases
    from interphase_sim.ndp.stopping import exit_energy, linear_stopping_power

    lipon = phases.get("LiPON")
    e_grid = np.geomspace(10.0, 2100.0, 500)
    med, first = bench(lambda: linear_stopping_power("alpha", e_grid, lipon), args.repeat)
    rows.append(("linear_stopping_power, alpha in LiPON, 500 energies", med * 1e3, "ms", "(no target)", None, first))
    path = [(lipon, 1000.0), ("Au", 200.0)]
    med, first = bench(lambda: exit_energy("alpha", e_grid, path), args.repeat)
    rows.append(("exit_energy, alpha through LiPON + Au, 500 energies", med * 1e3, "ms", "(no target)", None, first))

    from interphase_sim.build import atoms_from_stack

    def build(lateral):
        import resource

        model = Stack([
            Layer("LiPON", {"LiPON": 1.0}, 13.0, roughness_nm=0.5),
            Layer("SEI", {"Li2O": 0.4, "Li3N": 0.3, "Li3PO4": 0.1, "LiPON": 0.2}, 14.0, grain_size_nm=4.0,
                  phases_bottom={"Li2O": 0.6, "Li3N": 0.3, "LiPON": 0.1}, roughness_nm=0.5),
            Layer("Li", {"Li": 1.0}, "inf"),
        ])
        t0 = time.perf_counter()
        atoms = atoms_from_stack(model, (lateral, lateral), seed=1, semi_infinite_nm=13.0)
        dt = time.perf_counter() - t0
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        return len(atoms), dt, peak_gb

    atoms_from_stack(Stack([Layer("w", {"LiPON": 1}, 1.5), Layer("Li", {"Li": 1}, "inf")]), (2, 2), seed=0)  # compile
    n, dt, _ = build(10.0)
    rows.append((f"build: Li | mosaic SEI | LiPON, 10x10x40 nm, {n:,} atoms ({n / dt:,.0f} atoms/s)",
                 dt, "s", "< 20 s", dt < 20.0, dt))
    if not args.quick:
        n, dt, peak = build(22.5)
        rows.append((f"build: 22.5x22.5x40 nm, {n:,} atoms ({n / dt:,.0f} atoms/s, peak RSS {peak:.1f} GB)",
                     dt, "s", "< 120 s, 4 GB", dt < 120.0 and peak < 4.0, dt))

    import warnings

    from interphase_sim.fit import Objective, fit, sample

    fit_model, fit_data, start = six_parameter_problem()
    params = fit_model.parameters().varying()

    def one_fit():
        params.set_values(start)
        fit(Objective(fit_model, fit_data))

    med, first = bench(one_fit, max(3, args.repeat // 6))
    rows.append(("fit: 6 free parameters, 1024-channel NDP spectrum", med * 1e3, "ms", "< 1000 ms", med < 1.0, first))
    if not args.quick:
        params.set_values(start)
        best = fit(Objective(fit_model, fit_data))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            sample(Objective(fit_model, fit_data), nwalkers=32, nsteps=2000, seed=1, start=best)
        dt = time.perf_counter() - t0
        rows.append(("emcee: 32 walkers x 2000 steps on that problem", dt, "s", "< 60 s", dt < 60.0, dt))

    joint_fit_rows(rows, args.quick)

    import bench_hrtem
    import bench_sweep

    bench_hrtem.run(rows, args.quick)
    bench_sweep.run(rows, args.quick)
    return print_table(rows)


def print_table(rows: list) -> int:
    """Print the rows with their targets; 1 if any row missed its target, else 0."""
    print(f"{'benchmark':74s} {'median':>10s}  {'target':>12s}  {'status':6s}  first call")
    for name, val, unit, target, ok, first in rows:
        status = "-" if ok is None else ("PASS" if ok else "FAIL")
        first_text = f"{first * 1e3:.0f} ms" if unit not in ("s", "x") and first is not None else ""
        print(f"{name:74s} {val:8.3g} {unit:2s}  {target:>12s}  {status:6s}  {first_text}")
    failed = [name for name, *_, ok, _ in rows if ok is False]
    if failed:
        print(f"{len(failed)} of {len(rows)} rows missed their targets: {'; '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
