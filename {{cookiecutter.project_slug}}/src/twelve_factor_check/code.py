# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""What a Python module executes, read from its syntax tree (the module is never imported).

The checks ask what the code does, not how it is spelled: a value is followed through the
names it was assigned to (in the function, then the module), strings are folded from
their parts (concatenation, f-strings, `%` and `.format`), and only code that runs
counts: comments are not in the tree, and docstrings, exception messages, log messages
and comparisons are not places where a connection is opened or a port bound.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_DEPTH = 8  # how many assignments a value is followed through
PLACEHOLDER = "{}"  # stands for a part of a string only known at run time
# A URL to a backing service: a scheme (not the web's own) and something after `://`.
SERVICE_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9.-]*)(\+[A-Za-z0-9+.-]+)?://(?P<rest>.+)")
WEB_SCHEMES = frozenset({"http", "https", "ws", "wss", "file"})
FILE_MODE = re.compile(r"^[rwxabtU+]+$")
WRITE_MODE = re.compile(r"[wxa+]")
MESSAGE_CALLS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print"}
)
STRING_TESTS = frozenset(
    {"startswith", "endswith", "removeprefix", "removesuffix", "replace", "partition", "split"}
)
MUTABLE_FACTORIES = frozenset(
    {
        "dict",
        "list",
        "set",
        "bytearray",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "deque",
        "ChainMap",
        "WeakValueDictionary",
        "WeakKeyDictionary",
        "WeakSet",
        "LRUCache",
        "TTLCache",
    }
)
MUTATORS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "insert",
        "add",
        "update",
        "setdefault",
        "__setitem__",
    }
)
# Writing data to a file (making a folder keeps nothing: it is not a write here).
FILE_WRITERS = frozenset({"write_text", "write_bytes"})
PATH_WRITERS = frozenset({"touch", "symlink_to", "hardlink_to", "open"})  # on a Path only
PATH_MAKERS = frozenset({"Path", "PosixPath", "WindowsPath", "PurePath"})
PATH_STEPS = frozenset({"parent", "with_name", "with_suffix", "with_stem", "joinpath", "resolve"})
MODULE_WRITERS = frozenset(
    {
        "os.rename",
        "os.replace",
        "os.mkfifo",
        "shutil.copy",
        "shutil.copy2",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
    }
)
SERVER_CALLS = frozenset({"run", "serve", "Config", "Server"})  # uvicorn.run(app, port=...)
INITS = frozenset({"__init__", "__post_init__"})
KEYED_WRITES = frozenset({"setdefault", "update", "__setitem__"})
OPENERS = frozenset({"open", "io.open", "codecs.open", "gzip.open", "bz2.open", "lzma.open"})
FILE_DATABASES = frozenset({"shelve", "dbm"})  # SQLite is attached by URL (sqlite:///)
OS_WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})


def name_of(node: ast.AST) -> str | None:
    """The attribute or name a node refers to (`os.environ` -> environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


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


def returns_an_argument(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a function hands back one of its arguments (`def job(f): ...; return f`):
    the shape of a decorator that records what it decorates when the module is imported."""
    arguments = {a.arg for a in [*function.args.posonlyargs, *function.args.args]}
    return any(
        isinstance(node, ast.Return)
        and isinstance(node.value, ast.Name)
        and node.value.id in arguments
        for node in ast.walk(function)
    )


@dataclass
class Module:
    """A parsed module with what following values needs: each node's parent, and the
    expressions assigned to each name in each scope (module, class or function)."""

    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    assigned: dict[tuple[ast.AST, str], list[ast.expr]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        for node in ast.walk(self.tree):
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                targets, value = [node.target], node.value
            for target in targets:
                if isinstance(target, ast.Name) and value is not None:
                    key = (self.scope(node), target.id)
                    self.assigned.setdefault(key, []).append(value)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def scope(self, node: ast.AST) -> ast.AST:
        """The function, class or module whose names `node` is evaluated among."""
        for parent in self.ancestors(node):
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return parent
            if isinstance(parent, ast.ClassDef | ast.Module):
                return parent
        return self.tree

    def values_of(self, name: ast.Name) -> list[ast.expr]:
        """The expressions assigned to a name where it is read: in its function, else at
        module level (a class body's names are not visible in its methods)."""
        scope = self.scope(name)
        found = self.assigned.get((scope, name.id))
        if found is None and not isinstance(scope, ast.ClassDef):
            found = self.assigned.get((self.tree, name.id))
        return found or []

    def string(self, node: ast.AST, depth: int = 0) -> str | None:
        """The text a string expression makes, with PLACEHOLDER for parts only known at
        run time; None when it is not a string made from literals."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            return "".join(
                self.string(part.value, depth + 1) or PLACEHOLDER
                if isinstance(part, ast.FormattedValue)
                else str(getattr(part, "value", ""))
                for part in node.values
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.string(node.left, depth + 1), self.string(node.right, depth + 1)
            if left is None and right is None:
                return None
            return (left or PLACEHOLDER) + (right or PLACEHOLDER)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return self.string(node.left, depth + 1)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return self.string(node.func.value, depth + 1) if node.func.attr == "format" else None
        if isinstance(node, ast.Name):
            values = [self.string(v, depth + 1) for v in self.values_of(node)]
            return values[0] if len(values) == 1 else None
        return None

    def integer(self, node: ast.AST, depth: int = 0) -> int | None:
        """The int an expression is, when it is a literal or a name assigned one."""
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and depth <= MAX_DEPTH:
            values = [self.integer(v, depth + 1) for v in self.values_of(node)]
            return values[0] if len(values) == 1 else None
        return None

    def reads(self, node: ast.AST, attribute: str, depth: int = 0) -> bool:
        """Whether evaluating `node` reads `.attribute` (through the names it uses)."""
        if depth > MAX_DEPTH:
            return False
        for inner in ast.walk(node):
            if isinstance(inner, ast.Attribute) and inner.attr == attribute:
                return True
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):  # noqa: SIM102
                if any(self.reads(v, attribute, depth + 1) for v in self.values_of(inner)):
                    return True
        return False

    def literals(self, node: ast.AST, depth: int = 0) -> Iterator[ast.Constant]:
        """The literal constants evaluating `node` uses (through the names it uses)."""
        if depth > MAX_DEPTH:
            return
        for inner in ast.walk(node):
            if isinstance(inner, ast.Constant):
                yield inner
            elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                for value in self.values_of(inner):
                    yield from self.literals(value, depth + 1)

    # --- where a value goes ---------------------------------------------------------------

    def is_docstring(self, node: ast.AST) -> bool:
        parent = self.parents.get(node)
        return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant | ast.JoinedStr)

    def in_message_or_test(self, node: ast.AST) -> bool:
        """Whether a value only ends up in an error or log message, or in a comparison."""
        for parent in self.ancestors(node):
            if isinstance(parent, ast.Raise | ast.Compare | ast.Assert):
                return True
            if isinstance(parent, ast.Call):
                called = name_of(parent.func)
                if called in MESSAGE_CALLS or called in STRING_TESTS:
                    return True
            if isinstance(parent, ast.stmt):
                return False
        return False

    def outermost_strings(self) -> Iterator[tuple[ast.expr, str]]:
        """Each string expression that runs (docstrings excepted), folded whole: the
        parts of `"a" + f"{b}"` are not reported again on their own."""
        inner: set[ast.AST] = set()
        for node in ast.walk(self.tree):
            if node in inner or not isinstance(node, ast.expr):
                continue
            if not isinstance(node, ast.Constant | ast.JoinedStr | ast.BinOp | ast.Call):
                continue
            text = self.string(node)
            if text is None or self.is_docstring(node):
                continue
            inner.update(ast.walk(node))
            yield node, text

    def service_urls(self, exempt: list[ast.AST]) -> Iterator[tuple[ast.AST, str]]:
        """(node, scheme) of each backing-service URL the code builds from literals and
        uses: passed to a call, assigned, returned (not only a message or a comparison).
        `exempt` are subtrees that may hold them (the settings' declarations)."""
        skipped = {id(n) for subtree in exempt for n in ast.walk(subtree)}
        for node, text in self.outermost_strings():
            match = SERVICE_URL.match(text)
            if match is None or id(node) in skipped or self.in_message_or_test(node):
                continue
            scheme = match.group("scheme").lower()
            if scheme not in WEB_SCHEMES:
                yield node, scheme

    def sinks(self, keys: frozenset[str]) -> Iterator[ast.expr]:
        """The values given under any of `keys`: as a keyword argument, a dict key, an
        item assignment (`options["bind"] = v`), `cfg.set("bind", v)`; a `.bind(...)`
        call's argument for the key bind, and `port=` of a server's `run(...)`."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                called = name_of(node.func)
                yield from (k.value for k in node.keywords if k.arg in keys)
                if "bind" in keys and called in SERVER_CALLS:
                    yield from (k.value for k in node.keywords if k.arg == "port")
                if called == "set" and len(node.args) == 2 and self.string(node.args[0]) in keys:
                    yield node.args[1]
                if called in keys and isinstance(node.func, ast.Attribute) and node.args:
                    yield node.args[0]
            elif isinstance(node, ast.Dict):
                yield from (
                    value
                    for key, value in zip(node.keys, node.values, strict=True)
                    if key is not None and self.string(key) in keys
                )
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Subscript) and self.string(target.slice) in keys:
                        yield node.value

    # --- state outside a request ---------------------------------------------------------

    def file_writes(self) -> Iterator[tuple[ast.AST, str]]:
        """(node, what) for each call that writes to the local disk."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                for name in names:
                    if name.split(".")[0] in FILE_DATABASES:
                        yield node, f"imports {name} (a database in a local file)"
            if not isinstance(node, ast.Call):
                continue
            called, full = name_of(node.func), dotted(node.func)
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            if full in MODULE_WRITERS:
                yield node, f"{full}()"
            elif called in FILE_WRITERS and receiver is not None:
                yield node, f".{called}()"
            elif full == "os.open":
                flags = {name_of(n) for arg in node.args[1:] for n in ast.walk(arg)}
                if flags & OS_WRITE_FLAGS:
                    yield node, "os.open() for writing"
            elif full in OPENERS or (called == "open" and receiver is None):
                mode = self.open_mode(node, 1)
                if not FILE_MODE.match(mode) or WRITE_MODE.search(mode):
                    yield node, f"{full}({mode!r})"
            elif called in PATH_WRITERS and receiver is not None and self.is_path(receiver):
                mode = self.open_mode(node, 0) if called == "open" else "w"
                if not FILE_MODE.match(mode) or WRITE_MODE.search(mode):
                    yield node, f"Path.{called}({mode!r})" if called == "open" else f".{called}()"

    def is_path(self, node: ast.AST, depth: int = 0) -> bool:
        """Whether an expression makes a pathlib path: `Path(...)`, `path / "x"`, `.parent`
        of one, or a name assigned one."""
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, ast.Call):
            if name_of(node.func) in PATH_MAKERS:
                return True
            return name_of(node.func) in PATH_STEPS and self.is_path(node.func, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self.is_path(node.left, depth + 1)
        if isinstance(node, ast.Attribute):
            return node.attr in PATH_STEPS and self.is_path(node.value, depth + 1)
        if isinstance(node, ast.Name):
            return any(self.is_path(v, depth + 1) for v in self.values_of(node))
        return False

    def open_mode(self, call: ast.Call, position: int) -> str:
        """The mode an open() call passes ("r" when none); PLACEHOLDER when computed."""
        given = [k.value for k in call.keywords if k.arg == "mode"]
        given += call.args[position : position + 1]
        if not given:
            return "r"
        return self.string(given[0]) or PLACEHOLDER

    def memory_stores(self) -> Iterator[tuple[ast.AST, str]]:
        """(node, what) for each container kept in the process and written by a function:
        a module's or a class's container, or one an object's `__init__` makes and its
        methods store items in (a cache or a store living as long as the process)."""
        classes = [n for n in ast.walk(self.tree) if isinstance(n, ast.ClassDef)]
        module_level = self.containers([self.tree])
        class_level = self.containers(classes)
        owned = {  # attributes an __init__ sets to a container
            target.attr
            for node in ast.walk(self.tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in INITS
            for assign in ast.walk(node)
            if isinstance(assign, ast.Assign | ast.AnnAssign) and self.is_container(assign.value)
            for target in (assign.targets if isinstance(assign, ast.Assign) else [assign.target])
            if isinstance(target, ast.Attribute)
        }
        owned -= self.drained()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Global):  # a module's value a function rebinds
                yield node, f"global {', '.join(node.names)} (kept in the process) is rebound"
        for node, container in self.mutations():
            function = self.scope(node)
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue  # filled once at import: a constant table, not state
            if returns_an_argument(function):
                continue  # a decorator registering what it decorates, at import time
            if isinstance(container, ast.Name) and container.id in module_level:
                yield node, f"{container.id} (kept in the process) is written"
            elif isinstance(container, ast.Attribute) and function.name not in INITS:
                keyed = isinstance(node, ast.Subscript) or name_of(node) in KEYED_WRITES
                if container.attr in class_level or (container.attr in owned and keyed):
                    yield node, f"{dotted(container) or container.attr} (kept in memory) is written"

    def drained(self) -> set[str]:
        """Attributes a method other than `__init__` empties or swaps for a new container:
        buffers that collect items and hand them on (a batch), not stores."""
        found = set()
        for node in ast.walk(self.tree):
            function = self.scope(node)
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if function.name in INITS:
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    elements = target.elts if isinstance(target, ast.Tuple) else [target]
                    values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                    for element, value in zip(elements, values, strict=False):
                        if isinstance(element, ast.Attribute) and self.is_container(value):
                            found.add(element.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("clear", "popitem")
                and isinstance(node.func.value, ast.Attribute)
            ):
                found.add(node.func.value.attr)
        return found

    def containers(self, scopes: list[ast.Module] | list[ast.ClassDef]) -> set[str]:
        """The names the scopes' own bodies bind to mutable containers."""
        return {
            name
            for (where, name), values in self.assigned.items()
            if any(where is scope for scope in scopes) and any(map(self.is_container, values))
        }

    def is_container(self, value: ast.AST | None) -> bool:
        if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp):
            return True
        if isinstance(value, ast.SetComp):
            return True
        return isinstance(value, ast.Call) and name_of(value.func) in MUTABLE_FACTORIES

    def mutations(self) -> Iterator[tuple[ast.AST, ast.expr]]:
        """(node, container) for each item written into a container: `c[k] = v`,
        `c[k] += v`, `del c[k]`, `c.append(v)`, `c.setdefault(k, v)`, ..."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
                yield node, node.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
            ):
                yield node.func, node.func.value
