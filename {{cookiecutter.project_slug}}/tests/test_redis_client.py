# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The pipelined Redis client: each caller gets its own reply or its own error, never the
reply meant for another caller, whatever fails around it.

Many callers share the client's one connection, each with a key and values of its own,
so a reply handed to the wrong caller shows as a value that is not the one it wrote.
Hypothesis draws the callers, the commands that cannot be sent, the callers cancelled
part-way, and a fault (the connection killed, or the server paused past the client's
timeout) at a random point of the traffic, on a real password-protected Redis with a
database number (so every reconnection runs the AUTH and SELECT handshake).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from hypothesis import event, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.project_slug }}.sessions import redis_client, stores
from {{ cookiecutter.project_slug }}.sessions.ids import new_id, store_key

from servers import LocalServer, redis_server, started

PASSWORD = "client-test-pass"  # noqa: S105 - the test server's
TIMEOUT = 0.2  # the client's, in seconds: a pause longer than this times its callers out
PAUSE_MS = 250
# Arguments hiredis cannot pack: lone surrogates (not UTF-8 encodable), a None.
UNENCODABLE: list[Any] = ["\ud800", "record \udfff", None]
# An error a caller may end with: its own, from the fault it met.
OWN_ERRORS = (ConnectionError, TimeoutError, asyncio.CancelledError)


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[LocalServer]:
    """A Redis server of this test's own (it is paused and its clients killed), with a
    password."""
    yield from started(lambda: redis_server(tmp_path, password=PASSWORD))


def client_url(server: LocalServer) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/3"


@dataclass(frozen=True)
class Caller:
    """One concurrent user of the client."""

    delay: int  # event-loop turns before its first command
    rounds: int  # SET then GETEX of a value of its own, this many times
    size: int  # padding of its values: large ones take several writes and reads
    unencodable: Any  # sent in place of a value in round `bad_round`; None: never
    bad_round: int
    cancel_after: int | None  # event-loop turns after which it is cancelled, or never


@dataclass(frozen=True)
class Fault:
    kind: str  # "kill": CLIENT KILL of every client connection; "pause": CLIENT PAUSE
    after: int  # event-loop turns of traffic before it


callers = st.builds(
    Caller,
    delay=st.integers(0, 10),
    rounds=st.integers(1, 4),
    size=st.sampled_from([0, 10, 100_000]),
    unencodable=st.one_of(st.none(), st.sampled_from(UNENCODABLE)),
    bad_round=st.integers(0, 3),
    cancel_after=st.one_of(st.none(), st.integers(0, 40)),
)
faults = st.one_of(
    st.none(),
    st.builds(Fault, kind=st.just("kill"), after=st.integers(0, 40)),
    st.builds(Fault, kind=st.just("pause"), after=st.integers(0, 40)),
)


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def run_caller(client: redis_client.Client, index: int, me: Caller) -> list[str]:
    """The replies it got that were not its own (so an empty list is right). Raises the
    error it ended with, if any."""
    key = f"caller:{index}:{new_id()}"
    wrong: list[str] = []
    await turns(me.delay)
    for round_ in range(me.rounds):
        if me.unencodable is not None and round_ == me.bad_round:
            try:
                await client("SET", key, me.unencodable)
                wrong.append("an unencodable command was sent")
            except redis_client.UnencodableCommand:
                pass  # its own error, and nothing sent: the next commands work
        value = f"caller {index} round {round_} " + "x" * me.size
        if (reply := await client("SET", key, value, "EX", 60)) != b"OK":
            wrong.append(f"SET got {reply!r:.60}")
        if (reply := await client("GETEX", key, "EX", 60)) != value.encode():
            wrong.append(f"GETEX got {reply!r:.60}")
    return wrong


async def inject(admin: redis.asyncio.Redis, fault: Fault) -> float:
    """Apply the fault; returns when (time.monotonic()) the server serves again."""
    await turns(fault.after)
    if fault.kind == "kill":
        await admin.client_kill_filter(_type="normal")  # skips its own connection
        return time.monotonic()
    await admin.client_pause(PAUSE_MS, all=True)
    return time.monotonic() + PAUSE_MS / 1000


async def cancel_later(task: asyncio.Task[list[str]], after: int) -> None:
    await turns(after)
    task.cancel()


async def works_again(client: redis_client.Client) -> None:
    """The client answers again. A busy test machine may stall a call past the short
    timeout, so a third call must answer; any other error fails at once."""
    for attempt in range(3):
        try:
            assert await client("SET", "after", "fault") == b"OK"
            assert await client("GET", "after") == b"fault"
            return
        except TimeoutError:
            assert attempt < 2, "the client never answered again"


async def scenario(url: str, people: list[Caller], fault: Fault | None) -> None:
    """Run the callers and the fault together on one client; check every caller's
    outcome, then that the client works again."""
    client = redis_client.Client(redis_client.Target.from_url(url), TIMEOUT)
    admin = redis.asyncio.Redis.from_url(url)
    try:
        await admin.ping()  # connected before the traffic: CLIENT KILL spares its caller
        tasks = [asyncio.create_task(run_caller(client, i, c)) for i, c in enumerate(people)]
        cancels = [
            asyncio.create_task(cancel_later(task, person.cancel_after))
            for task, person in zip(tasks, people, strict=True)
            if person.cancel_after is not None
        ]
        injector = asyncio.create_task(inject(admin, fault)) if fault is not None else None
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*cancels)
        served_again = await injector if injector is not None else time.monotonic()
        for person, outcome in zip(people, outcomes, strict=True):
            event(f"a caller ended with {type(outcome).__name__}")  # --hypothesis-show-statistics
            if isinstance(outcome, BaseException):
                assert isinstance(outcome, OWN_ERRORS), repr(outcome)
                cancelled = isinstance(outcome, asyncio.CancelledError)
                assert not cancelled or person.cancel_after is not None
            else:
                assert outcome == [], "a caller got a reply that was not its own"
        await asyncio.sleep(max(0.0, served_again - time.monotonic()) + 0.02)
        await works_again(client)
    finally:
        await client.aclose()
        await admin.aclose()


@settings(max_examples=40)
@given(people=st.lists(callers, min_size=2, max_size=25), fault=faults)
def test_every_caller_gets_its_own_reply_or_its_own_error(
    locked_redis: LocalServer, people: list[Caller], fault: Fault | None
) -> None:
    """Concurrent callers, unencodable commands, cancellations, a killed connection and a
    paused server, in random interleavings: no caller ever gets another caller's reply,
    each ends with its own values or an error of its own, and the client recovers."""
    event(f"fault: {fault.kind if fault else None}")
    asyncio.run(scenario(client_url(locked_redis), people, fault))


@pytest.mark.parametrize("server", ["redis_url", "redis_cluster_url"])
def test_an_unencodable_record_fails_alone(server: str, request: pytest.FixtureRequest) -> None:
    """Twenty sessions read at once while a save carries text that cannot be sent to
    Redis (a lone surrogate): the save fails with a ValueError, having sent nothing, and
    every read gets its own record (on one server, and on a cluster)."""
    url: str = request.getfixturevalue(server)
    keys = [store_key(new_id()) for _ in range(20)]

    async def steps() -> list[str | BaseException | None]:
        store = stores.create_store(url)
        try:
            for key in keys:
                await store.save(key, f"record of {key}", 60)
            bad = store.save(store_key(new_id()), "\ud800", 60)
            # Issued first, in the same event-loop turn as the reads: one pipelined write.
            return await asyncio.gather(
                bad, *(store.load(key, 60) for key in keys), return_exceptions=True
            )
        finally:
            await store.aclose()

    error, *loaded = asyncio.run(steps())
    assert isinstance(error, ValueError)
    assert loaded == [f"record of {key}" for key in keys]


def test_a_reply_nobody_asked_for_or_garbage_closes_the_connection(redis_url: str) -> None:
    """A reply with no command waiting for it, or bytes that are no reply, would put the
    replies out of step with the callers: the connection is closed (its waiting caller
    gets a ConnectionError of its own) and the client carries on with a new one. A real
    Redis sends neither, so the bytes are put into the connection's stream here."""
    key = store_key(new_id())

    async def steps() -> None:
        client = redis_client.Client(redis_client.Target.from_url(redis_url), 2.0)
        try:
            assert await client("SET", key, "mine") == b"OK"
            stray = client._connection
            assert stray is not None
            stray.data_received(b"$5\r\nstray\r\n")  # nobody waits for a reply
            assert stray.lost
            assert await client("GET", key) == b"mine"  # on a new connection
            garbled = client._connection
            assert garbled is not None
            assert garbled is not stray
            waiting = garbled.call(("GET", key))
            garbled.data_received(b"?not a reply\r\n")  # before the real reply arrives
            with pytest.raises(ConnectionError):
                await waiting
            assert await client("GET", key) == b"mine"
        finally:
            await client.aclose()

    asyncio.run(steps())
