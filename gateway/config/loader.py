"""Load a YAML config: env references, secret files, validation with file:line:key errors.

Everything is checked before anything starts; every problem found is reported at once
as a `ConfigError` whose `issues` carry file, line, dotted key path and reason.

Loading is bounded in time and memory whatever the file holds: at most
`MAX_CONFIG_BYTES` are read, nesting deeper than `MAX_DEPTH` is refused while the YAML is
composed (before Python's recursion limit could be reached), and so is a document of more
than `MAX_NODES` values once aliases are expanded ("billion laughs"), checked on the
composed node graph before anything is built from it. An alias that refers to its own
anchor (a recursive structure) is refused too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from gateway.config.models import GatewayConfig
from gateway.errors import ConfigError, ConfigIssue

KeyPath: TypeAlias = tuple[str | int, ...]

MAX_CONFIG_BYTES = 1_000_000
"""A config file larger than this is refused unread (the example is ~10 KB)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and sequences accepted (the schema needs 6)."""
MAX_NODES = 50_000
"""Most values (scalars, mappings, sequences) in a document, with aliases expanded."""

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MINIMAL_EXAMPLE = "gateway: {id: gw1}\nmqtt: {host: 127.0.0.1, port: 1883}"


def format_path(path: KeyPath) -> str:
    """Render a key path the way users write it: `sensors[1].topic`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses nesting deeper than MAX_DEPTH or MAX_NODES nodes."""

    def __init__(self, stream: str, file: str) -> None:
        super().__init__(stream)
        self.file = file
        self.depth = 0
        self.nodes = 0
        self.constructing_line: int | None = None

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        """Compose one node, counting depth and nodes (aliases count as one here)."""
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise _limit(self.file, line, f"nested deeper than {MAX_DEPTH} levels")
            if self.nodes > MAX_NODES:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise _limit(self.file, line, f"more than {MAX_NODES} values")
            node: yaml.Node | None = super().compose_node(parent, index)  # type: ignore[arg-type]
            return node
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct one node, remembering its line for errors raised by constructors."""
        self.constructing_line = node.start_mark.line + 1
        return super().construct_object(node, deep)


def _limit(file: str, line: int | None, reason: str) -> ConfigError:
    return ConfigError([ConfigIssue(file, line, "", f"refused: {reason}")])


def _check_expansion(file: str, root: yaml.Node) -> None:
    """Refuse a node graph that expands past MAX_NODES / MAX_DEPTH or contains a cycle.

    Aliases make the composed document a graph; everything after this (construction,
    line index, env substitution, validation) walks it as a tree. Sizes and depths are
    memoised per node, so the check costs one visit per composed node: an alias either
    points at a node already measured (it came earlier in the document) or at an
    ancestor still being measured, which is a cycle.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, depth)
    open_nodes: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in measured:
            return measured[key]
        line = node.start_mark.line + 1
        if key in open_nodes:
            raise _limit(file, line, "an alias refers to its own anchor (a recursive structure)")
        open_nodes.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                children += (key_node, value_node)
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        size, depth = 1, 1
        for child in children:
            child_size, child_depth = measure(child)
            size += child_size
            depth = max(depth, child_depth + 1)
            if size > MAX_NODES:
                raise _limit(file, line, f"expands to more than {MAX_NODES} values (YAML aliases)")
            if depth > MAX_DEPTH:
                raise _limit(
                    file, line, f"nested deeper than {MAX_DEPTH} levels once aliases expand"
                )
        open_nodes.discard(key)
        measured[key] = (size, depth)
        return size, depth

    measure(root)


class _Document:
    """A parsed YAML document plus the line of every key path in it."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.issues: list[ConfigIssue] = []
        if len(text) > MAX_CONFIG_BYTES:
            raise _limit(file, None, f"larger than {MAX_CONFIG_BYTES} bytes")
        loader = _BoundedLoader(text, file)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(file, node)
            self.data: Any = None if node is None else loader.construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            reason = getattr(exc, "problem", None) or str(exc)
            raise ConfigError([ConfigIssue(file, line, "", f"invalid YAML: {reason}")]) from exc
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp 2024-13-45
            line = loader.constructing_line
            raise ConfigError([ConfigIssue(file, line, "", f"invalid YAML: {exc}")]) from exc
        finally:
            loader.dispose()
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, path: KeyPath) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                key_path = (*path, key)
                if key in seen:
                    self.issues.append(
                        ConfigIssue(
                            self.file,
                            key_node.start_mark.line + 1,
                            format_path(key_path),
                            "duplicate key",
                        )
                    )
                seen.add(key)
                self.lines[key_path] = key_node.start_mark.line + 1
                self._index(value_node, key_path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, (*path, i))

    def line_of(self, path: KeyPath) -> int | None:
        """Line of the deepest known prefix of `path`."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def issue(self, path: KeyPath, reason: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), format_path(path), reason)


def _substitute_env(doc: _Document, value: Any, path: KeyPath, env: Mapping[str, str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in string values; `$$` is a literal `$`."""
    if isinstance(value, dict):
        return {k: _substitute_env(doc, v, (*path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(doc, v, (*path, i), env) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        doc.issues.append(doc.issue(path, f"environment variable {name} is not set"))
        return ""

    return _ENV_REF.sub(repl, value)


def _read_secret_files(doc: _Document, model: BaseModel, path: KeyPath) -> BaseModel:
    """Fill each `X: SecretStr` field from its sibling `X_file`, reporting unreadable files."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            new = _read_secret_files(doc, value, (*path, name))
            if new is not value:
                update[name] = new
        elif name.endswith("_file") and value is not None:
            target = name.removesuffix("_file")
            if target in type(model).model_fields and getattr(model, target) is None:
                try:
                    secret = Path(value).read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError) as exc:
                    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    doc.issues.append(doc.issue((*path, name), f"cannot read {value}: {why}"))
                    continue
                update[target] = SecretStr(secret)
    return model.model_copy(update=update) if update else model


def parse_config(
    text: str,
    *,
    file: str = "<config>",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> GatewayConfig:
    """Validate config text; raise `ConfigError` listing every issue found."""
    doc = _Document(file, text)
    if doc.data is None:
        raise ConfigError(
            [
                ConfigIssue(
                    file, None, "", f"the file is empty; a minimal config is:\n{MINIMAL_EXAMPLE}"
                )
            ]
        )
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.issue((), "the top level must be a mapping of sections")])
    data = _substitute_env(doc, doc.data, (), os.environ if env is None else env)
    try:
        config = GatewayConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            doc.issues.append(doc.issue(tuple(err["loc"]), err["msg"]))
        raise ConfigError(doc.issues) from None
    config_out = _read_secret_files(doc, config, ())
    if doc.issues:
        raise ConfigError(doc.issues)
    assert isinstance(config_out, GatewayConfig)
    return config_out


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate a config file; raise `ConfigError` with file:line: key: reason."""
    path = Path(path)
    try:
        with path.open("rb") as f:  # read at most one byte past the cap: never a huge file
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise _limit(str(path), None, f"larger than {MAX_CONFIG_BYTES} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read: {why}")]) from exc
    return parse_config(text, file=str(path), base_dir=path.parent.resolve(), env=env)
