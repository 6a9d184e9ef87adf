"""MQTT topic names and filters as the config gives them, checked by the MQTT rules.

MQTT 3.1.1 §4.7 / MQTT 5 §4.7: a topic is at least one character, at most 65535 bytes of
UTF-8 and holds no U+0000. A subscription *filter* may hold `+` (a whole level) and `#`
(alone in the last level). A topic *name*, which is published to, holds neither, and a
name starting with `$` is the broker's (`$SYS/...`). The broker or the client library
refuse what breaks these rules only at run time; the config refuses it at load.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["MAX_TOPIC_BYTES", "PublishTopic", "SubscribeFilter", "filter_problem", "name_problem"]

MAX_TOPIC_BYTES = 65_535


def _common_problem(topic: str) -> str | None:
    if not topic:
        return "a topic must not be empty"
    if "\x00" in topic:
        return "a topic must not contain NUL (U+0000)"
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:
        return "a topic must be valid UTF-8"
    if size > MAX_TOPIC_BYTES:
        return f"a topic is at most {MAX_TOPIC_BYTES} bytes of UTF-8 (this one: {size})"
    return None


def filter_problem(topic: str) -> str | None:
    """Why `topic` is not a valid subscription filter, or None when it is."""
    if (problem := _common_problem(topic)) is not None:
        return problem
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"`#` must be alone in the last level of a filter: {topic!r}"
        if "+" in level and level != "+":
            return f"`+` must be a whole level of a filter: {topic!r}"
    return None


def name_problem(topic: str) -> str | None:
    """Why `topic` cannot be published to (or used as a topic prefix), or None."""
    if (problem := _common_problem(topic)) is not None:
        return problem
    if "+" in topic or "#" in topic:
        return f"wildcards (`+`, `#`) are not allowed in a topic that is published to: {topic!r}"
    if topic.startswith("$"):
        return f"topics starting with `$` are reserved for the broker: {topic!r}"
    return None


def _check_filter(topic: str) -> str:
    if (problem := filter_problem(topic)) is not None:
        raise ValueError(problem)
    return topic


def _check_name(topic: str) -> str:
    if (problem := name_problem(topic)) is not None:
        raise ValueError(problem)
    return topic


SubscribeFilter = Annotated[str, AfterValidator(_check_filter)]
"""A subscription filter: `+` and a final `#` allowed."""

PublishTopic = Annotated[str, AfterValidator(_check_name)]
"""A topic (or prefix of topics) the gateway publishes to: no wildcards."""
