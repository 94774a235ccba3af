# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The project checked against the twelve factors: `bin/admin twelve_factor [--live]`.

Each factor is one small check over the project's files as they stand (Python read with
`ast`, never imported; the Procfile, Dockerfile and platform manifests read as text or
YAML-free JSON). A check returns its evidence or raises `Failed` with every problem it
found. `--live` adds the checks that need running processes: IX boots the web process to
/healthz and expects a clean exit on SIGTERM; VI starts two web processes and expects a
session made on one to be read on the other through the configured store.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

BOOT_TIMEOUT = 60.0  # seconds for the web process to answer /healthz (Heroku allows 60)
EXIT_TIMEOUT = 30.0  # seconds platforms commonly allow between SIGTERM and SIGKILL
ENV_READERS = frozenset({"environ", "environb", "getenv", "getenvb"})
LOG_ROUTERS = frozenset(
    {
        "FileHandler",
        "RotatingFileHandler",
        "TimedRotatingFileHandler",
        "WatchedFileHandler",
        "SysLogHandler",
        "SocketHandler",
        "DatagramHandler",
        "HTTPHandler",
        "SMTPHandler",
        "NTEventLogHandler",
    }
)
FILE_WRITERS = frozenset({"write_text", "write_bytes"})
SERVICE_URL = re.compile(r"(postgres(ql)?|redis|rediss|memcached|mysql|amqp|mongodb)(\+\w+)?://\w")
LITERAL_BIND = re.compile(r"(0\.0\.0\.0|\[::\]|127\.0\.0\.1|localhost)?:\d{2,5}")
LAUNCHERS = ("bin/python", "bin/admin")  # bin/admin execs bin/python


class Failed(Exception):
    """A factor does not hold; the message lists every problem found."""


@dataclass(frozen=True)
class Verdict:
    factor: str
    title: str
    ok: bool
    evidence: str

    def line(self) -> str:
        return (
            f"{self.factor:>4}  {self.title:<20} {'ok' if self.ok else 'FAIL':<4}  {self.evidence}"
        )


def fail_on(problems: list[str]) -> None:
    if problems:
        raise Failed("; ".join(problems))


def rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


class Project:
    """The files of a project folder, read once each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def text(self, name: str) -> str:
        try:
            return (self.root / name).read_text(encoding="utf-8")
        except OSError:
            raise Failed(f"{name} is missing") from None

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    @cached_property
    def packages(self) -> list[str]:
        return sorted(path.parent.name for path in (self.root / "src").glob("*/__init__.py"))

    @cached_property
    def package(self) -> str:
        """The package pyproject.toml names, else the only one in src/."""
        name = tomllib.loads(self.text("pyproject.toml")).get("project", {}).get("name", "")
        if name.replace("-", "_") in self.packages:
            return str(name.replace("-", "_"))
        if len(self.packages) == 1:
            return self.packages[0]
        raise Failed(f"src/ holds no package named by pyproject.toml, but {self.packages}")

    @cached_property
    def procfile(self) -> dict[str, str]:
        processes = {}
        for line in self.text("Procfile").splitlines():
            name, colon, command = line.partition(":")
            if colon and name.strip() and not name.startswith("#"):
                processes[name.strip()] = command.strip()
        return processes

    def python_files(self, *folders: str) -> list[Path]:
        """The Python files under `folders`, except this checker: it reads the environment
        for the processes it starts, and names the log handlers it looks for."""
        checker = self.root / "src" / self.package / Path(__file__).name
        return sorted(
            path
            for folder in folders
            for path in (self.root / folder).rglob("*.py")
            if "__pycache__" not in path.parts and path != checker
        )

    def tree(self, path: Path) -> ast.Module:
        try:
            return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, ValueError) as error:
            raise Failed(f"{rel(path, self.root)} cannot be parsed: {error}") from None

    def module(self, dotted: str) -> Path | None:
        """The file of a module of the project's package, or None when it is not one."""
        parts = dotted.split(".")
        if parts[0] != self.package:
            return None
        base = self.root / "src" / Path(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    @cached_property
    def settings_classes(self) -> dict[Path, list[ast.ClassDef]]:
        """Module -> its classes that are pydantic BaseSettings, directly or through another
        settings class of the package (so a settings base class in its own module counts)."""
        classes = [
            (path, node)
            for path in self.python_files(f"src/{self.package}")
            for node in ast.walk(self.tree(path))
            if isinstance(node, ast.ClassDef)
        ]
        names, found = {"BaseSettings"}, dict[Path, list[ast.ClassDef]]()
        while True:
            new = [
                (path, node)
                for path, node in classes
                if node.name not in names and {names_used(b) for b in node.bases} & names
            ]
            if not new:
                break
            for path, node in new:
                names.add(node.name)
                found.setdefault(path, []).append(node)
        if not found:
            raise Failed(f"no module of src/{self.package} defines a BaseSettings class")
        return found

    @cached_property
    def settings(self) -> dict[str, ast.AnnAssign]:
        """Environment variable name -> the field's declaration in a settings class."""
        return {
            node.target.id.upper(): node
            for classes in self.settings_classes.values()
            for cls in classes
            for node in cls.body
            if isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id != "model_config"
        }

    def entry_module(self, process: str) -> str:
        """The module a Procfile process runs with `-m`."""
        command = self.procfile.get(process, "")
        match = re.search(r"-m\s+([\w.]+)", command)
        if match is None:
            raise Failed(f"the Procfile's {process} process runs no module (-m package.module)")
        return match.group(1)

    def reachable(self, dotted: str) -> list[Path]:
        """The project's modules a process imports, directly or not, from its entry module."""
        seen: dict[Path, None] = {}
        pending = [dotted]
        while pending:
            path = self.module(pending.pop())
            if path is None or path in seen:
                continue
            seen[path] = None
            package = ".".join(path.relative_to(self.root / "src").with_suffix("").parts)
            if path.name != "__init__.py":
                package = package.rpartition(".")[0]
            pending += imported_modules(self.tree(path), package)
        return list(seen)


def imported_modules(tree: ast.Module, package: str) -> Iterator[str]:
    """Absolute names of the modules `tree` imports (relative ones resolved in `package`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def where(project: Project, path: Path, node: ast.AST) -> str:
    return f"{rel(path, project.root)}:{getattr(node, 'lineno', '?')}"


def names_used(node: ast.AST) -> str | None:
    """The attribute or name a node refers to (`os.environ` -> environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603


# --- the factors ---------------------------------------------------------------------------


def codebase(project: Project) -> str:
    """I: one codebase, in revision control, holding one deployable package."""
    problems = []
    package = project.package
    if project.packages != [package]:
        problems.append(f"src/ holds {', '.join(project.packages)}: one codebase, one package")
    name = tomllib.loads(project.text("pyproject.toml")).get("project", {}).get("name", "")
    if name.replace("-", "_") != package:
        problems.append(f"pyproject.toml names {name!r}, src/ holds {package!r}")
    git = shutil.which("git")
    if git is None:
        problems.append("git is not installed, so revision control cannot be checked")
    elif run([git, "ls-files", "--error-unmatch", "pyproject.toml"], project.root).returncode:
        problems.append("the project is not tracked in a git repository")
    fail_on(problems)
    return f"src/{package} is the one package, tracked in git"


def dependencies(project: Project) -> str:
    """II: dependencies declared and locked; every process runs in the locked environment."""
    problems = []
    # bin/setup installs the locked uv into the virtualenv, beside this interpreter.
    beside = Path(sys.executable).with_name("uv")
    uv = str(beside) if beside.is_file() else shutil.which("uv")
    if uv is None:
        problems.append("uv is not installed, so uv.lock cannot be checked")
    else:
        locked = run([uv, "lock", "--check", "--offline", "--quiet"], project.root)
        if locked.returncode:
            why = (locked.stderr.strip().splitlines() or ["uv lock --check failed"])[0]
            problems.append(f"uv.lock does not match pyproject.toml (run uv lock): {why}")
    outside = [p for p, cmd in project.procfile.items() if not cmd.startswith(LAUNCHERS)]
    if outside:
        problems.append(f"Procfile {', '.join(outside)} not run through bin/python")
    if "bin/python" not in project.text("bin/admin"):
        problems.append("bin/admin does not run through bin/python")
    fail_on(problems)
    return f"uv.lock matches pyproject.toml; Procfile {', '.join(project.procfile)} via bin/python"


def environment_reads(project: Project, path: Path) -> Iterator[str]:
    for node in ast.walk(project.tree(path)):
        if isinstance(node, ast.Attribute) and node.attr in ENV_READERS:
            yield f"{where(project, path, node)} os.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "dotenv"):
            read = {a.name for a in node.names} & ENV_READERS if node.module == "os" else {"*"}
            if read:
                yield f"{where(project, path, node)} imports {node.module}.{'/'.join(read)}"


def config(project: Project) -> str:
    """III: config in the environment, read in one place, every variable documented."""
    settings_modules = set(project.settings_classes)
    scanned = [
        path
        for path in project.python_files("src", "admin", "migrations")
        if path not in settings_modules
    ]
    problems = [
        f"{read} outside the settings" for p in scanned for read in environment_reads(project, p)
    ]
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", project.text(".env.example"), re.M))
    declared = set(project.settings)
    if declared - documented:
        problems.append(f".env.example lacks {', '.join(sorted(declared - documented))}")
    if documented - declared:
        problems.append(f".env.example lists unknown {', '.join(sorted(documented - declared))}")
    fail_on(problems)
    readers = ", ".join(sorted(rel(path, project.root) for path in settings_modules))
    return (
        f"environment read only by {readers} ({len(scanned)} other modules scanned); "
        f".env.example = the {len(declared)} settings"
    )


def string_constants(project: Project, paths: list[Path]) -> Iterator[tuple[str, str]]:
    """(file:line, value) of every string literal in `paths`."""
    for path in paths:
        for node in ast.walk(project.tree(path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield where(project, path, node), node.value


def has_default(field: ast.AnnAssign) -> bool:
    """Whether a settings field has a value in the code (`= x` or `= Field(x)`)."""
    value = field.value
    if isinstance(value, ast.Call) and names_used(value.func) == "Field":
        defaults = {"default", "default_factory"}
        return bool(value.args) or any(k.arg in defaults for k in value.keywords)
    return value is not None


def backing_services(project: Project) -> str:
    """IV: backing services are attached resources, named by URL settings."""
    urls = sorted(name for name in project.settings if name.endswith("_URL"))
    problems = [] if urls else ["no *_URL setting attaches a backing service"]
    problems += [
        f"{name} has a default in the code" for name in urls if has_default(project.settings[name])
    ]
    code = project.python_files("src", "admin", "migrations")
    problems += [
        f"{place} hard-codes {value.split('://')[0]}://"
        for place, value in string_constants(project, code)
        if SERVICE_URL.match(value)
    ]
    fail_on(problems)
    return f"attached by URL: {', '.join(urls)}; no service address in the code"


def build_release_run(project: Project) -> str:
    """V: assets built at build time, migrations run only by the release step."""
    problems = []
    release = project.procfile.get("release", "")
    if "migrate" not in release:
        problems.append("the Procfile has no release process running the migrations")
    problems += [
        f"Procfile {name} runs migrations"
        for name, command in project.procfile.items()
        if name != "release" and "migrate" in command
    ]
    if not re.search(r"^RUN\b.*\bbin/build\b", project.text("Dockerfile"), re.M):
        problems.append("the Dockerfile does not RUN bin/build")
    if project.exists("bin/post_compile") and "build" not in project.text("bin/post_compile"):
        problems.append("bin/post_compile (Heroku's build hook) does not run bin/build")
    for process in project.procfile:
        if process == "release" or "-m" not in project.procfile[process]:
            continue
        for path in project.reachable(project.entry_module(process)):
            tree = project.tree(path)
            package = project.package
            if any(m.split(".")[0] == "alembic" for m in imported_modules(tree, package)):
                problems.append(
                    f"the {process} process imports migrations ({rel(path, project.root)})"
                )
    fail_on(problems)
    return f"bin/build in the Dockerfile and build hook; migrations only in release: {release}"


def build_module(project: Project) -> Path | None:
    """The module bin/build runs; its writes happen at build time."""
    match = (
        re.search(r"-m\s+([\w.]+)", project.text("bin/build"))
        if project.exists("bin/build")
        else None
    )
    return project.module(match.group(1)) if match else None


def disk_writes(project: Project, path: Path) -> Iterator[str]:
    for node in ast.walk(project.tree(path)):
        if not isinstance(node, ast.Call):
            continue
        name = names_used(node.func)
        if name in FILE_WRITERS or name in ("shelve", "dbm"):
            yield f"{where(project, path, node)} {name}()"
        elif name == "open" and isinstance(node.func, ast.Name):
            modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
            modes += [
                k.value.value
                for k in node.keywords
                if k.arg == "mode" and isinstance(k.value, ast.Constant)
            ]
            if any(isinstance(m, str) and set(m) & set("wax+") for m in modes):
                yield f"{where(project, path, node)} open({modes[0]!r})"


def processes(project: Project) -> str:
    """VI: stateless processes; sessions live in a backing service."""
    problems = [] if "SESSION_STORE_URL" in project.settings else ["no SESSION_STORE_URL setting"]
    builder = build_module(project)
    modules = [p for p in project.reachable(project.entry_module("web")) if p != builder]
    problems += [f"web writes local files: {w}" for p in modules for w in disk_writes(project, p)]
    fail_on(problems)
    return f"sessions in SESSION_STORE_URL; none of the web's {len(modules)} modules writes to disk"


def settings_attribute_used(project: Project, process: str, attribute: str) -> bool:
    path = project.module(project.entry_module(process))
    tree = project.tree(path) if path else ast.Module(body=[], type_ignores=[])
    return any(isinstance(n, ast.Attribute) and n.attr == attribute for n in ast.walk(tree))


def port_binding(project: Project) -> str:
    """VII: the web process is self-contained and binds the port named by PORT."""
    problems = [] if "PORT" in project.settings else ["no PORT setting"]
    if not settings_attribute_used(project, "web", "port"):
        problems.append(f"{project.entry_module('web')} does not bind settings.port")
    web = project.reachable(project.entry_module("web"))
    problems += [
        f"{place} binds a fixed address {value!r}"
        for place, value in string_constants(project, web)
        if LITERAL_BIND.fullmatch(value)
    ]
    if re.search(r"\b\d{4,5}\b", project.procfile.get("web", "")):
        problems.append("the Procfile's web command names a port number")
    fail_on(problems)
    return f"{project.entry_module('web')} binds PORT (settings.port)"


def declared_processes(project: Project) -> dict[str, set[str]]:
    """Platform -> the long-running process types it declares."""
    declared: dict[str, set[str]] = {}
    if project.exists("app.json"):
        formation = json.loads(project.text("app.json")).get("formation", {})
        declared["app.json formation"] = set(formation)
    kubernetes = project.root / "deploy" / "kubernetes"
    if kubernetes.is_dir():
        for kind in ("Deployment", "HorizontalPodAutoscaler"):
            declared[f"Kubernetes {kind}s"] = {
                match.group(1)
                for path in kubernetes.glob("*.yaml")
                for match in re.finditer(
                    rf"^kind: {kind}\n(?:.*\n)*?  name: \S+?-(\w+)$",
                    path.read_text(encoding="utf-8"),
                    re.M,
                )
            }
    return declared


def runs_as_main(tree: ast.Module) -> bool:
    """Whether a module has an `if __name__ == "__main__":` block (it is a program)."""
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and names_used(node.test.left) == "__name__"
        for node in tree.body
    )


def concurrency(project: Project) -> str:
    """VIII: scale out by process type; web processes sized by WEB_CONCURRENCY."""
    problems = [] if "WEB_CONCURRENCY" in project.settings else ["no WEB_CONCURRENCY setting"]
    if not settings_attribute_used(project, "web", "web_concurrency"):
        problems.append(f"{project.entry_module('web')} does not use settings.web_concurrency")
    types = set(project.procfile) - {"release"}
    entry_points = {project.entry_module(p) for p in types if "-m" in project.procfile[p]}
    tools = {project.module(f"{project.package}.admin"), build_module(project)}
    for path in project.python_files(f"src/{project.package}"):
        module = ".".join(path.relative_to(project.root / "src").with_suffix("").parts)
        if runs_as_main(project.tree(path)) and module not in entry_points and path not in tools:
            problems.append(f"{module} is a process with no Procfile type")
    for platform, declared in declared_processes(project).items():
        if declared != types:
            problems.append(f"{platform} declare {sorted(declared)}, the Procfile {sorted(types)}")
    fail_on(problems)
    platforms = ", ".join(declared_processes(project)) or "the Procfile only"
    return f"process types {', '.join(sorted(types))} declared in {platforms}; WEB_CONCURRENCY"


def exec_form_cmd(dockerfile: str) -> list[str] | None:
    lines = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    try:
        command = json.loads(lines[-1][4:]) if lines else None
    except json.JSONDecodeError:
        return None
    return command if isinstance(command, list) else None


def disposability(project: Project) -> str:
    """IX: processes start fast and stop cleanly on SIGTERM (static part)."""
    problems = []
    command = exec_form_cmd(project.text("Dockerfile"))
    if command is None:
        problems.append("the Dockerfile CMD is not in exec form (a shell would swallow SIGTERM)")
    elif " ".join(command) != project.procfile.get("web"):
        problems.append("the Dockerfile CMD is not the Procfile's web command")
    for script in ("bin/python", "bin/admin"):
        if not re.search(r'^exec "\$', project.text(script), re.M):
            problems.append(f"{script} does not exec its process (signals would stop at the shell)")
    fail_on(problems)
    return "Dockerfile CMD in exec form; bin/python and bin/admin exec the process"


def python_minor(version: str) -> str:
    return ".".join(version.strip().split(".")[:2])


def parity(project: Project) -> str:
    """X: development runs what production runs: one Python, the same backing services."""
    problems = []
    local = python_minor(project.text(".python-version"))
    image = re.search(r"^ARG PYTHON_VERSION=(\S+)", project.text("Dockerfile"), re.M)
    if image is None or python_minor(image.group(1)) != local:
        problems.append(f"the Dockerfile's Python is not .python-version's {local}")
    compose = project.text("compose.yaml") if project.exists("compose.yaml") else ""
    addons = (
        json.loads(project.text("app.json")).get("addons", []) if project.exists("app.json") else []
    )
    for addon in addons:
        kind = str(addon.get("plan", "")).removeprefix("heroku-").split(":")[0].removesuffix("ql")
        if not re.search(rf"^\s+image: {kind}", compose, re.M):
            problems.append(f"production attaches {addon.get('plan')}, compose.yaml runs no {kind}")
    fail_on(problems)
    return f"Python {local} everywhere; compose.yaml runs production's backing services"


def log_routing(project: Project, path: Path) -> Iterator[str]:
    for node in ast.walk(project.tree(path)):
        name = names_used(node) if isinstance(node, ast.Attribute | ast.Name) else None
        if name in LOG_ROUTERS:
            yield f"{where(project, path, node)} {name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.rpartition(".")[2] in LOG_ROUTERS:
                yield f"{where(project, path, node)} {node.value}"
        elif (
            isinstance(node, ast.Call)
            and names_used(node.func) == "basicConfig"
            and any(k.arg in ("filename", "stream") for k in node.keywords)
        ):
            yield f"{where(project, path, node)} basicConfig(filename/stream)"


def logs(project: Project) -> str:
    """XI: logs are an event stream on stdout; the process never routes or stores them."""
    code = project.python_files("src", "admin", "migrations")
    problems = [f"{found} routes logs" for path in code for found in log_routing(project, path)]
    fail_on(problems)
    return f"no file or network log handler in {len(code)} modules; logs go to stdout"


def admin_processes(project: Project) -> str:
    """XII: admin tasks live in admin/, run by bin/admin with the processes' settings."""
    problems = []
    if f"-m {project.package}.admin" not in project.text("bin/admin"):
        problems.append(f"bin/admin does not run {project.package}.admin")
    tasks = [p for p in project.python_files("admin") if not p.name.startswith("_")]
    for path in tasks:
        tree = project.tree(path)
        if not any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            problems.append(f"{rel(path, project.root)} has no main() for bin/admin")
    for path in sorted(project.root.glob("deploy/kubernetes/*.yaml")):
        manifest = path.read_text(encoding="utf-8")
        if not re.search(r"^kind: (Job|CronJob)$", manifest, re.M):
            continue  # one-off and scheduled work only; Deployments run the Procfile (II)
        for command in re.findall(r'command: \["([^"]+)"', manifest):
            if command != "bin/admin":
                problems.append(f"{rel(path, project.root)} runs {command}, not bin/admin")
    fail_on(problems)
    return f"{len(tasks)} tasks in admin/, each run by bin/admin through bin/python"


# --- live checks -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WebProcess:
    """The Procfile's web command on a free port, one worker, with the caller's settings."""

    def __init__(self, project: Project) -> None:
        self.port = free_port()
        env = {**os.environ, "PORT": str(self.port), "WEB_CONCURRENCY": "1"}
        command = [str(project.root / "bin/python"), "-m", project.entry_module("web")]
        self.started = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=project.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self) -> float:
        """Seconds until /healthz answered; Failed when it exits or never answers."""
        while time.monotonic() - self.started < BOOT_TIMEOUT:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode()
                last = (error.strip().splitlines() or ["no output"])[-1]
                raise Failed(f"web exited {self.process.returncode} while booting: {last}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2):  # noqa: S310
                    return time.monotonic() - self.started
            except OSError:
                time.sleep(0.1)
        raise Failed(f"web did not answer /healthz within {BOOT_TIMEOUT:.0f} s")

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM; the exit status (None: killed after the timeout) and seconds taken."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status: int | None = self.process.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            status = None
        if self.process.stderr:
            self.process.stderr.close()
        return status, time.monotonic() - sent


def boot_and_stop(project: Project) -> str:
    """IX live: the web process answers /healthz, then exits 0 soon after SIGTERM."""
    web = WebProcess(project)
    try:
        ready = web.wait_ready()
    finally:
        status, stopping = web.terminate()
    if status != 0:
        raise Failed(f"web exited {status} on SIGTERM (after {stopping:.1f} s), not 0")
    return f"live: /healthz after {ready:.1f} s; exit 0 {stopping:.1f} s after SIGTERM"


def post(url: str, cookie: str | None) -> tuple[dict[str, object], str | None]:
    request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        body: dict[str, object] = json.load(response)
        set_cookie = response.headers.get("Set-Cookie")
    return body, set_cookie.split(";", 1)[0] if set_cookie else cookie


def shared_session(project: Project) -> str:
    """VI live: a session written through one web process is read through another."""
    first, second = WebProcess(project), WebProcess(project)
    try:
        first.wait_ready()
        second.wait_ready()
        _, cookie = post(first.url("/api/visits"), None)
        body, _ = post(second.url("/api/visits"), cookie)
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:200]
        raise Failed(f"live: the session demo request failed: {error} {detail}") from None
    except urllib.error.URLError as error:
        raise Failed(f"live: the session demo request failed: {error}") from None
    finally:
        first.terminate()
        second.terminate()
    if body.get("visits") != 2:  # the first request counted 1
        raise Failed(f"live: the second process did not see the first's session ({body})")
    return "live: two web processes shared a session through SESSION_STORE_URL"


# --- the table and the report ------------------------------------------------------------------

Check = Callable[[Project], str]
FACTORS: list[tuple[str, str, Check, Check | None]] = [
    ("I", "Codebase", codebase, None),
    ("II", "Dependencies", dependencies, None),
    ("III", "Config", config, None),
    ("IV", "Backing services", backing_services, None),
    ("V", "Build, release, run", build_release_run, None),
    ("VI", "Processes", processes, shared_session),
    ("VII", "Port binding", port_binding, None),
    ("VIII", "Concurrency", concurrency, None),
    ("IX", "Disposability", disposability, boot_and_stop),
    ("X", "Dev/prod parity", parity, None),
    ("XI", "Logs", logs, None),
    ("XII", "Admin processes", admin_processes, None),
]


def judge(project: Project, checks: list[Check]) -> tuple[bool, str]:
    evidence = []
    for check in checks:
        try:
            evidence.append(check(project))
        except Failed as failure:
            return False, str(failure)
    return True, "; ".join(evidence)


def check(root: Path, *, live: bool = False, only: set[str] | None = None) -> list[Verdict]:
    """The verdict of every factor (or of those in `only`) for the project at `root`."""
    project = Project(root)
    verdicts = []
    for factor, title, static, dynamic in FACTORS:
        if only is not None and factor not in only:
            continue
        checks = [static] if dynamic is None or not live else [static, dynamic]
        ok, evidence = judge(project, checks)
        verdicts.append(Verdict(factor, title, ok, evidence))
    return verdicts


def report(verdicts: list[Verdict]) -> str:
    failed = [v.factor for v in verdicts if not v.ok]
    summary = f"failing: {', '.join(failed)}" if failed else "every factor holds"
    return "\n".join([*(v.line() for v in verdicts), summary])
