"""The sweep on a real dask LocalCluster of worker processes: the same store as one
process, whatever the workers, and a worker killed mid-run loses no sample."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr

from interphase_sim.sweep import SweepDesign
from interphase_sim.sweep.engine import run_sweep
from interphase_sim.sweep.store import done_mask

from test_sweep_store import TABLE, _arrays, _stack

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "s.zarr"
    run_sweep(_stack(), SweepDesign.from_table({**TABLE, "samples": 24}), path, batch_size=24)
    return _arrays(path)[1]


def test_workers_and_batch_sizes_give_the_serial_store(client, serial, tmp_path):
    design = SweepDesign.from_table({**TABLE, "samples": 24})
    for size in (4, 7):
        run = run_sweep(_stack(), design, tmp_path / f"d{size}.zarr", batch_size=size, client=client)
        assert run.computed == 24
        got = _arrays(tmp_path / f"d{size}.zarr")[1]
        for k in serial:
            np.testing.assert_array_equal(got[k], serial[k])
    assert xr.open_zarr(str(tmp_path / "d4.zarr"), consolidated=False)["ndp_counts"].chunks[0][0] == 4


def test_a_worker_killed_mid_run_loses_no_sample(client, serial, tmp_path):
    design = SweepDesign.from_table({**TABLE, "samples": 24})
    pids = client.run(os.getpid)  # {worker address: process id}
    victim = next(iter(pids))
    path = tmp_path / "k.zarr"
    done_at_kill = []

    def done():
        try:
            return int(done_mask(path).sum())
        except Exception:  # the store is still being laid out
            return 0

    def kill_one():  # as soon as the first batch is in
        deadline = time.perf_counter() + 60
        while done() == 0 and time.perf_counter() < deadline:
            time.sleep(0.01)
        done_at_kill.append(done())
        os.kill(pids[victim], signal.SIGKILL)

    killer = threading.Thread(target=kill_one)
    killer.start()
    run_sweep(_stack(), design, path, batch_size=1, client=client)
    killer.join()
    assert done_at_kill and done_at_kill[0] < design.samples  # the worker died while the sweep ran
    got = _arrays(tmp_path / "k.zarr")[1]
    for k in serial:
        np.testing.assert_array_equal(got[k], serial[k])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert victim not in client.run(os.getpid)
