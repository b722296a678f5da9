"""Where the sweep's work runs: local processes or a Ray cluster.

A backend is a context manager with ``map_unordered(fn, items)``, which calls
``fn(item)`` for every item and yields ``(index, result)`` pairs as they finish,
in any order. Each task draws its randomness only from its own arguments, so the
results do not depend on the backend, the number of workers or the order of
completion; the sweep restores its own order before finishing.

Workers keep what they loaded between tasks (the user matrices are cached per
process), so a backend should reuse its workers across calls of ``map_unordered``
within one ``with`` block. ``runs_here`` says whether tasks run in the caller's
own process (so that what they print cannot interleave with other tasks').

Leaving the ``with`` block on an exception (an error, Ctrl-C, or SIGTERM turned
into ``KeyboardInterrupt`` by the sweep) stops the workers at once: queued tasks
are dropped and running ones are terminated, since nobody will read their results.
If the process that owns the pool dies without leaving the block (``kill -9``),
each worker notices within ``PARENT_POLL_SECONDS`` and exits too.

A Ray address is checked before Ray is started: one that accepts no connection
within ``RAY_CONNECT_TIMEOUT`` seconds is a ``ValueError`` naming ``--ray-address``.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any

from recgym._validation import check_choice, check_int

#: Thread-count variables of the BLAS libraries numpy may use.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RAY_MISSING = 'The ray backend needs Ray: pip install "recgym[ray]" (or use --backend local)'
#: Seconds between a worker's checks that the process owning its pool still runs.
PARENT_POLL_SECONDS = 0.5
#: Seconds to wait for a Ray address to accept a TCP connection.
RAY_CONNECT_TIMEOUT = 5.0
#: Ray addresses that name no host: ``ray.init`` finds or starts the cluster itself.
RAY_SPECIAL_ADDRESSES = ("auto", "local")


class LocalBackend:
    """Tasks on this machine: in this process (``jobs=1``) or ``jobs`` worker processes.

    Parameters
    ----------
    jobs : int >= 1
        Worker processes; started with ``spawn`` so that behaviour is the same on
        every platform. Each worker keeps to one core: unless the user set them,
        ``BLAS_THREAD_VARIABLES`` are 1 in the workers (several BLAS threads per
        worker oversubscribe the cores and cost 2-3 times the CPU time on the
        sweep's small matrix products).
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = check_int("jobs", jobs, 1)
        self._pool: ProcessPoolExecutor | None = None
        self._saved_environment: dict[str, str | None] = {}

    def __enter__(self) -> LocalBackend:
        if self.jobs > 1:
            # Workers are spawned on demand inside the ``with`` block and read these
            # variables when they import numpy; the parent's own BLAS is unaffected.
            self._saved_environment = {k: os.environ.get(k) for k in BLAS_THREAD_VARIABLES}
            for key in BLAS_THREAD_VARIABLES:
                os.environ.setdefault(key, "1")
            self._pool = ProcessPoolExecutor(self.jobs,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=exit_with_parent,
                                             initargs=(os.getpid(),))
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        try:
            if exc_type is None:  # a caller that stopped early leaves queued tasks
                pool.shutdown(wait=True, cancel_futures=True)
            else:
                terminate_workers(pool)
        finally:
            for key, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @property
    def runs_here(self) -> bool:
        """True when tasks run in this process (``jobs=1``)."""
        return self.jobs == 1

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]
                      ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(items[index]))`` as tasks finish."""
        if self._pool is None:
            for index, item in enumerate(items):
                yield index, fn(item)
            return
        futures: dict[Future, int] = {self._pool.submit(fn, item): index
                                      for index, item in enumerate(items)}
        # Tasks left when the caller stops early are dropped by ``__exit__`` (the pool
        # cancels them, or terminates the workers on an exception), not cancelled
        # here: a future cancelled by hand stays in the pool's table, and the pool's
        # manager thread then fails on it (InvalidStateError) if workers are terminated.
        for future in as_completed(futures):
            yield futures[future], future.result()


def exit_with_parent(parent: int) -> None:
    """Pool initializer: end this worker (``os._exit``) once process ``parent`` is gone.

    A daemon thread polls ``os.getppid()`` every ``PARENT_POLL_SECONDS``: when the
    parent dies the worker is re-parented and the id changes (POSIX).
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="recgym-parent-watch", daemon=True).start()


def terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Drop ``pool``'s queued tasks and terminate its worker processes (SIGTERM).

    ``ProcessPoolExecutor.terminate_workers`` from Python 3.14 on; before that the
    same steps on the pool's process table, which has no public accessor there.
    """
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    # shutdown() empties the table, so copy it first; do not wait, a worker may be busy.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            if process.is_alive():
                process.terminate()
        except (ValueError, ProcessLookupError):  # already closed or gone
            continue


class RayBackend:
    """Tasks as Ray remote functions, on a local Ray instance or a cluster.

    Parameters
    ----------
    address : str, optional
        Cluster address for ``ray.init``; by default Ray joins the cluster named by
        ``RAY_ADDRESS`` or starts a local one.

    Raises
    ------
    ValueError
        If ``address`` names a host and port that accept no connection
        (``check_ray_address``), or Ray finds no cluster there when started.
    ImportError
        If Ray is not installed, naming the extra to install.
    """

    def __init__(self, address: str | None = None) -> None:
        check_ray_address(address)
        try:  # imported here: Ray takes seconds to import and is optional
            import ray
        except ImportError as exc:
            raise ImportError(RAY_MISSING) from exc
        self._ray = ray
        self.address = address
        self._started = False

    def __enter__(self) -> RayBackend:
        if not self._ray.is_initialized():
            try:
                self._ray.init(address=self.address)
            except ConnectionError as exc:
                where = self.address or "not given (RAY_ADDRESS or a new local cluster)"
                raise ValueError(f"--ray-address {where}: Ray found no cluster "
                                 f"({str(exc).splitlines()[0]})") from exc
            self._started = True
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    #: Ray tasks run in Ray's worker processes.
    runs_here = False

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]
                      ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(items[index]))`` as remote tasks finish."""
        remote = self._ray.remote(fn)
        pending = {remote.remote(item): index for index, item in enumerate(items)}
        try:
            while pending:
                done, _ = self._ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), self._ray.get(ref)
        finally:
            for ref in pending:
                self._ray.cancel(ref)


def check_ray_address(address: str | None, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """Check that the Ray address ``address`` accepts a TCP connection within ``timeout`` s.

    ``None``, ``"auto"`` and ``"local"`` name no host and are left to ``ray.init``.
    Otherwise ``address`` must be ``HOST:PORT`` or ``ray://HOST:PORT``.

    Raises
    ------
    ValueError
        Naming ``--ray-address``, if the address is malformed or unreachable.
    """
    if address is None or address in RAY_SPECIAL_ADDRESSES:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # an IPv6 host is written [::1]:6379
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--ray-address must be HOST:PORT, ray://HOST:PORT, auto or local; "
                         f"got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"--ray-address {address}: cannot connect to {host}:{port} "
                         f"({exc.strerror or exc}); start the cluster or fix the address"
                         ) from exc


def make_backend(name: str, jobs: int = 1, address: str | None = None
                 ) -> LocalBackend | RayBackend:
    """Backend ``"local"`` (with ``jobs`` processes) or ``"ray"`` (at ``address``)."""
    if check_choice("backend", name, ("local", "ray")) == "local":
        return LocalBackend(jobs)
    return RayBackend(address)
