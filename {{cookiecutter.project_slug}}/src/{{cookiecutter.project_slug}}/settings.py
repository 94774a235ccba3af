"""This service's own settings: yours to edit; template updates never change this file.

Add a field to `ServiceSettings` for each environment variable your code reads: field
`foo_bar` is read from `FOO_BAR`, with a type (and a default unless it is required), e.g.

    notes_page_size: int = Field(default=20, ge=1, le=500)

then document the variable below the "your variables" line of `.env.example` (a test keeps
the two in step), with a value that works locally: bin/setup copies it into `.env`, and the
tests give the setting that value (tests/helpers.py `team_values()`), which a required
setting needs. `config.Settings` combines these fields with the template's, so they are
validated at start-up like every other setting and a bad value is named, never shown. Read
them from the settings the app holds (`request.app.state.settings.notes_page_size`) or from
`load_settings()` in an admin task.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings


class ServiceSettings(BaseSettings):
    """Settings of this service's own code (the template's are in config.py)."""
