"""How `stockline api` runs: uvicorn on uvloop and httptools, one process per worker.

With `workers > 1` uvicorn's supervisor binds the socket once and starts that many
processes that accept on it; each builds its own app from `stockline.bootstrap:api_from_env`
(so each has its own Redis pool and answers `/readyz` for itself) and restarts a worker
that dies. SIGTERM (or SIGINT) stops accepting, lets requests in flight finish (at most
`api_shutdown_timeout_s`), closes Redis and exits 0.

Metrics add up across processes through prometheus-client's multiprocess mode: every
process writes its counters and histograms to files in one directory, and `/metrics`,
whichever process answers it, sums them. The directory is `PROMETHEUS_MULTIPROC_DIR` when
set (its stale `*.db` files are removed first, as prometheus-client requires), else a
fresh temporary one removed at exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from stockline.settings import Settings

APP_FACTORY: Final = "stockline.bootstrap:api_from_env"
MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_dir() -> Iterator[Path]:
    """The multiprocess metrics directory of this run, exported to the worker processes
    before any of them imports prometheus-client."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="stockline-api-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(path, ignore_errors=True)


def serve(settings: Settings, *, workers: int, loglevel: str) -> None:
    """Serve the API until SIGTERM/SIGINT; returns once every worker has exited."""
    import uvicorn

    if workers == 1:
        # uvicorn raises the signal that stopped it again once it has drained; with the
        # default handler that would end a graceful stop with status 143 instead of 0
        signal.signal(signal.SIGTERM, lambda *_: None)
    with metrics_dir():
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=workers,
            loop="uvloop",  # named, not "auto": a missing uvloop fails here, not silently slow
            http="httptools",
            lifespan="on",
            timeout_graceful_shutdown=settings.api_shutdown_timeout_s,
            log_level=loglevel,
            access_log=False,
        )
