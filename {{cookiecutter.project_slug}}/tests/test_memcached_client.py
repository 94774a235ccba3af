# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The Memcached store's meta commands (memcached_store.MetaClient): each caller gets its
own record or an error of its own, never the record of another session, whatever fails
around it; a read is one command that moves the expiry and rewrites nothing.

The store reaches a real Memcached through a TCP relay of the test's own, so that a fault
can cut every connection at once (as a restarting proxy or a network reset would) or put
bytes into them. Hypothesis draws the callers, the keys the store must refuse, the
callers cancelled part-way, and a fault (the connections cut, or the server stopped
with SIGSTOP past the store's timeout) at a random point of the traffic.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.project_slug }}.sessions import RecordRefused, StoreUnavailable
from {{ cookiecutter.project_slug }}.sessions.ids import new_id, store_key
from {{ cookiecutter.project_slug }}.sessions.memcached_store import MemcachedStore

from servers import LocalServer

PAUSE_SECONDS = 0.3  # a stopped server: longer than the store's timeout in that case
SHORT_TIMEOUT = 0.15


class Relay:
    """A TCP relay on loopback to the Memcached at `port`: every byte passes unchanged
    until `cut()` closes every connection, or `inject()` sends bytes to the clients as if
    the server had."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._clients: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.lines_sent = 0  # command lines (and data blocks) clients sent to the server

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"memcached://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._clients.append(writer)
        for task in (
            asyncio.create_task(self._pipe(reader, upstream_writer, count=True)),
            asyncio.create_task(self._pipe(upstream_reader, writer, count=False)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, count: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                self.lines_sent += data.count(b"\r\n") if count else 0
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()

    def cut(self) -> None:
        """Reset every connection that goes through the relay."""
        for writer in self._clients:
            writer.transport.abort()
        self._clients.clear()

    def inject(self, data: bytes) -> None:
        for writer in self._clients:
            writer.write(data)

    async def aclose(self) -> None:
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass(frozen=True)
class Caller:
    """One concurrent user of the store, with a session of its own."""

    delay: int  # event-loop turns before its first call
    rounds: int  # save then load a record of its own, this many times
    size: int  # padding of its records: large ones take several reads
    bad_round: int | None  # the round in which it also reads a key the store refuses
    cancel_after: int | None  # event-loop turns after which it is cancelled, or never


@dataclass(frozen=True)
class Fault:
    kind: str  # "cut": every connection reset; "stop": the server stopped (SIGSTOP)
    after: int  # event-loop turns of traffic before it


callers = st.builds(
    Caller,
    delay=st.integers(0, 10),
    rounds=st.integers(1, 4),
    size=st.sampled_from([0, 10, 200_000]),
    bad_round=st.one_of(st.none(), st.integers(0, 3)),
    cancel_after=st.one_of(st.none(), st.integers(0, 60)),
)
faults = st.one_of(
    st.none(),
    st.builds(Fault, kind=st.just("cut"), after=st.integers(0, 60)),
    st.builds(Fault, kind=st.just("stop"), after=st.integers(0, 60)),
)


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def run_caller(store: MemcachedStore, index: int, me: Caller) -> list[str]:
    """What it read that was not its own (so an empty list is right). Raises the error
    it ended with, if any."""
    key, absent = store_key(new_id()), store_key(new_id())
    wrong: list[str] = []
    await turns(me.delay)
    for round_ in range(me.rounds):
        if round_ == me.bad_round:
            try:
                await store.load(key + " flush_all", 60)  # a space would end the command
                wrong.append("a key with a space was sent")
            except RecordRefused:
                pass  # its own error, and nothing sent: the next calls work
        record = f"caller {index} round {round_} " + "x" * me.size
        await store.save(key, record, 60)
        if (loaded := await store.load(key, 60)) != record:
            wrong.append(f"load got {loaded!r:.60}")
        if (loaded := await store.load(absent, 60)) is not None:
            wrong.append(f"load of a missing record got {loaded!r:.60}")
    return wrong


async def inject(relay: Relay, server: LocalServer, fault: Fault) -> None:
    await turns(fault.after)
    if fault.kind == "cut":
        relay.cut()
        return
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(PAUSE_SECONDS)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


async def cancel_later(task: asyncio.Task[list[str]], after: int) -> None:
    await turns(after)
    task.cancel()


async def works_again(store: MemcachedStore) -> None:
    """The store answers again, with a record of its own. A busy test machine may stall
    a call past a short timeout, so a third call must answer."""
    key = store_key(new_id())
    for attempt in range(3):
        try:
            await store.save(key, "after the fault", 60)
            assert await store.load(key, 60) == "after the fault"
            return
        except StoreUnavailable:
            assert attempt < 2, "the store never answered again"


async def with_relay(server: LocalServer, steps: Callable[[Relay], Awaitable[None]]) -> None:
    relay = Relay(server.port)
    try:
        await steps(relay)
    finally:
        await relay.aclose()


async def scenario(
    server: LocalServer, relay: Relay, people: list[Caller], fault: Fault | None
) -> None:
    """Run the callers and the fault together on one store; check every caller's outcome,
    then that the store works again."""
    # A stopped server must time its callers out; otherwise no call may time out at all.
    timeout = SHORT_TIMEOUT if fault is not None and fault.kind == "stop" else 5.0
    store = MemcachedStore(await relay.start(), timeout=timeout)
    try:
        tasks = [asyncio.create_task(run_caller(store, i, c)) for i, c in enumerate(people)]
        cancels = [
            asyncio.create_task(cancel_later(task, person.cancel_after))
            for task, person in zip(tasks, people, strict=True)
            if person.cancel_after is not None
        ]
        injector = asyncio.create_task(inject(relay, server, fault)) if fault else None
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*cancels)
        if injector is not None:
            await injector
        for person, outcome in zip(people, outcomes, strict=True):
            event(f"a caller ended with {type(outcome).__name__}")  # --hypothesis-show-statistics
            if isinstance(outcome, asyncio.CancelledError):
                assert person.cancel_after is not None
            elif isinstance(outcome, StoreUnavailable):
                # Only a fault makes the store unavailable: a cancelled neighbour never does.
                assert fault is not None, repr(outcome)
            elif isinstance(outcome, BaseException):
                raise AssertionError(f"a caller ended with {outcome!r}")
            else:
                assert outcome == [], "a caller read a record that was not its own"
        await works_again(store)
    finally:
        await store.aclose()


@settings(max_examples=40)
@given(people=st.lists(callers, min_size=2, max_size=25), fault=faults)
def test_every_caller_gets_its_own_record_or_its_own_error(
    memcached_process: LocalServer, people: list[Caller], fault: Fault | None
) -> None:
    """Concurrent callers, keys the store refuses, cancellations, cut connections and a
    stopped server, in random interleavings: no caller ever reads another session's
    record, each ends with its own records or an error of its own (RecordRefused for its
    bad key; StoreUnavailable only under a fault), and the store recovers."""
    event(f"fault: {fault.kind if fault else None}")

    async def steps(relay: Relay) -> None:
        await scenario(memcached_process, relay, people, fault)

    asyncio.run(with_relay(memcached_process, steps))


def test_a_reply_for_another_key_is_never_handed_over(memcached_process: LocalServer) -> None:
    """Bytes that are not the reply to the command sent (here, another session's record
    arriving ahead of the real reply) fail that read with StoreUnavailable, never hand
    the other record over, and close the connection: the next read gets its own record."""
    mine, other = store_key(new_id()), store_key(new_id())

    async def steps(relay: Relay) -> None:
        store = MemcachedStore(await relay.start())
        try:
            await store.save(mine, "my record", 60)
            assert await store.load(mine, 60) == "my record"  # a connection through the relay
            relay.inject(b"VA 12 ksession:%b\r\nother record\r\n" % other.encode())
            try:
                loaded = await store.load(mine, 60)
            except StoreUnavailable:
                loaded = None
            assert loaded is None  # the read failed: it did not get "other record"
            assert await store.load(mine, 60) == "my record"
        finally:
            await store.aclose()

    asyncio.run(with_relay(memcached_process, steps))


def meta(port: int, command: bytes) -> bytes:
    """One meta command's reply line, on a connection of its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(command + b"\r\n")
        return connection.makefile("rb").readline().rstrip(b"\r\n")


def test_a_read_is_one_command_that_slides_the_expiry_and_rewrites_nothing(
    memcached_process: LocalServer,
) -> None:
    """A load sends one command line (one round trip), moves the item's expiry to the TTL
    it is given, and leaves the item itself as it was: its CAS value, which every write
    changes, is the same after the read."""
    key = store_key(new_id())
    item = b"session:" + key.encode()

    async def steps(relay: Relay) -> None:
        store = MemcachedStore(await relay.start())
        try:
            await store.save(key, "{}", 60)
            before = meta(memcached_process.port, b"mg " + item + b" c t")
            sent = relay.lines_sent
            assert await store.load(key, 3600) == "{}"
            assert relay.lines_sent - sent == 1
            after = meta(memcached_process.port, b"mg " + item + b" c t")
            cas = [token for token in before.split() if token.startswith(b"c")]
            assert cas == [token for token in after.split() if token.startswith(b"c")]
            ttl = [int(token[1:]) for token in after.split() if token.startswith(b"t")]
            assert len(ttl) == 1, after
            assert 3590 <= ttl[0] <= 3600, after
            assert before.split()[0] == after.split()[0] == b"HD"
        finally:
            await store.aclose()

    asyncio.run(with_relay(memcached_process, steps))
