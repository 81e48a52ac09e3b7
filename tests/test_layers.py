"""The package layers: every import runs downwards.

    tracker  <-  tools.io  <-  appearance  <-  the rest of tools (data, track, eval, report, demo, cli, bench)

tracker/ is the algorithm alone: it imports nothing of tools or appearance, and never torch (it
must run where torch is not installed). tools/io reads and writes files and imports only tracker
and itself. appearance imports tracker and tools.io. The rest of tools may import anything below.
Imports inside functions count as much as those at the top of a module: a lazy import still
makes the package depend on the module it names.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tracker", "tools", "appearance")

# What each layer may import from the project (its own layer included).
ALLOWED = {
    "tracker": {"tracker"},
    "io": {"tracker", "io"},
    "appearance": {"tracker", "io", "appearance"},
    "tools": {"tracker", "io", "appearance", "tools"},
}
# Third-party packages a layer must never import, not even lazily.
FORBIDDEN = {"tracker": {"torch", "torchvision"}}


def layer(module: str) -> str | None:
    """The layer of a dotted module name; None for anything outside the project."""
    parts = module.split(".")
    if parts[0] in ("tracker", "appearance"):
        return parts[0]
    if parts[0] == "tools":
        return "io" if parts[1:2] == ["io"] else "tools"
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth, relative ones resolved.

    `from X import a` is taken as X.a: for a package X that is the submodule it loads
    (`from tools import io` is tools.io), for a module the name inside it, in X's layer either way.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found += [(node.lineno, prefix if alias.name == "*" else f"{prefix}.{alias.name}")
                      for alias in node.names]
    return found


def violations(path: Path, root: Path = ROOT) -> list[str]:
    own = layer(module_name(path, root))
    where = path.relative_to(root)
    out = []
    for line, target in imports(path, root):
        if target.split(".")[0] in FORBIDDEN.get(own, ()):
            out.append(f"{where}:{line}: {own} imports {target}")
            continue
        theirs = layer(target)
        if theirs is not None and theirs not in ALLOWED[own]:
            out.append(f"{where}:{line}: {own} imports {target} ({theirs}, a layer above)")
    return out


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_the_walk_reads_every_package():
    found = {module_name(p, ROOT).split(".")[0] for p in sources()}
    assert found == set(PACKAGES)
    assert any(module_name(p, ROOT).startswith("tools.io.") for p in sources())


def test_imports_run_downwards_only():
    bad = [v for p in sources() for v in violations(p)]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


@pytest.mark.parametrize("file, code, expected", [
    ("tracker/x.py", "import torch", ["tracker imports torch"]),
    ("tracker/x.py", "def f():\n    import torch.nn as nn", ["tracker imports torch.nn"]),
    ("tracker/x.py", "def f():\n    from tools.io.atomic import atomic_open", ["tracker imports tools.io.atomic"]),
    ("tracker/x.py", "from tracker.iou import iou_tlwh\nimport numpy", []),
    ("tools/io/x.py", "from appearance.crops import cache", ["io imports appearance.crops"]),
    ("tools/io/x.py", "from ..track import runner", ["io imports tools.track.runner"]),
    ("tools/io/x.py", "from . import motformat\nfrom tracker import Detections", []),
    ("appearance/x.py", "from tools.track.runner import RunConfig", ["appearance imports tools.track.runner"]),
    ("appearance/x.py", "from tools import track", ["appearance imports tools.track"]),
    ("appearance/x.py", "from tools import io\nfrom tools.io.atomic import atomic_open\nimport torch", []),
    ("tools/cli/x.py", "from appearance.crops.cache import extract_crops\nfrom tools.track import runner", []),
])
def test_the_check_catches_upward_imports(tmp_path, file, code, expected):
    path = tmp_path / file
    path.parent.mkdir(parents=True)
    path.write_text(code + "\n")
    found = violations(path, tmp_path)
    assert len(found) == len(expected), found
    for message, want in zip(found, expected):
        assert want in message
