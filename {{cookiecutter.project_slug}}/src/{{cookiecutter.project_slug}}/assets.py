# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Static assets: fingerprinted at build time, served with far-future cache headers.

`bin/build` (`python -m <package>.assets build`) copies static/ to build/static/, renames
every file to include a hash of its content (app.css -> app.0123456789ab.css), writes
precompressed variants and a manifest (staticfiles.json: name -> fingerprinted name),
using servestatic's build tool. The web process serves only that output, through
servestatic, with `Cache-Control: immutable` for a year: a changed file gets a new name,
so caches never serve a stale one. Nothing is compiled at run time; a missing build
stops the web process at start with a message saying to run bin/build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastapi import FastAPI
from servestatic import ServeStaticASGI  # type: ignore[import-untyped]
from servestatic.cli import main as servestatic_build  # type: ignore[import-untyped]

PROJECT = Path(__file__).resolve().parents[2]
SOURCE = PROJECT / "static"
BUILD = PROJECT / "build" / "static"
MANIFEST = "staticfiles.json"
PREFIX = "/static/"


class AssetsNotBuilt(RuntimeError):
    """The build step has not run (or its output is damaged)."""


def build(source: Path = SOURCE, target: Path = BUILD) -> dict[str, str]:
    """Fingerprint and compress `source` into `target`; returns the manifest."""
    flags = ["--hash", "--manifest", "--compress", "--clear", "--quiet"]
    status: int = servestatic_build([*flags, str(source), str(target)])
    if status != 0:
        raise AssetsNotBuilt(f"building {source} failed")
    return load_manifest(target)


def load_manifest(target: Path = BUILD) -> dict[str, str]:
    """Source name -> fingerprinted name, from the build output."""
    try:
        paths = json.loads((target / MANIFEST).read_text(encoding="utf-8"))["paths"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AssetsNotBuilt(
            f"static assets are not built ({target / MANIFEST}: {type(error).__name__}); "
            "run bin/build"
        ) from None
    if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
        raise AssetsNotBuilt(f"{target / MANIFEST} is damaged; run bin/build")
    return paths


def install(app: FastAPI, target: Path = BUILD) -> None:
    """Serve the built assets under /static/; fails when unbuilt. Pages find an asset's
    URL in `app.state.assets` (source name -> fingerprinted URL)."""
    manifest = load_manifest(target)
    app.state.assets = {name: PREFIX + hashed for name, hashed in manifest.items()}
    # Only the fingerprinted names are served as immutable (servestatic's default test);
    # the manifest itself gets a short max-age.
    app.add_middleware(ServeStaticASGI, root=target, prefix=PREFIX)


def main(argv: list[str]) -> int:
    if argv != ["build"]:
        print("usage: python -m <package>.assets build", file=sys.stderr)
        return 2
    manifest = build()
    print(f"built {len(manifest)} static files into {BUILD}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
