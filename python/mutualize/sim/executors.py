"""Where a sweep's tasks run: a local process pool, a thread pool (the compiled engine
releases the GIL), a Dask cluster or a Ray cluster. Each runner takes the scenario's
plain form and the tasks and returns every task's rows; Dask and Ray are optional
(``pip install 'mutualize[dask]'`` or ``'mutualize[ray]'``)."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import as_completed as futures_as_completed
from typing import Any, Protocol

from .._extras import MissingExtraError
from .tasks import Row, Task, run_task

__all__ = ["RUNNERS", "BackendUnavailableError", "Bar"]


class BackendUnavailableError(MissingExtraError):
    """The sweep backend asked for needs a package that is not installed."""


class Bar(Protocol):
    """What a runner reports progress to (one update per task done)."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> object: ...


_Plain = Mapping[str, Any]
_Runner = Callable[[_Plain, list[Task], "int | None", "str | None", Bar], list[Row]]


def _run_local(
    plain: _Plain, tasks: list[Task], workers: int | None, address: str | None, bar: Bar
) -> list[Row]:
    # Spawned, not forked: the parent may hold engine threads, and a fork copies their locks.
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(
        max_workers=_worker_count(workers, len(tasks)),
        mp_context=context,
        initializer=_ignore_sigint,
    )
    return _run_executor(executor, plain, tasks, bar, terminate=True)


def _run_threads(
    plain: _Plain, tasks: list[Task], workers: int | None, address: str | None, bar: Bar
) -> list[Row]:
    executor = ThreadPoolExecutor(
        max_workers=_worker_count(workers, len(tasks)), thread_name_prefix="mutualize-sweep"
    )
    return _run_executor(executor, plain, tasks, bar, terminate=False)


def _run_executor(
    executor: Executor, plain: _Plain, tasks: list[Task], bar: Bar, *, terminate: bool
) -> list[Row]:
    rows: list[Row] = []
    try:
        futures: list[Future[list[Row]]] = [executor.submit(run_task, plain, t) for t in tasks]
        for future in futures_as_completed(futures):
            rows.extend(future.result())
            bar.update(1)
    except BaseException:
        # A failed task or Ctrl-C: drop the queued tasks and do not wait for the others.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        if terminate:
            for process in processes:
                process.terminate()
        raise
    executor.shutdown(wait=True)
    return rows


def _run_dask(
    plain: _Plain, tasks: list[Task], workers: int | None, address: str | None, bar: Bar
) -> list[Row]:
    try:
        # Typed as Any: distributed ships no complete annotations.
        distributed: Any = importlib.import_module("distributed")
    except ImportError as exc:
        raise BackendUnavailableError(
            "the dask sweep backend needs distributed: pip install 'mutualize[dask]'"
        ) from exc
    cluster = None
    if address is None:
        # In-process threads: no worker start-up cost, and the engine releases the GIL.
        cluster = distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=_worker_count(workers, len(tasks)),
            processes=False,
            dashboard_address=None,
            # The scheduler serves /health even without a dashboard: any free local port.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(address)
    rows: list[Row] = []
    try:
        # Scattered once, so a large scenario is not sent with every task.
        [shared] = client.scatter([plain], broadcast=True)
        futures = [client.submit(run_task, shared, t, pure=False) for t in tasks]
        for future in distributed.as_completed(futures):
            rows.extend(future.result())
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return rows


def _run_ray(
    plain: _Plain, tasks: list[Task], workers: int | None, address: str | None, bar: Bar
) -> list[Row]:
    try:
        ray: Any = importlib.import_module("ray")
    except ImportError as exc:
        raise BackendUnavailableError(
            "the ray sweep backend needs ray: pip install 'mutualize[ray]'"
        ) from exc
    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {"address": address, "include_dashboard": False}
        if address is None:
            options["num_cpus"] = _worker_count(workers, len(tasks))
        ray.init(**options)
        started = True
    try:
        remote = ray.remote(run_task)
        shared = ray.put(plain)  # stored once; each task gets the dict back
        pending = [remote.remote(shared, t) for t in tasks]
        rows: list[Row] = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for chunk in ray.get(done):
                rows.extend(chunk)
            bar.update(len(done))
        return rows
    finally:
        if started:
            ray.shutdown()


RUNNERS: dict[str, _Runner] = {
    "local": _run_local,
    "threads": _run_threads,
    "dask": _run_dask,
    "ray": _run_ray,
}


def _ignore_sigint() -> None:
    """Process-pool workers leave Ctrl-C to the parent, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_count(workers: int | None, tasks: int) -> int:
    if workers is not None:
        return workers
    return max(1, min(os.cpu_count() or 1, tasks))
