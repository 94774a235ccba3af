# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Interactive Python console with the settings and the database ready.

With a terminal it is IPython when installed, else the standard console. Without one
(a pipe, CI, `heroku run`, `kubectl exec` without -t) it runs stdin as a script:
`echo 'print(6*7)' | bin/admin console` prints 42.

Ready in the namespace: `settings` (secrets print masked), `engine` (SQLAlchemy, for
DATABASE_URL: the process's one engine, as admin tasks use it; `db.sessions` is in
SESSION_STORE_URL's database when the session store is another one), `transaction` (a
connection in a transaction, as endpoints and jobs get one: `with transaction() as c:
...`), `db` (the db module: `db.sessions`, `db.jobs`, `db.metadata`), `Session` (an ORM
session factory: `with Session() as s: ...`), SQLAlchemy's `select`, `insert`,
`update`, `delete`, `text`, the session `store` of SESSION_STORE_URL (async) and `run` to
await on one event loop: `run(store.load(key, ttl=60))`.
"""

from __future__ import annotations

import asyncio
import code
import contextlib
import importlib
import importlib.util
import sys
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import sessionmaker

from {{ cookiecutter.project_slug }} import database, db
from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.sessions import create_store


def namespace(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    settings = load_settings()
    engine = database.engine()
    return {
        "settings": settings,
        "engine": engine,
        "transaction": database.transaction,
        "db": db,
        "Session": sessionmaker(engine),
        "store": create_store(settings.session_store_url),  # connects on first use
        "run": loop.run_until_complete,  # one loop: the store's connections stay valid
        **{f.__name__: f for f in (select, insert, update, delete, text)},
    }


def banner(names: dict[str, Any]) -> str:
    return f"Python {sys.version.split()[0]}; ready: {', '.join(sorted(names))}"


def interact(names: dict[str, Any]) -> None:
    if importlib.util.find_spec("IPython"):  # optional: `uv add --dev ipython` to get it
        importlib.import_module("IPython").start_ipython(argv=[], user_ns=names)
        return
    with contextlib.suppress(ImportError):
        importlib.import_module("readline")  # line editing and history where available
    code.interact(banner=banner(names), local=names, exitmsg="")


def main() -> None:
    loop = asyncio.new_event_loop()
    names = namespace(loop)
    try:
        if sys.stdin.isatty():
            interact(names)
        else:
            source = sys.stdin.read()
            exec(compile(source, "<stdin>", "exec"), names)  # noqa: S102  (that is the job)
    finally:
        names["engine"].dispose()
        loop.run_until_complete(names["store"].aclose())
        loop.close()
