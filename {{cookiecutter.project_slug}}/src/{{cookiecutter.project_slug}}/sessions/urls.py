# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The session store URLs SESSION_STORE_URL takes, and their rules.

Apart from the stores (stores.py) so that the settings, which every process and admin
task loads, check the URL without importing the stores' client libraries.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..db import SCHEMES as DATABASE_SCHEMES

REDIS_SCHEMES = ("redis", "rediss")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SCHEMES = (*REDIS_SCHEMES, *CLUSTER_SCHEMES, "memcached", *DATABASE_SCHEMES)


def check_url(url: str) -> None:
    """Refuse, with a ValueError that says what to write instead, a Redis URL part that
    the stores would otherwise ignore. The message never quotes the URL (it may hold a
    password)."""
    parts = urlsplit(url)
    if parts.scheme not in (*REDIS_SCHEMES, *CLUSTER_SCHEMES):
        return
    if parts.query or parts.fragment:
        raise ValueError(
            "a Redis URL takes no query string or fragment (no option is read from it): "
            "use rediss:// for TLS, and SESSION_STORE_TLS_VERIFY=false for a self-signed "
            "certificate"
        )
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError("the path of a Redis URL is a database number, such as /0")
    if parts.scheme in CLUSTER_SCHEMES and database not in ("", "0"):
        raise ValueError("a Redis Cluster has database 0 only: leave the path out")
