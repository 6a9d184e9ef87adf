"""Bad input every decoder must reject the same way, the registry, and the helpers."""

from __future__ import annotations

import ast
import copy
import json
import math
import random
from pathlib import Path

import pytest

import devices
from devices.decoders import (
    DECODERS,
    Decoder,
    DecoderConfigError,
    PlainDecoder,
    TasmotaDecoder,
    _common,
    make_decoder,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult, Reading
from tests.devices.decoder_cases import CASES, RECEIVED_AT, SMALL_MAX, build

KINDS = sorted(CASES)
JSON_KINDS = [k for k in KINDS if k != "plain"]


def only_issue(result: DecodeResult) -> DecodeIssue:
    assert result.readings == ()
    assert len(result.errors) == 1
    return result.errors[0]


@pytest.mark.parametrize("kind", KINDS)
def test_oversized_payload_is_rejected_before_any_parsing(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder, topic = build(kind, max_bytes=SMALL_MAX)

    def no_parsing(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("parsed an oversized payload")

    monkeypatch.setattr(json, "loads", no_parsing)  # the module _common calls
    # Not UTF-8 and not JSON either: only the size check may answer.
    issue = only_issue(decoder.decode(topic, b"\xff" * (SMALL_MAX + 1), RECEIVED_AT))
    assert issue.reason is DecodeError.TOO_LARGE
    assert issue.field is None
    assert "257 bytes" in issue.detail


@pytest.mark.parametrize("kind", KINDS)
def test_payload_at_exactly_max_bytes_is_parsed(kind: str) -> None:
    decoder, topic = build(kind, max_bytes=SMALL_MAX)
    payload = b"1" if kind == "plain" else b'{"x": 1}'
    payload = payload + b" " * (SMALL_MAX - len(payload))
    result = decoder.decode(topic, payload, RECEIVED_AT)
    assert all(e.reason is not DecodeError.TOO_LARGE for e in result.errors)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("payload", [b"", b"   \n\t"])
def test_empty_payload(kind: str, payload: bytes) -> None:
    decoder, topic = build(kind)
    assert only_issue(decoder.decode(topic, payload, RECEIVED_AT)).reason is DecodeError.EMPTY


@pytest.mark.parametrize("kind", KINDS)
def test_non_utf8_payload(kind: str) -> None:
    decoder, topic = build(kind)
    issue = only_issue(decoder.decode(topic, b'{"temperature": 2\xe9}', RECEIVED_AT))
    assert issue.reason is DecodeError.NOT_UTF8
    assert issue.detail == "invalid byte at 17"


@pytest.mark.parametrize("kind", JSON_KINDS)
@pytest.mark.parametrize(
    "payload",
    [b'{"temperature": 21.', b'{"temperature": 21.5', b"{'temperature': 1}", b"[[[" * 10_000],
    ids=["truncated-number", "truncated-object", "single-quotes", "deep-nesting"],
)
def test_bad_json(kind: str, payload: bytes) -> None:
    decoder, topic = build(kind, max_bytes=100_000)
    assert only_issue(decoder.decode(topic, payload, RECEIVED_AT)).reason is DecodeError.BAD_JSON


@pytest.mark.parametrize("kind", JSON_KINDS)
def test_integer_too_long_for_python_is_bad_json(kind: str) -> None:
    decoder, topic = build(kind)
    payload = b'{"temperature": ' + b"9" * 5000 + b"}"
    assert only_issue(decoder.decode(topic, payload, RECEIVED_AT)).reason is DecodeError.BAD_JSON


@pytest.mark.parametrize("kind", JSON_KINDS)
@pytest.mark.parametrize(
    ("payload", "got"),
    [(b"[21.5]", "array"), (b"21.5", "number"), (b'"21.5"', "string"), (b"null", "null")],
)
def test_json_that_is_not_an_object(kind: str, payload: bytes, got: str) -> None:
    decoder, topic = build(kind)
    issue = only_issue(decoder.decode(topic, payload, RECEIVED_AT))
    assert issue.reason is DecodeError.WRONG_TYPE
    assert issue.detail == f"expected a JSON object, got {got}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_decoder_raises_on_random_bytes(kind: str) -> None:
    decoder, topic = build(kind, max_bytes=512)
    rng = random.Random(1234)  # fixed seed: a failure reproduces
    alphabet = b'{}[]":,.0123456789-+eE truefalsnNaIiy\\\xff\xc3'
    for _ in range(2000):
        size = rng.randrange(0, 600)
        if rng.random() < 0.5:
            payload = rng.randbytes(size)
        else:
            payload = bytes(rng.choice(alphabet) for _ in range(size))
        result = decoder.decode(topic, payload, RECEIVED_AT)
        assert isinstance(result, DecodeResult)
        for reading in result.readings:
            assert math.isfinite(reading.value)


@pytest.mark.parametrize("kind", KINDS)
def test_no_decoder_raises_on_mutated_real_payloads(kind: str) -> None:
    decoder, topic = build(kind, max_bytes=4096)
    seed = {
        "Time": "2024-01-01T12:00:00",
        "AM2301": {"Temperature": 22.1, "Humidity": [1, None, "x", {"a": True}]},
        "method": "NotifyStatus",
        "params": {"ts": 1.5, "temperature:0": {"tC": "x"}, "switch:0": {"aenergy": []}},
        "temperature": {"nested": 1},
        "last_seen": [],
        "occupancy": 7,
    }
    values: list[object] = [None, True, 1e308, -0.0, "", "ON", [], {}, 10**30, "nan", 1]
    rng = random.Random(99)
    for _ in range(500):
        doc = json.loads(json.dumps(seed))
        for key in rng.sample(sorted(doc), 3):
            doc[key] = copy.deepcopy(rng.choice(values))
        if isinstance(doc.get("params"), dict):
            doc["params"]["temperature:0"] = {"tC": copy.deepcopy(rng.choice(values))}
        result = decoder.decode(topic, json.dumps(doc).encode(), RECEIVED_AT)
        assert all(math.isfinite(r.value) for r in result.readings)


def test_registry_lists_every_kind() -> None:
    assert sorted(DECODERS) == ["json", "plain", "shelly", "tasmota", "zigbee2mqtt"]
    for kind in KINDS:
        decoder, _ = build(kind)
        assert isinstance(decoder, Decoder)
        assert type(decoder) is DECODERS[kind]


def test_make_decoder_passes_options() -> None:
    decoder = make_decoder("plain", device="d", metric="m", unit="°C", max_bytes=8)
    assert isinstance(decoder, PlainDecoder)
    assert decoder.decode("x", b"5", 1.0) == DecodeResult((Reading("d", "m", 5.0, "°C", 1.0),))
    assert decoder.decode("x", b"123456789", 1.0).errors[0].reason is DecodeError.TOO_LARGE
    assert isinstance(make_decoder("tasmota", device_tz="Europe/Berlin"), TasmotaDecoder)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("modbus", {}, "unknown decoder kind 'modbus'"),
        ("tasmota", {"colour": "red"}, "unexpected keyword argument 'colour'"),
        ("shelly", {"max_bytes": 0}, "max_bytes must be a positive integer"),
        ("shelly", {"max_bytes": True}, "max_bytes must be a positive integer"),
        ("plain", {"metric": "t"}, "exactly one of device= or device_from_topic="),
        ("plain", {"device": "d", "device_from_topic": 1, "metric": "t"}, "exactly one"),
        ("plain", {"device": "", "metric": "t"}, "device= must not be empty"),
        ("json", {"fields": {}, "device": "d"}, "at least one metric"),
        ("json", {"fields": {"t": "a..b"}, "device": "d"}, "invalid field path 'a..b'"),
        ("json", {"fields": {"t": "a"}, "units": {"h": "%"}, "device": "d"}, "['h']"),
        ("zigbee2mqtt", {"device_tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_options_raise_config_error(
    kind: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(DecoderConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_decoder(kind, **options)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(DecoderConfigError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (21, 21.0),
        (True, 1.0),
        (False, 0.0),
        (-0.5, -0.5),
        (float("nan"), DecodeError.NOT_FINITE),
        (float("-inf"), DecodeError.NOT_FINITE),
        (10**400, DecodeError.NOT_FINITE),
        ("21.5", DecodeError.WRONG_TYPE),  # strings only when asked
        (None, DecodeError.MISSING_FIELD),
        ([1], DecodeError.WRONG_TYPE),
    ],
)
def test_to_float(value: object, expected: float | DecodeError) -> None:
    got = _common.to_float(value, "f")
    if isinstance(expected, DecodeError):
        assert isinstance(got, DecodeIssue)
        assert (got.reason, got.field) == (expected, "f")
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 21.5 ", 21.5),
        ("-3", -3.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("NaN", DecodeError.NOT_FINITE),
        ("-Infinity", DecodeError.NOT_FINITE),
        ("1" * 400, DecodeError.NOT_FINITE),
        ("hot", DecodeError.WRONG_TYPE),
        ("1_000", DecodeError.WRONG_TYPE),  # float() would accept it
        ("0x10", DecodeError.WRONG_TYPE),
    ],
)
def test_to_float_with_strings(text: str, expected: float | DecodeError) -> None:
    got = _common.to_float(text, "f", strings=True)
    if isinstance(expected, DecodeError):
        assert isinstance(got, DecodeIssue)
        assert got.reason is expected
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, 1.0), ("off", 0.0), ("ON", 1.0), (0, 0.0), (1, 1.0), (2, None), ("open", None)],
)
def test_to_bool(value: object, expected: float | None) -> None:
    got = _common.to_bool(value, "f")
    if expected is None:
        assert isinstance(got, DecodeIssue)
        assert got.reason is DecodeError.WRONG_TYPE
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000_123, 1_700_000_000.123),  # milliseconds
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),  # naive: read in the given zone (UTC)
        ("yesterday", None),
        (-5, None),
        (float("inf"), None),
        (True, None),
        ([], None),
    ],
)
def test_parse_timestamp(value: object, expected: float | None) -> None:
    got = _common.parse_timestamp(value, _common.make_tz("UTC"))
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_paths_dotted_and_pointer() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}]}, "x/y": {"~z": 3}}
    assert _common.lookup(doc, _common.compile_path("a.b.1.c")) == 2
    assert _common.lookup(doc, _common.compile_path("/a/b/0/c")) == 1
    assert _common.lookup(doc, _common.compile_path("/x~1y/~0z")) == 3
    assert _common.lookup(doc, _common.compile_path("a.b.5.c")) is _common.MISSING
    assert _common.lookup(doc, _common.compile_path("a.b.c")) is _common.MISSING


def test_issue_str_names_field_and_reason() -> None:
    issue = DecodeIssue(DecodeError.WRONG_TYPE, "humidity", 'expected a number, got string "wet"')
    assert str(issue) == 'humidity: wrong_type: expected a number, got string "wet"'
    assert (
        str(DecodeIssue(DecodeError.EMPTY, None, "empty payload"))
        == "payload: empty: empty payload"
    )
    assert DecodeResult().ok
    assert not DecodeResult(errors=(issue,)).ok


def test_devices_never_imports_gateway_or_cloud_bridge() -> None:
    root = Path(devices.__file__).parent
    sources = sorted(root.rglob("*.py"))
    found = {p.relative_to(root).as_posix() for p in sources}
    assert {"decoders/__init__.py", "decoders/tasmota.py", "cameras/__init__.py"} <= found
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in {"gateway", "cloud_bridge"}, f"{source} imports {name}"
