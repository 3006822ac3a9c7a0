"""Distribute a batch over Dask workers (needs ``pip install 'nircolor[cluster]'``).

``nircolor colorize ... --cluster tcp://SCHEDULER:8786`` sends the jobs to an existing Dask
cluster; ``--workers N`` starts a local one (N processes, one thread each) for the run.

* One task per file, so the scheduler balances uneven files; the client only sends paths and
  receives :class:`~nircolor.jobs.Outcome` records (status and a one-line message).
* Each worker process loads the model once: a model given by name or folder is loaded by
  :func:`nircolor.api.get_model`, whose cache lives in the worker process (every worker is
  warmed up before the first task, which also turns a bad model into one error); a model
  object is sent to every worker once.
* Workers read the inputs and write the outputs themselves, atomically, with the same code
  as a local run, so the outputs are byte-identical to a local run's. With a remote
  scheduler, inputs, outputs and model folders must therefore be on a file system that the
  workers see **at the same paths** (relative paths are made absolute on the client).
* ``--workers`` clusters run without Dask's ``MALLOC_TRIM_THRESHOLD_`` (see
  :func:`start_local_cluster`): with it, L3 renders about 2.5 times slower.
* ``skip_existing`` is checked on the client first (a resumed run sends no task for a file
  that is done) and again by the worker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from .errors import NircolorError
from .extras import require_extra
from .jobs import FAILED, SKIPPED, Job, Options, Outcome, process_job
from .runtime import check_parallel

CONNECT_TIMEOUT = "20s"
"""How long the client waits for a remote scheduler."""
WORKER_LOG_LEVEL = logging.CRITICAL
"""What the processes of a ``--workers`` cluster log on stderr. At shutdown a worker whose
heartbeat meets the closed scheduler logs a ``CommClosedError`` traceback (an ERROR) after
a run that succeeded; a task's own failure reaches the client as its outcome instead."""


def _import_distributed():
    require_extra("cluster", "--cluster and --workers")
    import distributed

    return distributed


SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
"""The Dask comm schemes a scheduler address may name (none: tcp)."""


def check_cluster_options(address: str | None, n_workers: int | None) -> None:
    """Refuse ``--cluster`` with ``--workers``, a worker count out of range
    (:func:`~nircolor.runtime.check_parallel`) or an address that is not
    ``[SCHEME://]HOST:PORT``, before any work.

    Raises
    ------
    NircolorError
    """
    if address is not None and n_workers is not None:
        raise NircolorError("--cluster and --workers exclude each other")
    check_parallel("--workers", n_workers)
    if address is not None:
        check_address(address)


def check_address(address: str) -> None:
    """Refuse a scheduler address that is not ``[SCHEME://]HOST:PORT`` (SCHEME among
    :data:`SCHEMES`, PORT 1 to 65535) with one line naming it."""
    scheme, _, location = address.rpartition("://")
    host, _, port = location.rpartition(":")
    valid = (scheme or "tcp") in SCHEMES and host.strip("[]") and port.isdigit()
    if not (valid and 0 < int(port) < 65536):
        raise NircolorError(
            f"--cluster {address!r}: not a Dask scheduler address; give "
            "[tcp://]HOST:PORT, e.g. tcp://10.0.0.5:8786"
        )


def model_reference(model):
    """What to send to workers for ``model``: an absolute folder path, a name, or the object."""
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).expanduser()
        if path.exists():
            return str(path.resolve())
        return str(model)
    return model


def _warm_model(model) -> str:
    # Runs in every worker process: fills nircolor.api's per-process model cache.
    from .api import get_model

    return get_model(model).kind


def run_on_dask(
    jobs: Sequence[Job],
    model,
    options: Options,
    address: str | None = None,
    n_workers: int | None = None,
    on_result: Callable[[Outcome], object] | None = None,
) -> list[Outcome]:
    """Run the jobs on a Dask cluster and return their outcomes in job order.

    Give ``address`` (an existing scheduler) or ``n_workers`` (a local cluster started for
    the run: processes, one thread each); not both.
    """
    if address is None and n_workers is None:
        raise NircolorError("give either --cluster ADDRESS or --workers N")
    check_cluster_options(address, n_workers)
    distributed = _import_distributed()
    absolute = [Job(_absolute(job.source), _absolute(job.target)) for job in jobs]
    outcomes: list[Outcome | None] = [None] * len(jobs)
    todo: list[int] = []
    for index, job in enumerate(absolute):
        if options.skip_existing and job.target.exists():
            outcomes[index] = Outcome(jobs[index], SKIPPED)
            if on_result is not None:
                on_result(outcomes[index])
        else:
            todo.append(index)
    if not todo:
        return outcomes  # type: ignore[return-value]

    reference = model_reference(model)
    with ExitStack() as stack:
        client = stack.enter_context(_client(distributed, address, n_workers))
        if isinstance(reference, str):
            try:
                client.run(_warm_model, reference)
            except NircolorError:
                raise
            except Exception as error:
                raise NircolorError(
                    f"the workers cannot load model '{reference}': {error}"
                ) from None
            model_arg = reference
        else:
            model_arg = client.scatter(reference, broadcast=True)
        futures = {}
        for index in todo:
            future = client.submit(process_job, absolute[index], model_arg, options, pure=False)
            futures[future] = index
        for future in distributed.as_completed(list(futures)):
            index = futures[future]
            try:
                outcome = future.result()
                outcome = replace(outcome, job=jobs[index])
            except Exception as error:  # the worker died (e.g. out of memory)
                reason = " ".join(f"{type(error).__name__}: {error}".split())
                outcome = Outcome(jobs[index], FAILED, f"{jobs[index].source}: {reason}")
            outcomes[index] = outcome
            if on_result is not None:
                on_result(outcome)
    return outcomes  # type: ignore[return-value]


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else Path.cwd() / path


def _client(distributed, address: str | None, n_workers: int | None):
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if address is not None:
        try:
            return distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise NircolorError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    return _LocalClient(distributed, start_local_cluster(n_workers))


def start_local_cluster(n_workers: int):
    """A Dask LocalCluster for colorizing: ``n_workers`` processes of one thread each.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc
    hand every large temporary array back to the system and fault it in again: L3 rendering
    runs about 2.5 times slower. The workers started here keep glibc's default (unless the
    variable is set in the environment). For a cluster of your own, set
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` to ``null`` in its Dask
    configuration.
    """
    import dask
    import distributed

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=WORKER_LOG_LEVEL,
        )


class _LocalClient:
    """A client that closes its own LocalCluster."""

    def __init__(self, distributed, cluster) -> None:
        self.cluster = cluster
        self.client = distributed.Client(cluster)

    def __enter__(self):
        return self.client

    def __exit__(self, *exc) -> None:
        try:
            self.client.close()
        finally:
            self.cluster.close()
