# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The web process (`web:` in the Procfile): `bin/python -m <package>.web`.

gunicorn supervises WEB_CONCURRENCY uvicorn workers bound to PORT on all interfaces. It
restarts a worker that dies, and on SIGTERM it closes the listening socket at once, lets
in-flight requests finish (up to GRACEFUL_TIMEOUT seconds), and exits 0: well inside the
30 s most platforms allow before SIGKILL. Settings are validated before anything binds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger as GunicornLogger
from uvicorn_worker import UvicornWorker

from . import assets, logs
from .app import create_app
from .config import Settings, load_settings

LOGGER = "{{ cookiecutter.project_slug }}.web"  # not __name__: that is __main__ under -m
GRACEFUL_TIMEOUT = 20  # seconds for in-flight requests after SIGTERM
KEEPALIVE = 5  # seconds an idle keep-alive connection stays open
IDLE_DRAIN_SECONDS = 1.0  # after SIGTERM, before idle keep-alive connections are closed


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a pause between closing the listener and closing idle
    keep-alive connections on shutdown. uvicorn closes an idle connection at once, and a
    request a client had already sent on it, not yet read by a busy worker, is lost (the
    client sees the connection close). The pause lets such requests be read and answered.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections from here on
        await asyncio.sleep(IDLE_DRAIN_SECONDS)
        await super().shutdown(sockets)


class Worker(UvicornWorker):  # type: ignore[misc]  # untyped base
    """uvicorn in a gunicorn worker: no access log of its own (RequestLogMiddleware logs each
    request with its ID) and a failing lifespan start-up stops the boot.
    """

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 - the base class declares it mutable
        **UvicornWorker.CONFIG_KWARGS,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": GRACEFUL_TIMEOUT - 2,  # end tasks before gunicorn kills
    }

    async def _serve(self) -> None:
        # UvicornWorker._serve, with DrainingServer in place of uvicorn.Server.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    async def callback_notify(self) -> None:
        """uvicorn's periodic heartbeat (every `timeout` seconds) to the gunicorn master."""
        if os.getppid() != self.ppid:
            # The master is gone (SIGKILL): shut down rather than serve unsupervised.
            os.kill(os.getpid(), signal.SIGTERM)
            return
        await super().callback_notify()


class JsonLogger(GunicornLogger):  # type: ignore[misc]  # untyped base
    """gunicorn's (and so uvicorn's) logs as JSON lines on stdout, like the app's."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        json_handler = logs.handler()
        for logger in (self.error_log, self.access_log):
            logger.handlers = [json_handler]  # the worker copies these to uvicorn's loggers
            logger.propagate = False
        self.access_log.disabled = True
        self.error_log.addFilter(_not_double_close)


def _not_double_close(record: logging.LogRecord) -> bool:
    """Drops gunicorn's report of closing a listener that uvicorn already closed: it
    comes on every worker shutdown ("Bad file descriptor") and means nothing.
    """
    message = record.getMessage()
    return not (message.startswith("Error while closing socket") and "[Errno 9]" in message)


def bind_address(port: int) -> str:
    """`[::]` (IPv6 and, dual-stack, IPv4) where the kernel has IPv6; else 0.0.0.0."""
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError:
        return f"0.0.0.0:{port}"  # a web process serves every interface
    return f"[::]:{port}"


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    shm = Path("/dev/shm")  # noqa: S108 - tmpfs: worker heartbeats never wait on a disk
    return {
        "bind": [bind_address(settings.port)],
        "workers": settings.web_concurrency,
        "worker_class": Worker,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "timeout": 30,
        "keepalive": KEEPALIVE,
        # uvicorn believes no proxy: the app's ForwardedHeaders (security.py) does, counting
        # FORWARDED_TRUSTED_HOPS; uvicorn's `*` takes the client-written X-Forwarded-For.
        "forwarded_allow_ips": "",
        "logger_class": JsonLogger,
        "loglevel": settings.log_level.lower(),
        "worker_tmp_dir": str(shm) if shm.is_dir() else None,
        "proc_name": LOGGER,
        # No runtime control socket: it is a file under $HOME, and a twelve-factor process
        # is managed by its platform through signals.
        "control_socket_disable": True,
    }


class WebServer(BaseApplication):  # type: ignore[misc]  # untyped base
    """gunicorn configured in code: no config file or GUNICORN_CMD_ARGS is read."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> FastAPI:
        return create_app(self.settings)  # in each worker, after the fork


def main() -> None:
    settings = load_settings()  # exits with a clear message before binding anything
    try:
        assets.load_manifest()  # the build step's output; never built at run time
    except assets.AssetsNotBuilt as error:
        print(error, file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    logs.configure(settings.log_level)
    logging.getLogger(LOGGER).info(
        "starting", extra={"port": settings.port, "workers": settings.web_concurrency}
    )
    WebServer(settings).run()


if __name__ == "__main__":
    main()
