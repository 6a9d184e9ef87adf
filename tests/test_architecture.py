"""The house's rules, checked on the code: rooms by role, imports one way, no cycles.

Floors, from the ground up (docs/architecture.md draws them). A module may import its own
room and the rooms on lower floors, never a room on its own floor or above. Imports
inside functions count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("devices", "cloud_bridge", "gateway", "refcloud", "lab", "apps", "edgegw", "bench")

FLOORS: dict[str, int] = {
    # the ground: imports nothing of the project outside its own room
    "devices": 0,
    "cloud_bridge": 0,
    "gateway.errors": 0,
    "gateway.datadir": 0,
    "gateway.backoff": 0,
    "gateway.kinds": 0,
    "gateway.logs": 0,
    "gateway.stats_registry": 0,
    # the inference layer and the config models
    "gateway.inference": 1,
    "gateway.config": 2,
    # transport, envelope, runtime
    "gateway.mqtt": 3,
    "gateway.events": 4,
    "gateway.payloads": 4,
    "gateway.runtime": 5,
    "gateway.homeassistant": 5,
    # the pipelines, handed to the runtime by gateway.plugins
    "gateway.sensors": 6,
    "gateway.vision": 6,
    "gateway.costs": 6,
    "gateway.cloudlink": 7,
    "gateway.plugins": 8,
    "gateway.cli": 9,
    # outside the device package
    "refcloud": 10,
    "lab": 11,
    "apps": 12,
    "edgegw": 13,
    "bench": 14,
}


def room(module: str) -> str | None:
    """The room a dotted module name lives in, or None when it is not the project's."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    if parts[0] == "gateway":
        if len(parts) == 1:
            return "gateway.__init__"
        return f"gateway.{parts[1]}"
    return parts[0]


def modules() -> list[tuple[str, Path]]:
    """Every module of the project (tests excluded), as (dotted name, path)."""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """Every project module that `path` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if room(m) is not None}


def test_every_room_has_a_floor() -> None:
    rooms = {room(name) for name, _ in modules()} - {"gateway.__init__", None}
    assert rooms - set(FLOORS) == set(), "a new room needs a floor in FLOORS (and in the docs)"


def test_imports_run_one_way() -> None:
    offenders: list[str] = []
    for name, path in modules():
        here = room(name)
        if here == "gateway.__init__":
            continue
        assert here is not None
        for target in imports_of(name, path):
            there = room(target)
            if there in (here, "gateway.__init__") or there not in FLOORS:
                continue
            if FLOORS[there] >= FLOORS[here]:
                offenders.append(f"{path.relative_to(REPO)} ({here}) imports {target} ({there})")
    assert offenders == []


def test_the_ground_floor_imports_nothing_of_the_project() -> None:
    ground = {r for r, f in FLOORS.items() if f == 0}
    offenders = [
        f"{path.relative_to(REPO)} imports {target}"
        for name, path in modules()
        if room(name) in ground
        for target in imports_of(name, path)
        if room(target) != room(name) and room(target) != "gateway.__init__"
    ]
    assert offenders == []


def test_the_device_package_never_imports_the_rooms_outside_it() -> None:
    outside = {"refcloud", "lab", "apps", "edgegw", "bench"}
    offenders = [
        f"{path.relative_to(REPO)} imports {target}"
        for name, path in modules()
        if name.startswith(("gateway", "devices", "cloud_bridge"))
        for target in imports_of(name, path)
        if room(target) in outside
    ]
    assert offenders == []


def _import_alone(name: str) -> tuple[str, int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return name, proc.returncode, proc.stderr.strip().splitlines()[-1:][0] if proc.stderr else ""


@pytest.mark.timeout(900)  # ~130 interpreters; about a minute on 2 idle cores
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    """An import cycle shows up as a module that cannot be imported first."""
    names = [n for n, _ in modules() if not n.endswith("__main__")]
    assert len(names) > 100
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_import_alone, names))
    failed = {name: err for name, code, err in results if code != 0}
    assert failed == {}
