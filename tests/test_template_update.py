"""`bin/update --pull-request`: the scheduled CI job's one template-update request.

A project made from release v1 of a throwaway template repository (test_update's
releases) pushes to a local bare remote; a small HTTP server in this test stands in for
GitHub's REST API or GitLab's v4 API (it records every request and keeps the pull or
merge requests it was asked to open). The project's bin/update then runs as the workflow
runs it, with the CI variables set: on the newest release it proposes nothing; after
release v2 (a new question) it pushes the branch template-update and opens one request
listing the new question and the (red) test outcome; after v3, which edits a line the team
edited, it refreshes the same request, which now lists the conflicted file; once a person
has pushed a resolution to the branch, a run leaves the branch and the request alone.
Nothing reaches GitHub or GitLab.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from updates import (  # the same throwaway template, releases and isolation
    ANSWERS_FILE,
    TEAM_NOTES_EDIT,
    answers,
    bin_update,
    commit_all,
    edit,
    generate,
    git,
    no_home,
    release_v1,
    release_v2,
    release_v3,
)

pytestmark = pytest.mark.xdist_group("update")
__all__ = ["no_home"]  # an autouse fixture: imported to apply here too

TOKEN = "token-for-the-stand-in"  # not a secret: the stand-in checks it
TESTS = "cat docs/support.md; exit 3"  # shows the tests ran on the update, and failed


@dataclass
class FakeHost:
    """Records the API calls; keeps the open requests as GitHub or GitLab would."""

    kind: str
    calls: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    requests: dict[int, dict[str, Any]] = field(default_factory=dict)

    def handle(self, method: str, url: str, headers: Any, body: Any) -> tuple[int, Any]:
        self.calls.append((method, url, body))
        token = headers.get("Authorization") if self.kind == "github" else None
        token = token or headers.get("PRIVATE-TOKEN")
        if token not in (f"Bearer {TOKEN}", TOKEN):
            return 401, {"message": "Bad credentials"}
        path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
        collection = (
            "/api/v3/repos/org/demo/pulls"
            if self.kind == "github"
            else "/api/v4/projects/org%2Fdemo/merge_requests"
        )
        if path == collection and method == "GET":
            return 200, [r for r in self.requests.values() if self.matches(r, query)]
        if path == collection and method == "POST":
            number = len(self.requests) + 1
            self.requests[number] = {**body, "number": number, "iid": number, "state": "open"}
            self.requests[number]["html_url"] = self.requests[number]["web_url"] = f"/{number}"
            return 201, self.requests[number]
        number = int(path.rsplit("/", 1)[-1]) if path.startswith(collection + "/") else 0
        if number in self.requests and method == ("PATCH" if self.kind == "github" else "PUT"):
            self.requests[number].update(body)
            return 200, self.requests[number]
        return 404, {"message": "Not Found"}

    def matches(self, request: dict[str, Any], query: dict[str, list[str]]) -> bool:
        if self.kind == "github":
            return query == {"state": ["open"], "head": [f"org:{request['head']}"]}
        return query == {"state": ["opened"], "source_branch": [request["source_branch"]]}

    def created(self) -> list[dict[str, Any]]:
        return [body or {} for method, _, body in self.calls if method == "POST"]

    def text(self, request: dict[str, Any]) -> str:
        return str(request.get("body") or request.get("description"))


@pytest.fixture
def serve() -> Iterator[Any]:
    servers = []

    def start(host: FakeHost) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, answer = host.handle(self.command, self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def ci_variables(monkeypatch: pytest.MonkeyPatch, kind: str, api: str) -> None:
    """What the GitHub workflow or the GitLab job has in its environment."""
    for name in ("GITHUB_ACTIONS", "GITHUB_REF_NAME", "GITLAB_CI", "CI_COMMIT_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    if kind == "github":
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_API_URL", f"{api}/api/v3")
        monkeypatch.setenv("GITHUB_REPOSITORY", "org/demo")
        monkeypatch.setenv("GITHUB_REF_NAME", "main")
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    else:
        monkeypatch.setenv("GITLAB_CI", "true")
        monkeypatch.setenv("CI_API_V4_URL", f"{api}/api/v4")
        monkeypatch.setenv("CI_PROJECT_ID", "org/demo")
        monkeypatch.setenv("CI_COMMIT_BRANCH", "main")
        monkeypatch.setenv("TEMPLATE_UPDATE_TOKEN", TOKEN)


def remote_file(remote: Path, path: str) -> str:
    return git(remote, "show", f"template-update:{path}")


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_scheduled_update_opens_one_request_and_refreshes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Any, kind: str
) -> None:
    repo = release_v1(tmp_path)
    project = generate("copier", repo, tmp_path, "v1")
    edit(project / "NOTES.md", "Paragraph 4.\n", TEAM_NOTES_EDIT)  # v3 edits this line too
    commit_all(project, "Team edit")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(project, "remote", "add", "origin", str(remote))
    git(project, "push", "-q", "origin", "main")
    host = FakeHost(kind)
    ci_variables(monkeypatch, kind, serve(host))

    current = bin_update(project, "--pull-request", "--test-command", TESTS)
    assert current.returncode == 0, current.stdout + current.stderr
    assert "on the newest template release (v1)" in current.stdout
    assert host.calls == []
    assert "template-update" not in git(remote, "branch", "--list")

    release_v2(repo)  # a new question (support_url), a moved file
    opened = bin_update(project, "--pull-request", "--test-command", TESTS)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    [request] = host.created()
    assert request.get("head", request.get("source_branch")) == "template-update"
    assert request.get("base", request.get("target_branch")) == "main"
    assert request["title"] == "Template update: v1 -> v2"
    body = host.text(request)
    assert "- `support_url`: `https://support.example.invalid/`" in body
    assert "None: the release merged cleanly." in body
    assert f"`{TESTS}`: **failed** (exit status 3)." in body
    assert "Support: https://support.example.invalid/" in body  # the run saw the update
    assert "_commit: v2" in remote_file(remote, ANSWERS_FILE)
    assert TEAM_NOTES_EDIT in remote_file(remote, "docs/NOTES.md")
    # The checkout is back on main as it was: the update lives on the pushed branch only.
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert answers(project)["_commit"] == "v1"
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""

    release_v3(repo)  # edits the paragraph the team edited
    refreshed = bin_update(project, "--pull-request", "--test-command", TESTS)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert len(host.created()) == 1, "a second request instead of refreshing the first"
    assert len(host.requests) == 1
    [(_, url, change)] = [call for call in host.calls if call[0] in ("PATCH", "PUT")]
    assert url.endswith("/1")
    assert change is not None
    title = change["title"]
    assert title.endswith("Template update: v1 -> v3 (conflicts to resolve)")
    assert title.startswith("Draft: ") == (kind == "gitlab")  # GitLab will not merge a draft
    body = host.text(change)
    assert "- `docs/NOTES.md`\n" in body.split("### New questions")[0]
    assert "- `support_url`: `https://support.example.invalid/`" in body
    assert f"`{TESTS}`: not run, the update conflicts." in body
    notes = remote_file(remote, "docs/NOTES.md")
    assert "<<<<<<< before updating" in notes and TEAM_NOTES_EDIT in notes
    assert "_commit: v3" in remote_file(remote, ANSWERS_FILE)

    # A person resolves the conflict on the branch: later runs leave it and its request be.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "template-update", str(remote), str(clone))
    (clone / "docs" / "NOTES.md").write_text("Resolved by hand.\n")
    commit_all(clone, "Resolve the notes")
    git(clone, "push", "-q", "origin", "template-update")
    resolved = git(remote, "rev-parse", "template-update")
    calls = len(host.calls)
    kept = bin_update(project, "--pull-request", "--test-command", TESTS)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "has commits of yours (Resolve the notes)" in kept.stdout
    assert git(remote, "rev-parse", "template-update") == resolved
    assert len(host.calls) == calls


def test_a_missing_token_stops_before_anything_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Any
) -> None:
    repo = release_v1(tmp_path)
    project = generate("copier", repo, tmp_path, "v1")
    host = FakeHost("gitlab")
    ci_variables(monkeypatch, "gitlab", serve(host))
    monkeypatch.delenv("TEMPLATE_UPDATE_TOKEN")
    release_v2(repo)
    result = bin_update(project, "--pull-request")
    assert result.returncode == 1
    assert "set TEMPLATE_UPDATE_TOKEN" in result.stderr
    assert host.calls == []
    assert git(project, "status", "--porcelain") == ""
    assert answers(project)["_commit"] == "v1"
