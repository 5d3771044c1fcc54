"""Batch jobs as Ray tasks, on a Ray cluster or a private local Ray instance.

Each task receives the audio's bytes and returns the outputs' bytes: the driver reads the inputs
and writes OUTDIR, so nodes need no shared filesystem, and the journal, atomic writes and
failure records stay in one process, exactly as in a local run. (Shipping ~100–300 kB per clip
each way costs far less than its analysis.) Nodes need visemic installed in the same version.

Addresses (``--ray``):

- ``ADDRESS`` (``host:port`` of the head's GCS, or ``ray://host:10001`` for Ray Client):
  connect to that cluster; failing to is an error.
- ``auto``: connect to the cluster this machine belongs to, found the way ``ray.init("auto")``
  finds it (the ``RAY_ADDRESS`` variable, else a cluster started here with ``ray start``); when
  there is none, start a private Ray instance on this machine for this run only, with
  ``workers`` CPUs (default: all cores), and stop it at the end.

If the calling process has already called ``ray.init``, that connection is used as it is and
left open.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from visemic.batch.job import Job, Outcome, process
from visemic.errors import VisemicError

# A private instance needs little shared memory: only the jobs in flight pass through it.
LOCAL_OBJECT_STORE = 256 * 1024 * 1024


class RayCluster:
    """Runs :func:`visemic.batch.job.process` as Ray tasks (one CPU each)."""

    shared_filesystem = False  # jobs carry their audio bytes

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as e:
            raise VisemicError(f"--ray needs the 'ray' package: {e}") from None
        self._ray = ray
        self.started_here = False
        if not ray.is_initialized():
            self._connect(address, workers)
            self.started_here = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        concurrency = min(cpus, workers) if workers else cpus
        self.workers = max(1, concurrency)
        # Two tasks per CPU keep the cluster busy while the driver writes results.
        self.max_in_flight = 2 * self.workers
        self.description = f"Ray ({cpus} CPUs)"

    def _connect(self, address: str, workers: int | None) -> None:
        ray = self._ray
        quiet: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                                 "log_to_driver": False}
        if address == "auto":
            try:
                ray.init(address="auto", **quiet)
                return
            except ConnectionError:
                pass  # no cluster: start a private one below
            ray.init(num_cpus=workers or os.cpu_count() or 1,
                     object_store_memory=LOCAL_OBJECT_STORE, **quiet)
            return
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise VisemicError(f"cannot connect to the Ray cluster at {address!r}: {e}") from None

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Outcomes in completion order. Stopping early cancels the tasks in flight."""
        ray = self._ray
        task = ray.remote(num_cpus=1)(process)
        source = iter(jobs)
        in_flight: dict[Any, Job] = {}
        try:
            while True:
                while len(in_flight) < self.max_in_flight:
                    job = next(source, None)
                    if job is None:
                        break
                    in_flight[task.remote(job)] = job
                if not in_flight:
                    return
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    job = in_flight.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as e:
                        # Ray already retried a task whose worker or node died.
                        reason = " ".join(str(e).split())[:300]
                        yield Outcome(job.index, error=f"Ray task failed ({type(e).__name__}: "
                                                       f"{reason})")
        finally:
            for ref in in_flight:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or gone: nothing to stop
                    pass

    def close(self) -> None:
        """Disconnect (and stop a private instance) if this object started Ray."""
        if self.started_here:
            self._ray.shutdown()
            self.started_here = False
