"""Where independent jobs run: here, in local worker processes, or on an existing Ray cluster.

A pool maps a module-level function over a list of argument tuples and returns the results in the order
of the jobs (``map``), whatever order they finish in; ``size`` is how many jobs it runs at once. Local
workers are ``concurrent.futures.ProcessPoolExecutor`` processes (spawned, so nothing of this process's
threads or state is forked; started when the pool opens, so that they import while the caller prepares
its work), each with ``cpu_count // workers`` torch and numba threads; Ray jobs are Ray
tasks on a cluster reached through ``snn2hw.sweep.connect_ray`` (an unreachable address or a missing
``ray`` is an ``Snn2hwError``, exit 2). Nothing here schedules work itself. Use a pool as a context
manager: the processes (or the Ray connection this module opened) end with it.
"""
from __future__ import annotations

import os
from typing import Optional


def _threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, int(workers)))


def _init_threads(threads: int) -> None:
    """A worker's torch and numba threads (the machine's cores shared among the workers)."""
    import torch
    torch.set_num_threads(int(threads))
    try:
        import numba
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover - the simulators run without numba too
        pass


def _warm_up() -> None:
    """A worker's first job: import the simulators before the first shard arrives."""
    import snn2hw.simulators.event_shards  # noqa: F401


def _progress(label, total: int):
    if not label:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=label if isinstance(label, str) else "shards", unit="shard")


class SerialPool:
    """The jobs one after the other in this process (what ``workers = 1`` means)."""
    size = 1

    def map(self, fn, jobs: list, progress=False) -> list:
        bar = _progress(progress, len(jobs))
        out = []
        for job in jobs:
            out.append(fn(*job))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return out

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ProcessPool(SerialPool):
    """``workers`` local processes (``concurrent.futures.ProcessPoolExecutor``, spawn context)."""

    def __init__(self, workers: int, threads: Optional[int] = None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.size = int(workers)
        self._ex = ProcessPoolExecutor(max_workers=self.size, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_threads, initargs=(threads or _threads(self.size),))
        for _ in range(self.size):  # start the processes now: they import while this one loads data and model
            self._ex.submit(_warm_up)

    def map(self, fn, jobs: list, progress=False) -> list:
        from concurrent.futures import as_completed
        futures = [self._ex.submit(fn, *job) for job in jobs]
        bar = _progress(progress, len(jobs))
        try:
            for f in as_completed(futures):
                f.result()  # the first failure ends the map
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return [f.result() for f in futures]

    def close(self) -> None:
        self._ex.shutdown(wait=True, cancel_futures=True)


class RayPool(SerialPool):
    """Tasks on the Ray cluster at ``address`` (``snn2hw.sweep.connect_ray``'s addresses); ``size``: the
    cluster's CPUs."""

    def __init__(self, address: str, threads: Optional[int] = None):
        from snn2hw.sweep import connect_ray
        try:
            import ray as _ray
            opened = not _ray.is_initialized()
        except ImportError:
            opened = False  # connect_ray says what to install
        self.ray = connect_ray(address)
        self._opened = opened
        self.size = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self.threads = threads or _threads(self.size)

    def map(self, fn, jobs: list, progress=False) -> list:
        ray = self.ray
        task = ray.remote(_ray_call)
        refs = [task.remote(fn, self.threads, *job) for job in jobs]
        bar = _progress(progress, len(refs))
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                ray.get(done)  # the first failure ends the map
                if bar is not None:
                    bar.update(len(done))
        finally:
            if bar is not None:
                bar.close()
        return ray.get(refs)

    def close(self) -> None:
        if self._opened:
            self.ray.shutdown()


def _ray_call(fn, threads: int, *args):
    """A Ray task: ``fn(*args)`` with the worker's threads set as a local worker's (Ray sets one)."""
    _init_threads(threads)
    return fn(*args)


def open_pool(workers: int = 1, ray: Optional[str] = None, threads: Optional[int] = None) -> SerialPool:
    """The pool for ``--workers K`` / ``--ray ADDRESS``: Ray when an address is given, else ``K`` local
    processes (``K = 1``: this process). ``threads``: each job's torch and numba threads (default the machine's
    cores shared among the workers; a caller whose results must equal a serial run's passes its own count,
    since float sums split by thread). ``workers < 1`` is an ``Snn2hwError``."""
    from snn2hw.errors import Snn2hwError
    if int(workers) < 1:
        raise Snn2hwError(f"--workers must be >= 1, got {workers}")
    if ray:
        return RayPool(ray, threads)
    return ProcessPool(int(workers), threads) if int(workers) > 1 else SerialPool()
