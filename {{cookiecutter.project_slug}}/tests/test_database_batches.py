# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The database stores' batches, against real SQLite and PostgreSQL: one statement for the
calls of one event loop iteration, and still each caller its own outcome.

Random batches of concurrent save, load and delete calls, some of them poisoned with text
the database refuses (a lone surrogate anywhere; a NUL in PostgreSQL), some cancelled by
their callers: every innocent call gets exactly its own result, every poisoned one fails
with RecordRefused (not StoreUnavailable: the store is healthy), nothing else changes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.project_slug }}.sessions import StoreUnavailable, create_store
from {{ cookiecutter.project_slug }}.sessions.database import DatabaseStore
from {{ cookiecutter.project_slug }}.sessions.ids import new_id, store_key
from {{ cookiecutter.project_slug }}.sessions.stores import RecordRefused

POISONS = ("\ud800", "\udfff", "a\udc80b", "\x00", "x\x00y", '{"a":"\ud83d"}')


def refused(url: str, text: str) -> bool:
    """Whether the database behind `url` refuses `text` (and so must its store)."""
    if any("\ud800" <= char <= "\udfff" for char in text):  # not encodable as UTF-8
        return True
    return url.startswith("postgresql") and "\x00" in text  # PostgreSQL text has no NUL


@dataclass(frozen=True)
class Call:
    """One store call of a batch, on a key of its own."""

    kind: str  # "save", "load" or "delete"
    text: str  # save: the record; load and delete: appended to the key (a poisoned key)
    existing: bool  # the key holds a record before the batch
    cancel_after: int | None  # the caller gives up after this many loop iterations


# Any text, lone surrogates and NULs included, and the known poisons often.
TEXTS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(POISONS),
    st.just('{"created_at":1.5,"data":{"name":"Zo\\u00eb"} }'),
)
CALLS = st.builds(
    Call,
    kind=st.sampled_from(["save", "load", "delete"]),
    text=TEXTS,
    existing=st.booleans(),
    cancel_after=st.one_of(st.none(), st.none(), st.integers(0, 3)),
)
BATCHES = st.lists(CALLS, min_size=1, max_size=24)


def before(n: int) -> str:
    return '{"before":' + str(n) + "}"


async def run_batch(store: DatabaseStore, url: str, calls: list[Call]) -> None:
    """Run `calls` concurrently after setting up their keys; check every outcome."""
    keys = [store_key(new_id()) for _ in calls]
    bystanders = [store_key(new_id()) for _ in range(3)]  # in no call: must not change
    await asyncio.gather(
        *(store.save(key, before(n), 60) for n, key in enumerate(keys) if calls[n].existing),
        *(store.save(key, "bystander", 60) for key in bystanders),
    )
    tasks = [
        asyncio.ensure_future(issue(store, key, call))
        for key, call in zip(keys, calls, strict=True)
    ]
    await cancel_some(tasks, calls)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    after = await asyncio.gather(*(store.load(key, 60) for key in keys))
    assert await asyncio.gather(*(store.load(key, 60) for key in bystanders)) == ["bystander"] * 3
    for n, call in enumerate(calls):
        old = before(n) if call.existing else None
        check(url, call, old, outcomes[n], after[n])


async def issue(store: DatabaseStore, key: str, call: Call) -> str | None:
    if call.kind == "save":
        await store.save(key, call.text, 60)
        return None
    if call.kind == "load":
        return await store.load(key + call.text, 60)
    await store.delete(key + call.text)
    return None


async def cancel_some(tasks: Sequence[asyncio.Future[str | None]], calls: list[Call]) -> None:
    for iteration in range(4):
        for task, call in zip(tasks, calls, strict=True):
            if call.cancel_after == iteration:
                task.cancel()
        await asyncio.sleep(0)


def check(url: str, call: Call, old: str | None, outcome: object, after: str | None) -> None:
    """One call's outcome and its key's record afterwards, as `call` alone explains them."""
    cancelled = isinstance(outcome, asyncio.CancelledError)
    poisoned = refused(url, call.text)
    if cancelled:
        pass  # whether it ran or not is the store's business; what it left is checked below
    elif poisoned:
        assert isinstance(outcome, RecordRefused), (call, outcome)
    elif call.kind == "load":  # its own key's record; a longer key has none
        assert outcome == (old if call.text == "" else None), (call, outcome)
    else:
        assert outcome is None, (call, outcome)
    if call.kind == "save" and not poisoned:
        assert after in ((old, call.text) if cancelled else (call.text,)), (call, after)
    elif call.kind == "delete" and call.text == "":
        assert after in ((old, None) if cancelled else (None,)), (call, after)
    else:  # a refused record, a read, a delete of another (poisoned) key: nothing changes
        assert after == old, (call, after)


@settings(max_examples=40)
@given(calls=BATCHES)
@pytest.mark.parametrize("session_store_url", ["sqlite", "postgresql"], indirect=True)
def test_a_refused_record_fails_only_its_own_call(
    session_store_url: str, calls: list[Call]
) -> None:
    async def main() -> None:
        store = create_store(session_store_url)
        assert isinstance(store, DatabaseStore)
        try:
            await run_batch(store, session_store_url, calls)
        finally:
            await store.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("poison", POISONS)
@pytest.mark.parametrize("session_store_url", ["sqlite", "postgresql"], indirect=True)
def test_every_call_refuses_a_poisoned_record_alone(session_store_url: str, poison: str) -> None:
    """Save, load and delete each refuse their own bad text (what the database accepts
    works as usual) and the store serves the next call as before."""
    key = store_key(new_id())
    expected = RecordRefused if refused(session_store_url, poison) else None

    async def main() -> tuple[list[object], str | None]:
        store = create_store(session_store_url)
        try:
            await store.save(key, "kept", 60)
            errors = [
                await outcome(store.save(store_key(new_id()), poison, 60)),
                await outcome(store.load(key + poison, 60)),
                await outcome(store.delete(key + poison)),
            ]
            return errors, await store.load(key, 60)
        finally:
            await store.aclose()

    errors, after = asyncio.run(main())
    assert [type(error) if error else None for error in errors] == [expected] * 3
    assert after == "kept"


async def outcome(call: Awaitable[object]) -> object:
    """The call's error, or None when it returned."""
    try:
        await call
    except Exception as error:  # the test compares what it was
        return error
    return None


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_broken_database_fails_every_call_as_unavailable(database_url: str) -> None:
    """No sessions table (a database never migrated): every call of a batch, poisoned or
    not, gets StoreUnavailable (a 503), not a RecordRefused that would blame the client."""
    texts = ["{}", "\ud800", "\x00", "{}"]

    async def main() -> list[BaseException | None]:
        store = create_store(database_url)
        try:
            saves = (store.save(store_key(new_id()), text, 60) for text in texts)
            return await asyncio.gather(*saves, return_exceptions=True)
        finally:
            await store.aclose()

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes), outcomes


@pytest.fixture
def dead_end() -> Iterator[tuple[str, list[int]]]:
    """A port that accepts TCP connections and closes them at once (a PostgreSQL that is
    going down): its URL, and the count of connections it took so far."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = [0]

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            accepted[0] += 1
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        yield f"postgresql://nobody@127.0.0.1:{port}/sessions?sslmode=disable", accepted
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress
        listener.close()
        thread.join(timeout=5)


def test_an_outage_is_not_retried_once_per_call(dead_end: tuple[str, list[int]]) -> None:
    """A batch of 20 poisoned and innocent writes to a server that drops every connection
    costs it no more connection attempts than a single write: StoreUnavailable for all,
    at once, and no record-by-record retry of the batch."""
    url, accepted = dead_end

    async def writes(texts: list[str]) -> list[BaseException | None]:
        store = create_store(url)
        try:
            saves = (store.save(store_key(new_id()), text, 60) for text in texts)
            return await asyncio.gather(*saves, return_exceptions=True)
        finally:
            await store.aclose()

    alone = asyncio.run(writes(["{}"]))
    attempts_alone = accepted[0]
    batch = asyncio.run(writes(["{}", "\ud800", "\x00", "{}"] * 5))
    assert all(isinstance(outcome, StoreUnavailable) for outcome in [*alone, *batch])
    assert attempts_alone > 0
    assert accepted[0] - attempts_alone == attempts_alone
