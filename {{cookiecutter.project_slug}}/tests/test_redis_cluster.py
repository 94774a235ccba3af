# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Redis past one server: a real three-primary cluster behind redis+cluster://, and what
the single-server client does when it meets a cluster node or a replica.

The whole store contract also runs on the cluster (conftest's `session_store_url`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from hypothesis import event, given, settings
from hypothesis import strategies as st
from redis.cluster import RedisCluster

from {{ cookiecutter.project_slug }}.sessions import redis_client, stores
from {{ cookiecutter.project_slug }}.sessions.ids import new_id, store_key

from helpers import run_with_store
from servers import (
    LocalCluster,
    LocalServer,
    redis_cluster,
    redis_command,
    redis_server,
    self_signed_certificate,
    started,
)

pytestmark = pytest.mark.slow  # the slow tier: CI runs it, `-m ""` locally

PREFIX = stores.RedisCommands.prefix


def plain_url(cluster_url: str) -> str:
    """The same node behind a single-server URL."""
    return cluster_url.replace("+cluster", "", 1)


@pytest.fixture
def cluster_admin(redis_cluster_url: str) -> Iterator[RedisCluster]:
    """redis-py's synchronous cluster client: it says which node holds a key."""
    client = RedisCluster.from_url(plain_url(redis_cluster_url))
    try:
        yield client
    finally:
        client.close()


def record(label: str) -> str:
    """A session record that says which key or node it was written for."""
    return json.dumps({"for": label})


def node_of(admin: RedisCluster, key: str) -> str:
    """host:port of the node that owns `key`'s slot."""
    node = admin.get_node_from_key(PREFIX + key)  # type: ignore[no-untyped-call]
    return f"{node.host}:{node.port}"


def test_sessions_on_every_primary_are_kept(
    redis_cluster_url: str, cluster_admin: RedisCluster
) -> None:
    """Sessions whose keys hash to each of the primaries: all saved, read, slid and
    deleted through one URL, each record on the node that owns its slot."""
    nodes = cluster_admin.get_primaries()  # type: ignore[no-untyped-call]
    primaries = {f"{node.host}:{node.port}" for node in nodes}
    keys: dict[str, str] = {}
    while len(keys) < len(primaries):  # a few random keys cover every node
        key = store_key(new_id())
        keys.setdefault(node_of(cluster_admin, key), key)

    async def steps(store: stores.SessionStore) -> list[str | None]:
        for node, key in keys.items():
            await store.save(key, record(node), 60)
        return [await store.load(key, 120) for key in keys.values()]

    loaded = run_with_store(redis_cluster_url, steps)
    assert loaded == [record(node) for node in keys]
    for node, key in keys.items():
        host, port = node.rsplit(":", 1)
        with redis.Redis(host=host, port=int(port)) as owner:
            assert owner.get(PREFIX + key) == record(node).encode()
            assert 60 < owner.ttl(PREFIX + key) <= 120  # the read slid the expiry

    async def delete_all(store: stores.SessionStore) -> list[str | None]:
        for key in keys.values():
            await store.delete(key)
        return [await store.load(key, 60) for key in keys.values()]

    assert run_with_store(redis_cluster_url, delete_all) == [None] * len(keys)


def move_slot(
    cluster: LocalCluster, key: str, between_phases: Callable[[], None]
) -> tuple[int, int]:
    """Move the slot of `key` to another node as `redis-cli --cluster reshard` does
    (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE), calling `between_phases` in each phase
    (it returns once traffic has run there) so that traffic meets ASK and then MOVED.
    Returns the (source, target) node indexes."""
    admins = [cluster.admin(index) for index in range(len(cluster.nodes))]
    try:
        slot = int(redis_command(admins[0], "CLUSTER KEYSLOT", PREFIX + key))
        source = next(
            i for i, a in enumerate(admins) if redis_command(a, "CLUSTER COUNTKEYSINSLOT", slot)
        )
        target = (source + 1) % len(admins)
        ids = [redis_command(a, "CLUSTER MYID").decode() for a in admins]
        redis_command(admins[target], "CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
        redis_command(admins[source], "CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
        between_phases()  # migrating, every key still on the source
        keys = redis_command(admins[source], "CLUSTER GETKEYSINSLOT", slot, 100)
        port = cluster.nodes[target].port
        redis_command(admins[source], "MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", *keys)
        between_phases()  # the keys are on the target: the source answers ASK
        for admin in admins:
            redis_command(admin, "CLUSTER SETSLOT", slot, "NODE", ids[target])
        between_phases()  # moved: the source answers MOVED until the client's map catches up
        return source, target
    finally:
        for admin in admins:
            admin.close()


async def read_own_until(
    store: stores.SessionStore, key: str, done: asyncio.Future[tuple[int, int]]
) -> tuple[int, int]:
    """Read `key`'s record until `done`: (reads that got it, StoreUnavailable answers).
    Any other outcome fails the test."""
    reads = unavailable = 0
    while not done.done():
        try:
            assert await store.load(key, 60) == record(key)
            reads += 1
        except stores.StoreUnavailable:
            unavailable += 1
        await asyncio.sleep(0.01)  # leaves the writer beside it most of the event loop
    return reads, unavailable


def newest(acked: int, pending: int | None) -> set[str]:
    """What a read may find: the last confirmed write, or a later one answered 503."""
    return {str(acked)} if pending is None else {str(acked), str(pending)}


def test_a_slot_moved_during_traffic_loses_no_session(
    redis_cluster_process: LocalCluster,
) -> None:
    """A session read and written without pause while its slot moves to another node,
    beside twenty sessions of the same slot read at once (their MOVED replies make
    redis-py re-read the slot map while the others' commands are in flight): no write is
    lost, the record ends up on the new node, and every read is its own record (a 503 at
    worst, never another error)."""
    tag = "{" + store_key(new_id()) + "}"  # one hash tag: every key below is in one slot
    key, neighbours = tag + "writer", [f"{tag}{index}" for index in range(20)]
    cluster = redis_cluster_process

    async def traffic(
        store: stores.SessionStore,
    ) -> tuple[int, list[str], str, tuple[int, int]]:
        await store.save(key, "0", 60)
        for neighbour in neighbours:
            await store.save(neighbour, record(neighbour), 60)
        done = [0]  # writes so far, read by the mover's thread

        def ten_more_writes() -> None:
            """Hold the move in its phase until the writer has written ten more times:
            traffic meets every phase however slow the machine (30 s at most)."""
            goal, deadline = done[0] + 10, time.monotonic() + 30
            while done[0] < goal and time.monotonic() < deadline:
                time.sleep(0.01)

        moving = asyncio.create_task(asyncio.to_thread(move_slot, cluster, key, ten_more_writes))
        readers = [read_own_until(store, neighbour, moving) for neighbour in neighbours]
        reading = asyncio.gather(*readers)
        writes, errors = 0, []
        acked, pending = 0, None  # the last write the store confirmed; one it answered 503 to
        while not moving.done():
            try:
                value = await store.load(key, 60)
                # The last confirmed write, or the one answered 503 (it may have landed):
                # never an older one.
                assert value in newest(acked, pending), (value, acked, pending)
                acked = int(value)
                pending = acked + 1
                await store.save(key, str(pending), 60)
                acked, pending, writes = pending, None, writes + 1
                done[0] = writes
            except stores.StoreUnavailable as error:
                errors.append(str(error))
        reads = [own for own, _ in await reading]
        assert min(reads) > 0  # every reader read through the move
        last = await store.load(key, 60)
        assert last is not None
        assert last in newest(acked, pending), (last, acked, pending)
        return writes, errors, last, await moving

    writes, errors, last, (source, target) = run_with_store(cluster.url, traffic)
    # A 503 at worst (redis-py's slot map re-read racing its own commands), never another
    # error, and rarely: most writes go through.
    assert len(errors) < writes, errors
    assert writes >= 30  # ten writes in each phase of the move
    with cluster.admin(target) as new_owner, cluster.admin(source) as old_owner:
        assert new_owner.get(PREFIX + key) == last.encode()
        slot = redis_command(old_owner, "CLUSTER KEYSLOT", PREFIX + key)
        assert redis_command(old_owner, "CLUSTER COUNTKEYSINSLOT", slot) == 0
        # The client met both redirections and followed them.
        redirected = old_owner.info("errorstats")
        assert redirected["errorstat_ASK"]["count"] > 0
        assert redirected["errorstat_MOVED"]["count"] > 0


@dataclass(frozen=True)
class Burst:
    """Concurrent session writes and reads, with redis-py dropping its slot map and every
    connection (its own aclose(), as it does itself on CLUSTERDOWN, on a slot not covered
    and on every fifth MOVED) before the burst or part-way through it."""

    calls: int
    close_after: int | None  # event-loop turns into the burst; None: just before it


async def redis_py_reinitialises(store: stores.RedisClusterStore, after: int | None) -> None:
    for _ in range(after or 0):
        await asyncio.sleep(0)
    assert store._cluster is not None
    await store._cluster.aclose()


async def save_then_load(store: stores.SessionStore, key: str) -> str | None:
    await store.save(key, record(key), 60)
    return await store.load(key, 60)


async def bursts_across_reinitialisations(url: str, bursts: list[Burst]) -> None:
    """Every call ends with its own record or StoreUnavailable; the store works after."""
    store = stores.create_store(url)
    assert isinstance(store, stores.RedisClusterStore)
    try:
        assert await store.load(store_key(new_id()), 60) is None  # the client is up
        for burst in bursts:
            keys = [store_key(new_id()) for _ in range(burst.calls)]
            if burst.close_after is None:
                await redis_py_reinitialises(store, None)
            closing = [] if burst.close_after is None else [burst.close_after]
            outcomes = await asyncio.gather(
                *(save_then_load(store, key) for key in keys),
                *(redis_py_reinitialises(store, after) for after in closing),
                return_exceptions=True,
            )
            assert outcomes[len(keys) :] == [None] * len(closing)  # aclose() itself worked
            for key, outcome in zip(keys, outcomes, strict=False):
                event(f"a call ended with {type(outcome).__name__}")
                if isinstance(outcome, BaseException):
                    assert isinstance(outcome, stores.StoreUnavailable), repr(outcome)
                else:
                    assert outcome == record(key)
        key = store_key(new_id())
        assert await save_then_load(store, key) == record(key)
    finally:
        await store.aclose()


@settings(max_examples=15)
@given(
    bursts=st.lists(
        st.builds(
            Burst,
            calls=st.integers(5, 40),
            close_after=st.one_of(st.none(), st.integers(0, 30)),
        ),
        min_size=1,
        max_size=2,
    )
)
def test_commands_across_redis_py_reinitialisations_answer_or_are_unavailable(
    redis_cluster_url: str, bursts: list[Burst]
) -> None:
    """redis-py re-reads the slot map by closing every connection, while other commands
    are in flight on them or start on them: each call still gets its own record, or
    StoreUnavailable (a 503), never another error (which would be a 500)."""
    asyncio.run(bursts_across_reinitialisations(redis_cluster_url, bursts))


PASSWORD = "cluster:/@pass"  # noqa: S105 - the test cluster's; has characters URLs must encode


@pytest.fixture
def tls_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A password-protected Redis Cluster speaking TLS only, with a self-signed certificate."""

    def cluster() -> LocalCluster:
        return redis_cluster(tmp_path, tls=self_signed_certificate(tmp_path), password=PASSWORD)

    yield from started(cluster)


def test_rediss_cluster_self_signed_needs_tls_verify_off(tls_cluster: LocalCluster) -> None:
    """rediss+cluster://: every node's certificate is verified by default, so a self-signed
    cluster is refused (StoreUnavailable, a 503); with SESSION_STORE_TLS_VERIFY off the
    store works over TLS on every node, logged in with the URL's password."""
    keys = [store_key(new_id()) for _ in range(30)]  # on every node, but for 3 * (2/3)**30

    async def saved_and_loaded(store: stores.SessionStore) -> list[str | None]:
        for key in keys:
            await store.save(key, record(key), 60)
        return [await store.load(key, 60) for key in keys]

    async def refused(url: str, *, tls_verify: bool) -> None:
        store = stores.create_store(url, tls_verify=tls_verify)
        try:
            with pytest.raises(stores.StoreUnavailable):
                await store.load(keys[0], 60)
        finally:
            await store.aclose()

    asyncio.run(refused(tls_cluster.url, tls_verify=True))
    loaded = run_with_store(tls_cluster.url, saved_and_loaded, tls_verify=False)
    assert loaded == [record(key) for key in keys]
    wrong = tls_cluster.url.replace(quote(PASSWORD, safe=""), "nope")
    asyncio.run(refused(wrong, tls_verify=False))


def connections_received(port: int) -> int:
    with redis.Redis(port=port) as admin:
        return int(admin.info("stats")["total_connections_received"])


def test_a_cluster_node_behind_a_plain_url_answers_unavailable_with_a_hint(
    redis_cluster_process: LocalCluster,
) -> None:
    """redis:// to a cluster node: a key another node owns gets MOVED, which fails the
    call (a 503) with a message naming the fix, and the connection is dropped."""
    cluster = redis_cluster_process
    node = cluster.nodes[0]
    with RedisCluster(host="127.0.0.1", port=node.port) as admin:
        elsewhere = next(
            key
            for key in (store_key(new_id()) for _ in range(1000))
            if node_of(admin, key) != f"127.0.0.1:{node.port}"
        )

    async def steps(store: stores.SessionStore) -> tuple[str, int, int]:
        with pytest.raises(stores.StoreUnavailable) as refused:
            await store.load(elsewhere, 60)
        before = connections_received(node.port)
        with pytest.raises(stores.StoreUnavailable):
            await store.load(elsewhere, 60)
        return str(refused.value), before, connections_received(node.port)

    message, before, after = run_with_store(f"redis://127.0.0.1:{node.port}", steps)
    assert message.startswith("redis: MOVED ")
    assert "use redis+cluster://" in message
    assert after == before + 2  # the next call came on a new connection (+1: our own check)


@pytest.fixture
def replica(
    redis_process: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    """A replica of `redis_process`, in sync with it."""

    def replica_server() -> LocalServer:
        server = redis_server(tmp_path_factory.mktemp("replica"))
        server.argv += ["--replicaof", "127.0.0.1", str(redis_process.port)]
        return server

    for server in started(replica_server):
        with redis.Redis(port=server.port) as admin:
            deadline = time.monotonic() + 30
            while admin.info("replication")["master_link_status"] != "up":
                assert time.monotonic() < deadline, "the replica never synced"
                time.sleep(0.05)
        yield server


def test_a_replica_answers_readonly_until_promoted(replica: LocalServer) -> None:
    """The URL names a server that is (or became, after a failover) a replica: READONLY
    fails the call and drops the connection; once it is a primary again, the next call
    works without a restart."""
    key = store_key(new_id())

    async def steps(store: stores.SessionStore) -> tuple[str, str | None]:
        with pytest.raises(stores.StoreUnavailable) as refused:
            await store.save(key, "{}", 60)
        with redis.Redis(port=replica.port) as admin:
            redis_command(admin, "REPLICAOF", "NO", "ONE")
        await store.save(key, "{}", 60)
        return str(refused.value), await store.load(key, 60)

    message, loaded = run_with_store(f"redis://127.0.0.1:{replica.port}", steps)
    assert message.startswith("redis: READONLY ")
    assert "connection dropped" in message
    assert loaded == "{}"


def test_the_redis_connection_keeps_itself_alive(redis_url: str) -> None:
    """TCP keepalive on the store's connection: a connection a NAT or load balancer
    dropped in silence is found dead instead of stalling the next request."""

    async def options() -> list[int]:
        connection = await redis_client.Connection.open(redis_client.Target.from_url(redis_url))
        try:
            assert connection._transport is not None
            sock = connection._transport.get_extra_info("socket")
            names = [name for name in redis_client.KEEPALIVE if hasattr(socket, name)]
            return [sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)] + [
                sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name)) for name in names
            ]
        finally:
            connection.close()

    expected = [name for name in redis_client.KEEPALIVE if hasattr(socket, name)]
    assert asyncio.run(options()) == [1, *(redis_client.KEEPALIVE[name] for name in expected)]
