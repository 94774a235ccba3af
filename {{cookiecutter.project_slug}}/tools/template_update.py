# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Propose the template's newest release as one pull request (GitHub) or merge request
(GitLab): `bin/update --pull-request`, run by the scheduled template-update CI job.

Steps, from a clean checkout of the base branch:

1. `bin/update --defaults` on the branch `template-update` (reset to the base each run):
   every answer kept, new questions take their default (copier merges, bin/update
   re-locks and names conflicts).
2. The result is committed as it is, conflict markers and *.rej files included, so a
   person resolves them on the branch; the request lists those files.
3. Without conflicts, the project's tests run (`bin/setup && bin/python -m pytest`);
   their outcome goes in the request's body. A red run still opens the request.
4. The branch is force-pushed and the one open request from it is created or, when it
   exists, its title and body are refreshed: never a second request, never a merge.
   When a person has pushed commits to the branch (resolving conflicts), the run leaves
   the branch and its request alone.

The request's body also lists the release's new questions: the answers the update added
to .copier-answers.yml, which took their defaults.

Nothing here trusts a hosted bot: the job's own token talks to the hosting API through
`Host` (GitHub's REST API or GitLab's v4 API, with urllib). This module uses only the
standard library, so the system python3 runs it before the virtualenv exists. It lives in
tools/, outside the service's package and admin tasks: it is project tooling, not part of
the service (and reads CI variables, which the service's settings never see).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
ANSWERS_FILE = ".copier-answers.yml"
BRANCH = "template-update"
TEST_COMMAND = "bin/setup && bin/python -m pytest"
MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")  # copier's, and migrate's
OUTPUT_LINES = 60  # of the test run, in the body
BODY_MARK = "<!-- template-update: written by bin/update --pull-request; rewritten each run -->"
GIT = shutil.which("git") or "git"
SUBJECT = "Update to the template's"  # this job's commits; a person's are never overwritten


class Failure(Exception):
    """A step that stops the run; its message is printed without a traceback."""


# --- git and the update ------------------------------------------------------------------


def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """A program (never a shell) in the project's root; the caller reads its status."""
    return subprocess.run(command, cwd=ROOT, text=True, check=False, **options)  # noqa: S603


def git(*args: str) -> str:
    result = run([GIT, *args], capture_output=True)
    if result.returncode != 0:
        raise Failure(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def read_answers(text: str) -> dict[str, str]:
    """The top-level `key: value` lines of the answers file, values as written.

    copier writes one line per answer (YAML, but flat), so no YAML parser is needed to
    tell which answers exist and what they say.
    """
    answers = {}
    for line in text.splitlines():
        if line[:1].isalpha() or line.startswith("_"):
            key, colon, value = line.partition(":")
            if colon and key.replace("_", "a").isalnum():
                answers[key] = value.strip()
    return answers


def answers_at_head() -> dict[str, str]:
    path = ROOT / ANSWERS_FILE
    return read_answers(path.read_text(encoding="utf-8")) if path.is_file() else {}


def new_questions(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    """Answers the update added: questions of the release the project never answered."""
    return {
        key: value for key, value in after.items() if key not in before and not key.startswith("_")
    }


def conflicted_files() -> list[str]:
    """Files with copier's conflict markers, and *.rej files, as bin/update finds them."""
    patterns = [arg for marker in MARKERS for arg in ("-e", f"^{marker}")]
    grep = run([GIT, "grep", "-I", "-l", "--untracked", *patterns], capture_output=True)
    found = set(grep.stdout.split("\n")) - {""}
    for path in ROOT.rglob("*.rej"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in {".git", ".venv"}:
            found.add(rel.as_posix())
    return sorted(found)


@dataclass(frozen=True)
class TestRun:
    command: str
    returncode: int | None  # None: not run
    output: str = ""


def run_tests(command: str) -> TestRun:
    """The project's tests on the updated tree; output echoed to the job's log too."""
    print(f"template-update: running {command}", flush=True)
    # A shell: the command is the project's own line (its CI file's), never outside input.
    result = subprocess.run(  # noqa: S602
        command,
        shell=True,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    print(result.stdout, flush=True)
    return TestRun(command, result.returncode, result.stdout)


# --- the request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Update:
    """What one run found: the versions, the conflicts, the new questions, the tests."""

    before: str
    after: str
    conflicts: list[str]
    questions: dict[str, str]
    tests: TestRun
    extra: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        title = f"Template update: {self.before} -> {self.after}"
        return f"{title} (conflicts to resolve)" if self.conflicts else title

    @property
    def body(self) -> str:
        command = " ".join(["bin/update --defaults", *self.extra])
        lines = [
            BODY_MARK,
            f"Takes the template's release **{self.after}** (this project is on "
            f"**{self.before}**): `{command}` on a fresh branch. Read the template's "
            "CHANGELOG for what the release asks of you. This request is never merged "
            "automatically: review it, then merge it yourself.",
            "",
            "### Conflicts",
            "",
        ]
        if self.conflicts:
            lines += [
                "The release changes lines the team changed too. These files are committed "
                "with the conflict markers (or a `*.rej` file holding the change that did "
                "not apply): resolve each on this branch, then commit.",
                "",
                *[f"- `{path}`" for path in self.conflicts],
            ]
        else:
            lines.append("None: the release merged cleanly.")
        lines += ["", "### New questions", ""]
        if self.questions:
            lines += [
                "The release asks questions this project never answered; they took their "
                "defaults. To answer one differently, check this branch out and run "
                "`bin/update --defaults -d NAME=VALUE`, then commit.",
                "",
                *[f"- `{name}`: `{value}`" for name, value in self.questions.items()],
            ]
        else:
            lines.append("None.")
        lines += ["", "### Tests", "", self.test_verdict()]
        if self.tests.output:
            tail = self.tests.output.rstrip().splitlines()[-OUTPUT_LINES:]
            lines += [
                "",
                "<details><summary>The last lines of the test run</summary>",
                "",
                "~~~text",
                *[line[:300].replace("~~~", "~ ~ ~") for line in tail],
                "~~~",
                "</details>",
            ]
        return "\n".join(lines) + "\n"

    def test_verdict(self) -> str:
        run = self.tests
        if run.returncode is None:
            return f"`{run.command}`: not run, the update conflicts."
        if run.returncode == 0:
            return f"`{run.command}`: passed."
        return f"`{run.command}`: **failed** (exit status {run.returncode})."


@dataclass(frozen=True)
class Request:
    number: int
    url: str


class Host(Protocol):
    """The hosting service's API: the one open request from a branch, created or edited."""

    def find(self, branch: str) -> Request | None: ...

    def create(self, branch: str, base: str, update: Update) -> Request: ...

    def refresh(self, request: Request, update: Update) -> Request: ...


def call(method: str, url: str, headers: Mapping[str, str], payload: Any = None) -> Any:
    """One JSON request; an HTTP error stops the run naming the status, never the token."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 # http(s) from CI
    for name, value in {**headers, "Content-Type": "application/json"}.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode(errors="replace")
        raise Failure(f"{method} {url.split('?')[0]}: HTTP {error.code} {detail}") from None
    except urllib.error.URLError as error:
        raise Failure(f"{method} {url.split('?')[0]}: {error.reason}") from None


def required(env: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise Failure(f"set {', '.join(missing)} (the CI job's variables; see docs/guide.md)")
    return [env[name] for name in names]


class GitHub:
    """GitHub's REST API with the workflow's GITHUB_TOKEN (pull-requests: write)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.token, self.repository = required(env, "GITHUB_TOKEN", "GITHUB_REPOSITORY")
        api = env.get("GITHUB_API_URL") or "https://api.github.com"
        self.pulls = f"{api.rstrip('/')}/repos/{self.repository}/pulls"

    def _call(self, method: str, url: str, payload: Any = None) -> Any:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "template-update",
        }
        return call(method, url, headers, payload)

    def find(self, branch: str) -> Request | None:
        owner = self.repository.split("/")[0]
        query = urllib.parse.urlencode({"state": "open", "head": f"{owner}:{branch}"})
        pulls = self._call("GET", f"{self.pulls}?{query}")
        return Request(pulls[0]["number"], pulls[0]["html_url"]) if pulls else None

    def create(self, branch: str, base: str, update: Update) -> Request:
        payload = {"title": update.title, "body": update.body, "head": branch, "base": base}
        pull = self._call("POST", self.pulls, payload)
        return Request(pull["number"], pull["html_url"])

    def refresh(self, request: Request, update: Update) -> Request:
        payload = {"title": update.title, "body": update.body}
        pull = self._call("PATCH", f"{self.pulls}/{request.number}", payload)
        return Request(pull["number"], pull["html_url"])


class GitLab:
    """GitLab's v4 API with a project access token (scope `api`) in TEMPLATE_UPDATE_TOKEN:
    CI_JOB_TOKEN cannot create merge requests. With conflicts the title starts with
    "Draft:", which GitLab refuses to merge."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.token, api, project = required(
            env, "TEMPLATE_UPDATE_TOKEN", "CI_API_V4_URL", "CI_PROJECT_ID"
        )
        project = urllib.parse.quote(project, safe="")
        self.requests = f"{api.rstrip('/')}/projects/{project}/merge_requests"

    def _call(self, method: str, url: str, payload: Any = None) -> Any:
        return call(method, url, {"PRIVATE-TOKEN": self.token}, payload)

    @staticmethod
    def _title(update: Update) -> str:
        return f"Draft: {update.title}" if update.conflicts else update.title

    def find(self, branch: str) -> Request | None:
        query = urllib.parse.urlencode({"state": "opened", "source_branch": branch})
        found = self._call("GET", f"{self.requests}?{query}")
        return Request(found[0]["iid"], found[0]["web_url"]) if found else None

    def create(self, branch: str, base: str, update: Update) -> Request:
        payload = {
            "source_branch": branch,
            "target_branch": base,
            "title": self._title(update),
            "description": update.body,
            "remove_source_branch": True,
        }
        made = self._call("POST", self.requests, payload)
        return Request(made["iid"], made["web_url"])

    def refresh(self, request: Request, update: Update) -> Request:
        payload = {"title": self._title(update), "description": update.body}
        made = self._call("PUT", f"{self.requests}/{request.number}", payload)
        return Request(made["iid"], made["web_url"])


HOSTS: dict[str, Callable[[Mapping[str, str]], Host]] = {"github": GitHub, "gitlab": GitLab}


def detect_host(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    if env.get("GITLAB_CI") == "true":
        return "gitlab"
    raise Failure("not in GitHub Actions or GitLab CI: pass --host github or --host gitlab")


def base_branch(env: Mapping[str, str]) -> str:
    """The branch the CI job checked out (a detached HEAD on GitLab), else git's."""
    for name in ("GITHUB_REF_NAME", "CI_COMMIT_BRANCH"):
        if env.get(name):
            return env[name]
    branch = git("rev-parse", "--abbrev-ref", "HEAD").strip()
    if branch == "HEAD":
        raise Failure("HEAD is detached: pass --base BRANCH")
    return branch


# --- the run -----------------------------------------------------------------------------


def commit(message: str) -> None:
    """Everything, markers included; --no-verify: the hooks refuse conflict markers."""
    identity = []
    if not (os.environ.get("GIT_COMMITTER_EMAIL") or git_config("user.email")):
        identity = ["-c", "user.name=template-update", "-c", "user.email=template-update@localhost"]
    git("add", "-A")
    git(*identity, "commit", "-q", "--no-verify", "-m", message)


def git_config(name: str) -> str:
    return run([GIT, "config", name], capture_output=True).stdout.strip()


def commits_of_people(remote: str, branch: str) -> list[str]:
    """Subjects of the commits a person added to the request's branch (resolving its
    conflicts, say): a run must not force-push over them. None when the branch is gone
    (merged and deleted) or holds only this job's commit."""
    fetched = run([GIT, "fetch", "-q", remote, f"refs/heads/{branch}"], capture_output=True)
    if fetched.returncode != 0:
        return []
    subjects = git("log", "--format=%s", "HEAD..FETCH_HEAD").splitlines()
    return [subject for subject in subjects if not subject.startswith(SUBJECT)]


def propose(args: argparse.Namespace, extra: list[str], env: Mapping[str, str]) -> int:
    host = HOSTS[args.host or detect_host(env)](env)
    base = args.base or base_branch(env)
    if git("status", "--porcelain"):
        raise Failure("the work tree is not clean: run this from a fresh checkout")
    before = answers_at_head()
    git("checkout", "-q", "-B", args.branch)
    try:
        return _propose(host, base, args, extra, before)
    finally:  # back to where the run started; the request's branch is pushed
        git("reset", "-q", "--hard")
        git("checkout", "-q", "-")


def _propose(
    host: Host, base: str, args: argparse.Namespace, extra: list[str], before: dict[str, str]
) -> int:
    theirs = commits_of_people(args.remote, args.branch)
    if theirs:
        print(
            f"template-update: {args.branch} has commits of yours ({'; '.join(theirs)}): "
            "left as it is. Merge or close its request; the next run starts afresh."
        )
        return 0
    updated = run([str(ROOT / "bin" / "update"), "--defaults", *extra])
    conflicts = conflicted_files()
    if updated.returncode != 0 and not conflicts:
        raise Failure(f"bin/update failed (exit status {updated.returncode}): see above")
    if not git("status", "--porcelain"):
        print(f"template-update: on the newest template release ({before.get('_commit')})")
        return 0
    after = answers_at_head()
    questions = new_questions(before, after)
    commit(f"{SUBJECT} {after.get('_commit')}")
    tests = TestRun(args.test_command, None) if conflicts else run_tests(args.test_command)
    update = Update(
        str(before.get("_commit")), str(after.get("_commit")), conflicts, questions, tests, extra
    )
    git("push", "-q", "--force", args.remote, f"HEAD:refs/heads/{args.branch}")
    existing = host.find(args.branch)
    if existing:
        request = host.refresh(existing, update)
        print(f"template-update: refreshed {request.url}")
    else:
        request = host.create(args.branch, base, update)
        print(f"template-update: opened {request.url}")
    return 0


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="bin/update --pull-request",
        description="Open or refresh one request that takes the template's newest release; "
        "other options go to bin/update (copier update).",
    )
    parse.add_argument("--host", choices=sorted(HOSTS), help="default: from the CI variables")
    parse.add_argument("--base", help="the branch the request targets (default: the CI's)")
    parse.add_argument("--branch", default=BRANCH, help=f"the request's branch ({BRANCH})")
    parse.add_argument("--remote", default="origin", help="the git remote to push to (origin)")
    parse.add_argument(
        "--test-command", default=TEST_COMMAND, help=f"run on the result ({TEST_COMMAND})"
    )
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    try:
        return propose(args, extra, os.environ)
    except Failure as error:
        print(f"bin/update --pull-request: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
