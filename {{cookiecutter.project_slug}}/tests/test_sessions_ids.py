# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Session IDs and the signed cookie value."""

from __future__ import annotations

import base64
import hashlib

from {{ cookiecutter.project_slug }}.sessions.ids import CookieSigner, new_id, store_key

SIGNER = CookieSigner("k" * 40)


def test_ids_carry_at_least_128_random_bits_and_do_not_repeat() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for session_id in list(ids)[:10]:
        assert len(base64.urlsafe_b64decode(session_id + "=")) * 8 >= 128


def test_a_signed_id_round_trips() -> None:
    session_id = new_id()
    assert SIGNER.unsign(SIGNER.sign(session_id)) == session_id


def test_forged_tampered_and_malformed_values_are_refused() -> None:
    session_id = new_id()
    signed = SIGNER.sign(session_id)
    other_id = new_id()
    refused = [
        f"{other_id}.{signed.split('.')[1]}",  # someone else's ID under this MAC
        signed[:-1] + ("A" if signed[-1] != "A" else "B"),  # MAC changed
        CookieSigner("another secret key of forty characters!!").sign(session_id),
        session_id,  # no MAC at all
        "attacker-chosen-session-id",
        signed + ".x",
        "",
        "é" * 87,
    ]
    for value in refused:
        assert SIGNER.unsign(value) is None, value


def test_stores_file_sessions_under_the_hash_of_the_id() -> None:
    session_id = new_id()
    assert store_key(session_id) == hashlib.sha256(session_id.encode()).hexdigest()
    assert session_id not in store_key(session_id)
