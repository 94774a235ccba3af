# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Reading a project folder: its files, Procfile, packages, settings and modules.

Everything is read from the files as they stand, each once; Python is parsed, never
imported, so a broken project is reported instead of crashing the check.
"""

from __future__ import annotations

import ast
import itertools
import shlex
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

from . import code

CHECKER = Path(__file__).resolve().parent  # this package: a tool, not the service's code


class Failed(Exception):
    """A factor does not hold; the message lists every problem found."""


def fail_on(problems: list[str]) -> None:
    if problems:
        raise Failed("; ".join(problems))


class Project:
    """The files of a project folder, read once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._trees: dict[Path, ast.Module] = {}
        self._modules: dict[Path, code.Module] = {}

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def where(self, path: Path, node: ast.AST) -> str:
        """`file:line` of a node, for the evidence."""
        return f"{self.rel(path)}:{getattr(node, 'lineno', '?')}"

    def text(self, name: str) -> str:
        try:
            return (self.root / name).read_text(encoding="utf-8")
        except OSError:
            raise Failed(f"{name} is missing") from None

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    @cached_property
    def pyproject(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text("pyproject.toml"))
        except tomllib.TOMLDecodeError as error:
            raise Failed(f"pyproject.toml cannot be parsed: {error}") from None

    @cached_property
    def packages(self) -> list[str]:
        """The packages in src/ (folders with an __init__.py)."""
        return sorted(path.parent.name for path in (self.root / "src").glob("*/__init__.py"))

    @cached_property
    def built_modules(self) -> list[str]:
        """The modules the build backend puts in the wheel (uv_build's module-name)."""
        backend = self.pyproject.get("tool", {}).get("uv", {}).get("build-backend", {})
        names = backend.get("module-name", self.package)
        return sorted([names] if isinstance(names, str) else names)

    @cached_property
    def package(self) -> str:
        """The service's package: the one pyproject.toml's project name names."""
        name = str(self.pyproject.get("project", {}).get("name", "")).replace("-", "_")
        if name not in self.packages:
            raise Failed(f"src/ holds no package {name!r} (pyproject.toml's project name)")
        return name

    @cached_property
    def procfile(self) -> dict[str, list[str]]:
        """Process type -> its command as argv (shell words, comments dropped)."""
        processes = {}
        for line in self.text("Procfile").splitlines():
            name, colon, command = line.partition(":")
            if colon and name.strip() and not name.lstrip().startswith("#"):
                try:
                    processes[name.strip()] = shlex.split(command, comments=True)
                except ValueError:
                    raise Failed(f"the Procfile's {name.strip()} line cannot be parsed") from None
        return processes

    def python_files(self, *folders: str) -> list[Path]:
        """The Python files under `folders`, except this checker's own: it reads the
        environment for the processes it starts and names what it looks for."""
        return sorted(
            path
            for folder in folders
            for path in (self.root / folder).rglob("*.py")
            if "__pycache__" not in path.parts and CHECKER not in path.resolve().parents
        )

    @cached_property
    def code_files(self) -> list[Path]:
        """The Python code of the service: its package, admin tasks and migrations."""
        return self.python_files(f"src/{self.package}", "admin", "migrations")

    def tree(self, path: Path) -> ast.Module:
        """The syntax tree of a Python file (parsed once)."""
        if path not in self._trees:
            try:
                source = path.read_text(encoding="utf-8")
                self._trees[path] = ast.parse(source, filename=str(path))
            except (OSError, SyntaxError, ValueError) as error:
                raise Failed(f"{self.rel(path)} cannot be parsed: {error}") from None
        return self._trees[path]

    def code(self, path: Path) -> code.Module:
        """The module at `path` ready for following values (built once)."""
        if path not in self._modules:
            self._modules[path] = code.Module(self.tree(path))
        return self._modules[path]

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

    def dotted(self, path: Path) -> str:
        """The module name of a file under src/ (`src/pkg/a/__init__.py` -> pkg.a)."""
        parts = path.relative_to(self.root / "src").with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

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
                if node.name not in names and {code.name_of(b) for b in node.bases} & names
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
        command = self.procfile.get(process, [])
        module = next((b for a, b in itertools.pairwise(command) if a == "-m"), None)
        if module is None:
            raise Failed(f"the Procfile's {process} process runs no module (-m package.module)")
        return module

    def imports(self, path: Path) -> list[str]:
        """The absolute names of the modules a module of src/ imports."""
        package = self.dotted(path)
        if path.name != "__init__.py":
            package = package.rpartition(".")[0]
        return list(code.imported_modules(self.tree(path), package))

    def reachable(self, dotted: str) -> list[Path]:
        """The project's modules a process imports, directly or not, from its entry module."""
        seen: dict[Path, None] = {}
        pending = [dotted]
        while pending:
            name = pending.pop()
            if "." in name:
                pending.append(name.rpartition(".")[0])  # importing a.b runs a first
            path = self.module(name)
            if path is None or path in seen:
                continue
            seen[path] = None
            pending += self.imports(path)
        return list(seen)
