"""Static checks of a plugin's source (ast): eval/exec, subprocess, sockets.

Reading the syntax tree, not running code: an import alias (``import subprocess as sp``) and
``from os import system`` are followed; dynamic tricks (``getattr(__builtins__, "ev"+"al")``)
are not — the bus permissions and review cover what static checks cannot.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

_EVAL = {"eval", "exec", "compile", "__import__"}
_PROC_MODULES = {"subprocess", "pty", "multiprocessing"}
_OS_PROC = {
    "system",
    "popen",
    "execv",
    "execve",
    "execl",
    "execlp",
    "execvp",
    "execvpe",
    "spawnl",
    "spawnv",
    "spawnve",
    "spawnvp",
    "fork",
    "forkpty",
    "posix_spawn",
    "posix_spawnp",
}
_SOCKET_MODULES = {
    "socket",
    "ssl",
    "http.client",
    "urllib.request",
    "requests",
    "httpx",
    "aiohttp",
    "ftplib",
    "smtplib",
    "telnetlib",
}
_ASYNCIO_NET = {
    "open_connection",
    "start_server",
    "create_connection",
    "create_server",
    "create_datagram_endpoint",
}


@dataclass
class Finding:
    """One static finding: which check, where, what."""

    check: str  # eval | subprocess | socket
    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def scan_file(path: Path, rel: str) -> list[Finding]:
    """Findings in one Python file (a syntax error is itself a finding)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        return [Finding("eval", rel, getattr(exc, "lineno", 1) or 1, f"cannot parse: {exc}")]
    out: list[Finding] = []
    aliases: dict[str, str] = {}  # local name → module or module.attr
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
                _module_finding(out, rel, node.lineno, a.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            _module_finding(out, rel, node.lineno, node.module)
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                if node.module == "os" and a.name in _OS_PROC:
                    out.append(Finding("subprocess", rel, node.lineno, f"from os import {a.name}"))
                if node.module == "asyncio" and a.name in _ASYNCIO_NET:
                    out.append(Finding("socket", rel, node.lineno, f"from asyncio import {a.name}"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name in _EVAL or name in {f"builtins.{n}" for n in _EVAL}:
            out.append(Finding("eval", rel, node.lineno, f"call to {name}()"))
        elif name.startswith("os.") and name[3:] in _OS_PROC:
            out.append(Finding("subprocess", rel, node.lineno, f"call to {name}()"))
        elif name.startswith("asyncio.") and name.split(".")[-1] in _ASYNCIO_NET:
            out.append(Finding("socket", rel, node.lineno, f"call to {name}()"))
        elif name.endswith(".create_connection") or name.endswith(".create_datagram_endpoint"):
            out.append(Finding("socket", rel, node.lineno, f"call to {name}()"))
    return out


def _module_finding(out: list[Finding], rel: str, line: int, module: str) -> None:
    top = module.split(".")[0]
    if top in _PROC_MODULES:
        out.append(Finding("subprocess", rel, line, f"imports {module}"))
    if module in _SOCKET_MODULES or top in {"socket", "ssl", "requests", "httpx", "aiohttp"}:
        out.append(Finding("socket", rel, line, f"imports {module}"))


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def scan_tree(root: Path) -> list[Finding]:
    """Findings in every ``.py`` file under ``root`` (the plugin package directory)."""
    out: list[Finding] = []
    for p in sorted(Path(root).rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        out += scan_file(p, p.relative_to(root).as_posix())
    return out
