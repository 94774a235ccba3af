# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Backing servers for the tests: Redis (alone and as a cluster), Memcached and PostgreSQL
from the machine's binaries.

Each one runs on a free loopback port in a temp folder. A server that cannot be had skips
the tests that need it, with the reason; on CI (CI=true) it fails them instead, so a
green CI run means every store was really tested. The fixtures in conftest.py hand them
out.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar
from urllib.parse import quote

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

STARTUP_TIMEOUT = 30.0  # seconds; generous for a loaded 2-core CI machine


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail on CI: a missing backing service must not pass CI silently."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"backing service unavailable on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes] | None, what: str
) -> None:
    """Poll `ready()` until true; give up when the process died or the timeout passed."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT:.0f}s")


def answers(port: int, request: bytes, expected: bytes, *, tls: bool = False) -> bool:
    """True when a server on the port answers `request` with a reply starting `expected`
    (over TLS, trusting any certificate, when `tls`)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            sock = _TRUST_ANY.wrap_socket(raw) if tls else raw
            sock.sendall(request)
            return sock.recv(64).startswith(expected)
    except OSError:
        return False


_TRUST_ANY = ssl.create_default_context()
_TRUST_ANY.check_hostname = False
_TRUST_ANY.verify_mode = ssl.CERT_NONE


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for CN=localhost and its key."""

    cert: Path
    key: Path


def self_signed_certificate(workdir: Path) -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found on PATH (needed to make a test certificate)")
    made = Certificate(workdir / "cert.pem", workdir / "key.pem")
    request = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    request += ["-subj", "/CN=localhost", "-keyout", str(made.key), "-out", str(made.cert)]
    _run(request)
    return made


@dataclass
class LocalServer:
    """A server process on a loopback port that tests can stop and start again.

    The port stays the same across restarts, so a URL handed out before a stop works
    again after `start()`: that is how the tests check recovery without a restart.
    """

    name: str
    argv: list[str]
    ping: bytes  # a request the server answers once it is ready...
    pong: bytes  # ...with a reply that starts with this
    port: int
    tls: bool = False  # the port speaks TLS only
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until(self.answers, self.process, self.name)
        except RuntimeError:
            self.stop()
            raise

    def answers(self) -> bool:
        """Whether the server is up and answers its ping."""
        return answers(self.port, self.ping, self.pong, tls=self.tls)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def redis_server(
    workdir: Path, *, tls: Certificate | None = None, password: str | None = None
) -> LocalServer:
    """A Redis server; with `tls`, its port speaks TLS only (no client certificates)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found on PATH")
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--dir", str(workdir), "--daemonize", "no"]
    argv += ["--save", "", "--appendonly", "no"]
    if tls is None:
        argv += ["--port", str(port)]
    else:
        argv += ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
        argv += ["--tls-cert-file", str(tls.cert), "--tls-key-file", str(tls.key)]
        argv += ["--tls-ca-cert-file", str(tls.cert)]  # nodes of a cluster trust each other
    if password is not None:
        argv += ["--requirepass", password, "--masterauth", password]
    pong = b"+PONG" if password is None else b"-NOAUTH"  # ready either way
    name = "redis-server" if tls is None else "redis-server with TLS (a build without it exits)"
    return LocalServer(name, argv, b"PING\r\n", pong, port, tls=tls is not None)


CLUSTER_SLOTS = 16384


@dataclass
class LocalCluster:
    """A Redis Cluster of three primaries on loopback ports, every slot assigned, made the
    way `redis-cli --cluster create` makes one."""

    nodes: list[LocalServer]
    password: str | None = None
    formed: bool = field(default=False, init=False)  # the nodes' config files hold the cluster

    @property
    def port(self) -> int:
        """The port of the node the URL names (any node would do)."""
        return self.nodes[0].port

    @property
    def url(self) -> str:
        scheme = "rediss+cluster" if self.nodes[0].tls else "redis+cluster"
        login = "" if self.password is None else f":{quote(self.password, safe='')}@"
        return f"{scheme}://{login}127.0.0.1:{self.port}"

    def admin(self, node: int) -> redis.Redis:
        """A plain client of one node (close it after use)."""
        tls = self.nodes[node].tls
        return redis.Redis(
            port=self.nodes[node].port,
            password=self.password,
            ssl=tls,
            ssl_cert_reqs="none",
            socket_timeout=5,
        )

    def start(self) -> None:
        """Start the nodes; the first time, make them one cluster. Returns once every node
        serves every slot."""
        for node in self.nodes:
            node.start()
        clients = [self.admin(index) for index in range(len(self.nodes))]
        try:
            if not self.formed:
                self._form(clients)
                self.formed = True
            wait_until(lambda: all(map(_cluster_ready, clients)), None, "redis cluster")
        except BaseException:
            self.stop()
            raise
        finally:
            for client in clients:
                client.close()

    def _form(self, clients: list[redis.Redis]) -> None:
        share = CLUSTER_SLOTS // len(clients)
        for index, client in enumerate(clients):
            last = CLUSTER_SLOTS - 1 if client is clients[-1] else (index + 1) * share - 1
            redis_command(client, "CLUSTER ADDSLOTS", *range(index * share, last + 1))
            redis_command(client, "CLUSTER SET-CONFIG-EPOCH", index + 1)
        for node in self.nodes[1:]:
            redis_command(clients[0], "CLUSTER MEET", "127.0.0.1", node.port)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def redis_command(client: redis.Redis, *command: str | int) -> Any:
    """One raw command's reply (redis-py leaves `execute_command` untyped)."""
    return client.execute_command(*command)  # type: ignore[no-untyped-call]


def _cluster_ready(client: redis.Redis) -> bool:
    """The node sees the whole cluster: every node known, every slot served."""
    info = redis_command(client, "CLUSTER INFO")  # parsed into a dict by redis-py
    return info["cluster_state"] == "ok" and int(info["cluster_size"]) == 3


def redis_cluster(
    workdir: Path, *, tls: Certificate | None = None, password: str | None = None
) -> LocalCluster:
    """Three nodes to make a cluster of (`start()`); with `tls`, clients and the nodes
    among themselves speak TLS only."""
    nodes: list[LocalServer] = []
    while len(nodes) < 3:
        node = redis_server(workdir, tls=tls, password=password)
        # A node also listens on its port + 10000 (the cluster bus): that one must be free too.
        bus = node.port + 10000
        if bus > 65535 or not _bindable(bus) or node.port in [n.port for n in nodes]:
            continue
        config = workdir / f"nodes-{node.port}.conf"
        node.argv += ["--cluster-enabled", "yes", "--cluster-config-file", str(config)]
        if tls is not None:
            node.argv += ["--tls-cluster", "yes"]
        nodes.append(node)
    return LocalCluster(nodes, password)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def memcached_server(*options: str) -> LocalServer:
    """A memcached on loopback; `options` are added to its command line."""
    binary = shutil.which("memcached")
    if binary is None:
        raise RuntimeError("memcached not found on PATH")
    port = free_port()
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", *options]
    if os.geteuid() == 0:  # memcached refuses to run as root unless told whom to run as
        argv += ["-u", "root"]
    return LocalServer("memcached", argv, b"version\r\n", b"VERSION", port)


class Startable(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


Server = TypeVar("Server", bound=Startable)


def started(factory: Callable[[], Server]) -> Iterator[Server]:
    """Start a server from `factory`; stop it when the caller is done."""
    try:
        server = factory()
        server.start()
    except (OSError, RuntimeError) as error:
        unavailable(str(error))
    try:
        yield server
    finally:
        server.stop()


def _pg_bindir() -> Path:
    """The PostgreSQL server binaries: `pg_config --bindir`, else Debian's newest install."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major_version)
    if pg_config := shutil.which("pg_config"):
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(bindir.stdout.strip()))
    for path in reversed(candidates):
        if (path / "initdb").exists():
            return path
    raise RuntimeError("PostgreSQL server binaries (initdb) not found via pg_config or in /usr/lib")


def _major_version(bindir: Path) -> int:
    return int(bindir.parent.name) if bindir.parent.name.isdigit() else 0


def _as_postgres_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and runuser is missing: cannot start PostgreSQL")
    return [runuser, "-u", "postgres", "--", *argv]


def _pg_ready(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1):
            return True
    except psycopg.Error:
        return False


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip() or result.stdout.strip()}")


def postgres_server(workdir: Path) -> Generator[str, None, None]:
    """initdb + pg_ctl start in workdir; yields a superuser URL; pg_ctl stop at the end."""
    bindir = _pg_bindir()
    data, port = workdir / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    _run(_as_postgres_user([*initdb, "--no-sync", "-E", "UTF8", "--locale=C"]))
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -F"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "postgres.log")]
    _run(_as_postgres_user([*pg_ctl, "-o", options, "-w", "-t", "60", "start"]))
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        wait_until(lambda: _pg_ready(url), None, "postgres")
        yield url
    finally:
        stop = _as_postgres_user([*pg_ctl, "-m", "fast", "-w", "stop"])
        subprocess.run(stop, capture_output=True, check=False)


@contextmanager
def own_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server for the caller alone: its URL and work folder, removed after.

    Not under pytest's temp folder: that is private to root, and the server runs as postgres.
    """
    workdir = Path(tempfile.mkdtemp(prefix="pytest-postgres-"))
    try:
        servers = postgres_server(workdir)
        url = next(servers)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        shutil.rmtree(workdir, ignore_errors=True)
        unavailable(f"PostgreSQL: {error}")
    try:
        yield url, workdir
    finally:
        servers.close()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """URL of a fresh, empty database on the PostgreSQL server `server_url` names, made
    under a random name (safe under pytest-xdist) and dropped afterwards. The role needs
    the CREATEDB privilege."""
    name = f"test_{uuid.uuid4().hex}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
