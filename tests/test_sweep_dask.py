"""The sweep on a real dask LocalCluster of worker processes: the same store as one
process, whatever the workers, and a worker killed mid-run loses no sample."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr

from interphase_sim.sweep import SweepDesign, local_cluster
from interphase_sim.sweep.engine import run_sweep
from interphase_sim.sweep.store import done_mask

from test_sweep_store import TABLE, _arrays, _stack

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = local_cluster(2)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "s.zarr"
    run_sweep(_stack(), SweepDesign.from_table({**TABLE, "samples": 24}), path, batch_size=24)
    return _arrays(path)[1]


def test_the_local_cluster_is_one_thread_per_worker_process_with_glibc_heap_management(client):
    """dask's MALLOC_TRIM_THRESHOLD_ (65536) fixes glibc's mmap threshold: every
    megabyte array of a line scan would be mapped and faulted in anew."""
    env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    pids = client.run(os.getpid)
    assert len(env) == 2 and set(env.values()) == {None}
    assert os.getpid() not in pids.values() and len(set(pids.values())) == 2
    assert {w["nthreads"] for w in client.scheduler_info()["workers"].values()} == {1}
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ or os.environ["MALLOC_TRIM_THRESHOLD_"] != "65536"


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


def _process_tree(pid):
    import psutil

    return [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)


def test_the_client_killed_mid_run_leaves_a_store_a_rerun_completes_identically(tmp_path):
    """`interphase-sim sweep --workers 2` killed with SIGKILL (no clean-up at all) once some
    batches are in: the re-run computes only what is not done, and the store equals one
    written by an uninterrupted run."""
    import subprocess
    import sys

    import psutil
    import tomli_w

    from test_sweep_store import _stack as small_stack

    n = 160
    stack = small_stack()
    text = stack.to_toml_string() + "\n" + tomli_w.dumps({"sweep": {**TABLE, "samples": n, "batch_size": 4}})
    sample = tmp_path / "s.toml"
    sample.write_text(text)
    path = tmp_path / "k.zarr"
    cmd = [sys.executable, "-m", "interphase_sim.cli.main", "sweep", str(sample), "--out", str(path),
           "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.perf_counter() + 120
    done_before = 0
    while time.perf_counter() < deadline and proc.poll() is None:
        try:
            done_before = int(done_mask(path).sum())
        except Exception:  # not laid out yet
            pass
        if done_before >= 8:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()  # still running: it is killed mid-run
    tree = _process_tree(proc.pid)  # the client, its nannies and workers
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(tree[1:], timeout=60)  # the cluster dies with its client
    assert not alive, [p.pid for p in alive]
    done_before = int(done_mask(path).sum())
    assert 0 < done_before < n
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{n - done_before} computed now" in rerun.stdout and f"{done_before} already there" in rerun.stdout
    whole = tmp_path / "w.zarr"
    run_sweep(stack, SweepDesign.from_table({**TABLE, "samples": n}), whole, batch_size=4)
    got, want = _arrays(path)[1], _arrays(whole)[1]
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
