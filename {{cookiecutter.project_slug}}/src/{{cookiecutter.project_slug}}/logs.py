# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Logs: one JSON object per line on stdout (twelve-factor XI).

The process never routes or stores its logs; the platform collects stdout. Each line has
`time`, `level`, `logger` and `message`, the `request_id` of the request being served (if
any), the fields passed with `extra=`, and `exception` (the traceback) when there is one.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# The ID of the request the current task serves; set by the request middleware.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
# uvicorn adds `color_message` (its message with terminal colours) to its records.
_SKIPPED = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON; values JSON cannot hold become strings."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _SKIPPED)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str, ensure_ascii=False)  # readable UTF-8
        if not line.isascii():
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate (a "\ud800" escape in a JSON body, say) cannot be
                # written as UTF-8: this line gets \u escapes instead, and is not lost.
                line = json.dumps(entry, default=str)
        return line


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to the current sys.stdout and flushes it.

    sys.stdout is looked up per record, not once: whoever replaces it later (a test's
    output capture, a REPL) still gets the lines, and no record is written to a closed
    stream.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _: object) -> None:
        """Ignored: the stream is always sys.stdout."""


def handler() -> logging.Handler:
    """A stdout handler writing JSON lines."""
    stdout = StdoutHandler()
    stdout.setFormatter(JsonFormatter())
    return stdout


def configure(level: str) -> logging.Handler:
    """Send every logger's records to stdout as JSON at `level`; returns the handler."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    json_handler = handler()
    root.addHandler(json_handler)
    root.setLevel(level)
    # Servers and libraries that install their own handlers log through the root instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.captureWarnings(True)
    return json_handler
