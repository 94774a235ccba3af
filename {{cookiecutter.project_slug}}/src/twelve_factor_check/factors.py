# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The twelve factors, each one check over the project's files as they stand.

A check returns its evidence or raises `Failed` naming every problem it found. The checks
judge what the code and scripts do (code.py, shell.py): a program named in a comment, a
port written as a number instead of a string, or a URL built in an f-string is judged by
what runs. Python is parsed, never imported.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from . import shell
from .code import Module, name_of
from .project import Project, fail_on

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
BIND_KEYS = frozenset({"bind"})  # gunicorn's option, a socket's .bind(), ...
WORKER_KEYS = frozenset({"workers"})
PORT_IN_TEXT = re.compile(r":\d{1,5}\b")


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603


def codebase(project: Project) -> str:
    """I: one codebase, in revision control; everything in src/ is built into the wheel."""
    problems = []
    package = project.package
    built = project.built_modules
    if project.packages != built:
        problems.append(
            f"src/ holds {', '.join(project.packages)}; the build takes {', '.join(built)}"
        )
    if package not in built:
        problems.append(f"the build does not take {package} (pyproject.toml's project name)")
    git = shutil.which("git")
    if git is None:
        problems.append("git is not installed, so revision control cannot be checked")
    elif run([git, "ls-files", "--error-unmatch", "pyproject.toml"], project.root).returncode:
        problems.append("the project is not tracked in a git repository")
    fail_on(problems)
    return f"src/{package} is the service ({', '.join(built)} built), tracked in git"


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
    outside = [p for p, words in project.procfile.items() if not shell.through_launcher(words)]
    if outside:
        problems.append(f"Procfile {', '.join(outside)} not run through bin/python")
    if not shell.execs_python_launcher(project.text("bin/admin")):
        problems.append("bin/admin does not exec bin/python")
    fail_on(problems)
    return f"uv.lock matches pyproject.toml; Procfile {', '.join(project.procfile)} via bin/python"


def environment_reads(project: Project, path: Path) -> Iterator[str]:
    for node in ast.walk(project.tree(path)):
        if isinstance(node, ast.Attribute) and node.attr in ENV_READERS:
            yield f"{project.where(path, node)} os.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "dotenv"):
            read = {a.name for a in node.names} & ENV_READERS if node.module == "os" else {"*"}
            if read:
                yield f"{project.where(path, node)} imports {node.module}.{'/'.join(read)}"


def config(project: Project) -> str:
    """III: config in the environment, read in one place, every variable documented."""
    settings_modules = set(project.settings_classes)
    scanned = [path for path in project.code_files if path not in settings_modules]
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
    readers = ", ".join(sorted(project.rel(path) for path in settings_modules))
    return (
        f"environment read only by {readers} ({len(scanned)} other modules scanned); "
        f".env.example = the {len(declared)} settings"
    )


def backing_services(project: Project) -> str:
    """IV: backing services are attached resources: the code reaches them through the
    declared *_URL settings (defaults included: a setting is config), never through a
    service URL written into the code outside the settings' declarations."""
    urls = sorted(name for name in project.settings if name.endswith("_URL"))
    problems = [] if urls else ["no *_URL setting attaches a backing service"]
    for path in project.code_files:
        declarations: list[ast.AST] = list(project.settings_classes.get(path, []))
        problems += [
            f"{project.where(path, node)} hard-codes a {scheme}:// URL"
            for node, scheme in project.code(path).service_urls(declarations)
        ]
    fail_on(problems)
    return f"attached by URL: {', '.join(urls)}; no service address in the code"


def build_release_run(project: Project) -> str:
    """V: assets built at build time, migrations run only by the release step."""
    problems = []
    release = project.procfile.get("release", [])
    if "migrate" not in release:
        problems.append("the Procfile has no release process running the migrations")
    problems += [
        f"Procfile {name} runs migrations"
        for name, words in project.procfile.items()
        if name != "release" and "migrate" in words
    ]
    if not re.search(r"^RUN\b.*\bbin/build\b", project.text("Dockerfile"), re.M):
        problems.append("the Dockerfile does not RUN bin/build")
    if project.exists("bin/post_compile") and not any(
        p.endswith("bin/build") for p in shell.execs(project.text("bin/post_compile"))
    ):
        problems.append("bin/post_compile (Heroku's build hook) does not run bin/build")
    for process, words in project.procfile.items():
        if process == "release" or "-m" not in words:
            continue
        for path in project.reachable(project.entry_module(process)):
            imported = project.imports(path)
            if any(m.split(".")[0] == "alembic" for m in imported):
                problems.append(f"the {process} process imports migrations ({project.rel(path)})")
    fail_on(problems)
    return (
        "bin/build in the Dockerfile and build hook; "
        f"migrations only in release: {' '.join(release)}"
    )


def build_module(project: Project) -> Path | None:
    """The module bin/build runs; its writes happen at build time."""
    if not project.exists("bin/build"):
        return None
    for words in shell.commands(project.text("bin/build")):
        if "-m" in words[:-1]:
            return project.module(words[words.index("-m") + 1])
    return None


def processes(project: Project) -> str:
    """VI: stateless processes: the web keeps nothing on local disk or in its memory
    beyond a request (sessions live in the store of SESSION_STORE_URL)."""
    problems = [] if "SESSION_STORE_URL" in project.settings else ["no SESSION_STORE_URL setting"]
    builder = build_module(project)
    modules = [p for p in project.reachable(project.entry_module("web")) if p != builder]
    for path in modules:
        module = project.code(path)
        problems += [
            f"web writes local files: {project.where(path, n)} {what}"
            for n, what in module.file_writes()
        ]
        problems += [
            f"web keeps state in memory: {project.where(path, n)} {what}"
            for n, what in module.memory_stores()
        ]
    fail_on(problems)
    return (
        f"sessions in SESSION_STORE_URL; none of the web's {len(modules)} modules writes to "
        "disk or keeps data in memory"
    )


def sink_problems(
    project: Project, paths: list[Path], keys: frozenset[str], attribute: str
) -> tuple[int, list[str]]:
    """How many values the code gives under `keys`, and the problems of those that do not
    come from the setting `attribute` or that hold a literal number or host:port."""
    found, problems = 0, []
    for path in paths:
        module = project.code(path)
        for value in module.sinks(keys):
            found += 1
            place = project.where(path, value)
            if not module.reads(value, attribute):
                problems.append(
                    f"{place} gives {'/'.join(sorted(keys))} without settings.{attribute}"
                )
            problems += [
                f"{place} gives {'/'.join(sorted(keys))} a fixed {literal.value!r}"
                for literal in literals_that_fix(module, value)
            ]
    return found, problems


def literals_that_fix(module: Module, value: ast.AST) -> Iterator[ast.Constant]:
    """Numbers and `host:port` strings in a value (a fixed port or worker count)."""
    for literal in module.literals(value):
        number = type(literal.value) is int and literal.value > 1
        if number or (isinstance(literal.value, str) and PORT_IN_TEXT.search(literal.value)):
            yield literal


def web_setting_problems(
    project: Project, entry: str, variable: str, keys: frozenset[str], action: str
) -> list[str]:
    """What is wrong with how the web process takes one server option from a setting:
    the setting is undeclared, a value reaches the option from elsewhere, or nothing the
    web process runs sets the option at all."""
    problems = [] if variable in project.settings else [f"no {variable} setting"]
    found, sinks = sink_problems(project, project.reachable(entry), keys, variable.lower())
    problems += sinks
    if not found:
        problems.append(f"no module the web process runs ({entry}) {action}")
    return problems


def port_binding(project: Project) -> str:
    """VII: the web process is self-contained and binds the port PORT names: every address
    it binds is made from settings.port, none holds a port number."""
    entry = project.entry_module("web")
    problems = web_setting_problems(project, entry, "PORT", BIND_KEYS, "binds an address")
    if any(re.search(r"(^|[:=])\d{2,5}$", word) for word in project.procfile.get("web", [])):
        problems.append("the Procfile's web command names a port number")
    fail_on(problems)
    return f"{entry} binds PORT (settings.port) and no fixed address"


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
        and name_of(node.test.left) == "__name__"
        for node in tree.body
    )


def concurrency(project: Project) -> str:
    """VIII: scale out by process type; web processes sized by WEB_CONCURRENCY."""
    entry = project.entry_module("web")
    problems = web_setting_problems(
        project, entry, "WEB_CONCURRENCY", WORKER_KEYS, "sets its workers"
    )
    types = set(project.procfile) - {"release"}
    entry_points = {project.entry_module(p) for p in types if "-m" in project.procfile[p]}
    tools = {project.module(f"{project.package}.admin"), build_module(project)}
    for path in project.python_files(f"src/{project.package}"):
        module = project.dotted(path)
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
    elif command != project.procfile.get("web"):
        problems.append("the Dockerfile CMD is not the Procfile's web command")
    for script in ("bin/python", "bin/admin"):
        if not shell.execs(project.text(script)):
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
        name = name_of(node) if isinstance(node, ast.Attribute | ast.Name) else None
        if name in LOG_ROUTERS:
            yield f"{project.where(path, node)} {name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.rpartition(".")[2] in LOG_ROUTERS:
                yield f"{project.where(path, node)} {node.value}"
        elif (
            isinstance(node, ast.Call)
            and name_of(node.func) == "basicConfig"
            and any(k.arg in ("filename", "stream") for k in node.keywords)
        ):
            yield f"{project.where(path, node)} basicConfig(filename/stream)"


def logs(project: Project) -> str:
    """XI: logs are an event stream on stdout; the process never routes or stores them."""
    files = project.code_files
    problems = [f"{found} routes logs" for path in files for found in log_routing(project, path)]
    fail_on(problems)
    return f"no file or network log handler in {len(files)} modules; logs go to stdout"


def admin_processes(project: Project) -> str:
    """XII: admin tasks live in admin/, run by bin/admin with the processes' settings."""
    problems = []
    script = project.text("bin/admin")
    runner = ["-m", f"{project.package}.admin"]
    execs = [w for w in shell.commands(script) if w[0] == "exec"]
    if not any(runner == w[i : i + 2] for w in execs for i in range(len(w))):
        problems.append(f"bin/admin does not exec {project.package}.admin")
    if not shell.execs_python_launcher(script):
        problems.append("bin/admin does not exec bin/python (the processes' interpreter)")
    tasks = [p for p in project.python_files("admin") if not p.name.startswith("_")]
    for path in tasks:
        tree = project.tree(path)
        if not any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            problems.append(f"{project.rel(path)} has no main() for bin/admin")
    for path in sorted(project.root.glob("deploy/kubernetes/*.yaml")):
        manifest = path.read_text(encoding="utf-8")
        if not re.search(r"^kind: (Job|CronJob)$", manifest, re.M):
            continue  # one-off and scheduled work only; Deployments run the Procfile (II)
        for command in re.findall(r'command: \["([^"]+)"', manifest):
            if command != "bin/admin":
                problems.append(f"{project.rel(path)} runs {command}, not bin/admin")
    fail_on(problems)
    return f"{len(tasks)} tasks in admin/, each run by bin/admin through bin/python"
