"""CPU per GETEX of the Redis clients a session store could use, measured in one process.

Used by benchmarks/run.py, and runnable alone for just this table:

    uv run python benchmarks/redis_clients.py [--commands 20000] [--rounds 3]

Renders the default project and syncs it, then, with the project's interpreter, starts a
Redis server and a three-primary Redis Cluster from the machine's binaries (the project's
tests/servers.py) and times GETEX on a session-sized record through:

- ours: the session store's client (sessions/redis_client.py: hiredis, one pipelined
  connection), on the single server;
- redis-py: `redis.asyncio.Redis` (its connection pool, hiredis parser), on the single
  server;
- redis-py cluster: `redis.asyncio.RedisCluster`, on the cluster (what redis+cluster://
  uses).

16 tasks issue the commands concurrently, as 16 requests in a web worker would. The
figure is this process's CPU time (time.process_time: the client's work, not Redis's)
divided by the commands, the median of --rounds rounds that alternate the clients. Not a
test: the absolute numbers depend on the machine; compare the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1]
TASKS = 16
RECORD = json.dumps({"user": "someone@example.com", "visits": 42, "cart": list(range(20))})

Getex = Callable[[str], Awaitable[Any]]


async def cpu_per_command(getex: Getex, keys: list[str], commands: int) -> float:
    """Microseconds of this process's CPU per GETEX, TASKS of them in flight."""

    async def task(offset: int) -> None:
        for index in range(offset, commands, TASKS):
            await getex(keys[index % len(keys)])

    await asyncio.gather(*(task(offset) for offset in range(TASKS // 4)))  # warm-up
    start = time.process_time()
    await asyncio.gather(*(task(offset) for offset in range(TASKS)))
    return (time.process_time() - start) / commands * 1e6


async def measure_clients(
    single: str, cluster: str, commands: int, rounds: int
) -> dict[str, float]:
    """Run inside the project's interpreter: its package, redis-py and hiredis import."""
    import redis.asyncio
    from my_service.sessions import redis_client

    keys = [f"bench:{index}" for index in range(100)]
    plain = redis.asyncio.Redis.from_url(single)
    for key in keys:
        await plain.set(key, RECORD)
    clustered = redis.asyncio.RedisCluster.from_url(cluster.replace("+cluster", ""))
    for key in keys:
        await clustered.set(key, RECORD)
    ours = redis_client.Client(redis_client.Target.from_url(single), timeout=5)

    clients: dict[str, Getex] = {
        "ours (single server)": lambda key: ours("GETEX", key, "EX", 600),
        "redis-py (single server)": lambda key: plain.getex(key, ex=600),
        "redis-py cluster (3 primaries)": lambda key: clustered.getex(key, ex=600),
    }
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(rounds):
        for name, getex in clients.items():
            samples[name].append(await cpu_per_command(getex, keys, commands))
    await ours.aclose()
    await plain.aclose()
    await clustered.aclose()
    return {name: statistics.median(values) for name, values in samples.items()}


def in_project(project: Path, commands: int, rounds: int) -> dict[str, float]:
    """Start the servers with the project's test helpers, then measure (project venv)."""
    sys.path.insert(0, str(project / "tests"))
    from servers import redis_cluster, redis_server

    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        single, cluster = redis_server(Path(tmp)), redis_cluster(Path(tmp))
        single.start()
        try:
            cluster.start()
            try:
                url = f"redis://127.0.0.1:{single.port}/0"
                return asyncio.run(measure_clients(url, cluster.url, commands, rounds))
            finally:
                cluster.stop()
        finally:
            single.stop()


def measure(project: Path, commands: int = 20_000, rounds: int = 3) -> dict[str, float]:
    """The table for a rendered, synced project (called from the template's interpreter)."""
    python = project / ".venv" / "bin" / "python"
    argv = [str(python), __file__, "--in-project", str(project)]
    argv += ["--commands", str(commands), "--rounds", str(rounds)]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def print_table(results: dict[str, float]) -> None:
    ours = results["ours (single server)"]
    print("| Redis client | CPU per GETEX | vs ours |")
    print("| --- | ---: | ---: |")
    for name, micros in results.items():
        print(f"| {name} | {micros:.1f} µs | {micros / ours:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20_000, help="GETEX per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-project", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_project:
        print(json.dumps(in_project(args.in_project, args.commands, args.rounds)))
        return
    sys.path[:0] = [str(TEMPLATE / "tests"), str(TEMPLATE / "hooks")]
    from helpers import render_cookiecutter, sync

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        project = render_cookiecutter(Path(tmp))
        sync(project)
        print_table(measure(project, args.commands, args.rounds))


if __name__ == "__main__":
    main()
