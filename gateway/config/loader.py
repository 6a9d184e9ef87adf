"""Load a YAML config: env references, secret files, validation with file:line:key errors.

Everything is checked before anything starts; every problem found is reported at once
as a `ConfigError` whose `issues` carry file, line, dotted key path and reason.
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

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MINIMAL_EXAMPLE = "gateway: {id: gw1}\nmqtt: {host: 127.0.0.1, port: 1883}"


def format_path(path: KeyPath) -> str:
    """Render a key path the way users write it: `sensors[1].topic`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Document:
    """A parsed YAML document plus the line of every key path in it."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.issues: list[ConfigIssue] = []
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            self.data: Any = None if node is None else loader.construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            reason = getattr(exc, "problem", None) or str(exc)
            raise ConfigError([ConfigIssue(file, line, "", f"invalid YAML: {reason}")]) from exc
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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read: {why}")]) from exc
    return parse_config(text, file=str(path), base_dir=path.parent.resolve(), env=env)
