"""The one exception tree of edgegw.

    EdgegwError
    ├── ConfigError            a config file is invalid; carries every ConfigIssue found
    ├── BusError               the MQTT bus cannot do what was asked
    │   └── BusNotConnectedError
    ├── ModelError             a model file is missing, unreadable or does not fit its decoder
    │   └── ModelNotFoundError carries the command that fetches it
    ├── ComponentError         a runtime component failed to start or stop
    └── CommandError           a command cannot be done (unknown id, bad arguments)

`devices` and `cloud_bridge` do not import `gateway`; their own errors are translated
into this tree at the boundary, in `gateway` (``raise ... from exc``).
"""

from __future__ import annotations

from dataclasses import dataclass


class EdgegwError(Exception):
    """Root of every error edgegw raises on purpose."""


@dataclass(slots=True, frozen=True)
class ConfigIssue:
    """One problem in a config file, located as precisely as the YAML allows."""

    file: str
    line: int | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"


class ConfigError(EdgegwError):
    """A config file is invalid; `issues` lists each problem with file, line and key."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class BusError(EdgegwError):
    """The MQTT bus cannot do what was asked."""


class BusNotConnectedError(BusError):
    """An operation needs a live broker connection and there is none."""


class ModelError(EdgegwError):
    """A model cannot be used: missing, not a TFLite file, or does not fit its decoder."""


class ModelNotFoundError(ModelError):
    """A configured model is not present; `fetch_command` is what fetches it."""

    def __init__(self, name: str, fetch_command: str) -> None:
        self.name = name
        self.fetch_command = fetch_command
        super().__init__(f"model {name!r} is not present; fetch it with: {fetch_command}")


class ComponentError(EdgegwError):
    """A runtime component failed to start or stop."""


class CommandError(EdgegwError):
    """A command on `<prefix>/cmd/...` cannot be done; the message is the answer's `error`."""
