# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The Redis session stores: one server (redis://, rediss://) or a Redis Cluster
(redis+cluster://, rediss+cluster://).

A record is kept with SET EX and read with GETEX EX, which slides the idle expiry in the
same round trip without rewriting the record; DEL removes it. Keys get the `session:`
prefix.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from typing import Any

import hiredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from . import redis_client
from .interface import TIMEOUT_SECONDS, SessionStore, StoreUnavailable

log = logging.getLogger(__name__)

# Replies from a Redis that cannot serve this connection's commands: a cluster node
# (MOVED, ASK), a replica or a primary demoted by a failover (READONLY), a server loading
# its data or cut off from its primary. A new connection may reach the right server (DNS
# names the new primary after a failover); this one will not.
_WRONG_SERVER = frozenset({"MOVED", "ASK", "READONLY", "LOADING", "MASTERDOWN", "CLUSTERDOWN"})


class RedisCommands(SessionStore):
    """The store on Redis commands; subclasses say how a command reaches the server.

    A key or record that cannot be sent (text that is not UTF-8 encodable) raises a
    ValueError, having sent nothing: it is the caller's error, and no other call's.
    """

    prefix = "session:"

    @abstractmethod
    async def _call(self, *command: str | int) -> Any:
        """The reply to `command`; StoreUnavailable when Redis cannot answer it."""

    async def load(self, key: str, ttl: int) -> str | None:
        # GETEX reads and slides the expiry in one round trip, without a rewrite.
        raw = await self._call("GETEX", self.prefix + key, "EX", ttl)
        if isinstance(raw, bytes):  # undecodable bytes reach the JSON check, which refuses them
            return raw.decode("utf-8", errors="replace")
        return None

    async def save(self, key: str, record: str, ttl: int) -> None:
        await self._call("SET", self.prefix + key, record, "EX", ttl)

    async def delete(self, key: str) -> None:
        await self._call("DEL", self.prefix + key)


class RedisStore(RedisCommands):
    """One Redis server through `redis_client.Client`: one pipelined connection per process
    (see redis_client.py for why not redis-py's pool). `tls_verify=False` accepts a
    self-signed rediss:// server."""

    def __init__(self, url: str, *, tls_verify: bool = True) -> None:
        target = redis_client.Target.from_url(url, tls_verify=tls_verify)
        self._redis = redis_client.Client(target, TIMEOUT_SECONDS)

    async def _call(self, *command: str | int) -> Any:
        try:
            reply = await self._redis(*command)
        except (OSError, TimeoutError) as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}") from error
        if not isinstance(reply, hiredis.ReplyError):
            return reply
        kind = str(reply).split()[0]
        if kind not in _WRONG_SERVER:  # other replies may quote the command: name the kind only
            raise StoreUnavailable(f"redis: error reply {kind}")
        self._redis.drop_connection()
        hint = " (a Redis Cluster node: use redis+cluster://)" if kind in ("MOVED", "ASK") else ""
        raise StoreUnavailable(f"redis: {reply}{hint}; connection dropped")

    async def aclose(self) -> None:
        await self._redis.aclose()


class RedisClusterStore(RedisCommands):
    """A Redis Cluster through redis-py's cluster client, which keeps the slot map and
    follows MOVED and ASK while slots move between nodes. It costs more CPU per command
    than RedisStore's client (benchmarks/ measures both), and it scales past one primary.
    `tls_verify=False` accepts self-signed rediss+cluster:// nodes.

    redis-py drops its slot map and closes every connection (its own aclose()) on
    CLUSTERDOWN, on a slot not covered and on every fifth MOVED, while other commands are
    in flight on those connections or about to start on them. A command caught in that
    race can fail with an error that is no RedisError (a TypeError out of asyncio's
    transport, raised before anything is sent): it is run again on the re-read map, up to
    three runs in all within the store's timeout, then fails as StoreUnavailable. The
    commands are idempotent (SET, GETEX, DEL), so running one again is safe.
    """

    # What a command meets when redis-py closes the connection it uses at the wrong
    # moment: asyncio's transport or redis-py's reader already torn down. These are no
    # RedisError, and would otherwise escape the store as a 500.
    _RACE = (TypeError, AttributeError, RuntimeError)
    _FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError, *_RACE)
    # Runs of a command that meets those: under a storm of MOVED (many sessions of one
    # slot read while it moves) the second run can meet the next re-initialisation too.
    _RUNS = 3

    def __init__(self, url: str, *, tls_verify: bool = True) -> None:
        target = redis_client.Target.from_url(url.replace("+cluster", "", 1))
        self._options: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "username": target.username,
            "password": target.password,
            "ssl": target.ssl is not None,
            "ssl_cert_reqs": "required" if tls_verify else "none",
            "ssl_check_hostname": tls_verify,
            "socket_timeout": TIMEOUT_SECONDS,
            "socket_connect_timeout": TIMEOUT_SECONDS,
        }
        self._cluster: RedisCluster | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> RedisCluster:
        # Connections belong to the event loop that opened them (tests run several loops).
        loop = asyncio.get_running_loop()
        if self._cluster is None or self._loop is not loop:
            self._cluster, self._loop = RedisCluster(**self._options), loop
            self._lock = asyncio.Lock()
        cluster = self._cluster
        # redis-py's own flag: no slot map yet, or it dropped the map (aclose()). One
        # caller reads the map while the others wait: commands that start together on a
        # client without one race on connections redis-py is opening and closing.
        if cluster._initialize:
            async with self._lock:
                await cluster.initialize()  # returns at once if a waiter before us did it
        return cluster

    async def _execute(self, command: tuple[str | int, ...]) -> Any:
        cluster = await self._client()
        return await cluster.execute_command(*command)

    async def _call(self, *command: str | int) -> Any:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                for _ in range(self._RUNS - 1):
                    try:
                        return await self._execute(command)
                    except self._RACE as error:
                        log.info("redis cluster: %s on a connection redis-py closed", error)
                return await self._execute(command)
        except self._FAILURES as error:
            # redis-py's messages may quote the command; name the kind only.
            raise StoreUnavailable(f"redis cluster: {type(error).__name__}") from error

    async def aclose(self) -> None:
        if self._cluster is not None and self._loop is asyncio.get_running_loop():
            await self._cluster.aclose()
        self._cluster = None
