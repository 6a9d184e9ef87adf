"""Config loading: good files, every kind of bad file, env refs, secret files, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgegw.cli import main
from gateway.config import GatewayConfig, load_config
from gateway.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str, name: str = "gw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def issues(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return [str(i) for i in info.value.issues]


def test_minimal_config_runs_on_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "gateway: {id: gw1}\nmqtt: {host: broker.lan, port: 1884}\n"))
    assert cfg.gateway.id == "gw1"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.broker) == ("broker.lan", 1884, "external")
    assert cfg.topic_prefix == "edgegw/gw1"
    assert cfg.client_id == "edgegw-gw1"
    assert cfg.mqtt.tls.verify is True
    assert cfg.stats.http_port is None


def test_out_of_range_port_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw1\nmqtt:\n  host: h\n  port: 70000\n")
    assert issues(path) == [f"{path}:5: mqtt.port: Input should be less than or equal to 65535"]


def test_unknown_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw1\nmqtt:\n  host: h\n  hots: typo\n")
    assert issues(path) == [f"{path}:5: mqtt.hots: Extra inputs are not permitted"]


def test_wrong_type_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw1}\nmqtt:\n  keepalive_s: soon\n")
    (issue,) = issues(path)
    assert issue.startswith(f"{path}:3: mqtt.keepalive_s: Input should be a valid integer")


def test_every_issue_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: 'bad id!'}\nmqtt: {port: 0}\nstats: {interval_s: -1}\n")
    found = issues(path)
    assert [i.split(": ")[1] for i in found] == ["gateway.id", "mqtt.port", "stats.interval_s"]


def test_env_references_are_substituted_and_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway: {id: gw1}\nmqtt:\n  host: ${MQTT_HOST}\n  port: ${MQTT_PORT:-1999}\n"
        "  username: $${literal}\n",
    )
    cfg = load_config(path, env={"MQTT_HOST": "10.1.2.3"})
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.username) == ("10.1.2.3", 1999, "${literal}")


def test_missing_env_var_is_an_error_with_line(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw1}\nmqtt:\n  host: h\n  password: ${MQTT_PASSWORD}\n")
    assert issues(path) == [
        f"{path}:4: mqtt.password: environment variable MQTT_PASSWORD is not set"
    ]


def test_password_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "mqtt").write_text("s3cret-pw\n")
    path = write(tmp_path, "gateway: {id: gw1}\nmqtt:\n  password_file: secrets/mqtt\n")
    cfg = load_config(path)
    assert cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "s3cret-pw"
    assert "s3cret" not in repr(cfg)
    assert "s3cret" not in cfg.model_dump_json()


def test_unreadable_secret_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw1}\nmqtt:\n  password_file: /nonexistent/pw\n")
    assert issues(path) == [
        f"{path}:3: mqtt.password_file: cannot read /nonexistent/pw: No such file or directory"
    ]


def test_secret_file_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pwdir").mkdir()
    path = write(tmp_path, "gateway: {id: gw1}\ncloud:\n  token_file: pwdir\n")
    (issue,) = issues(path)
    assert issue.startswith(f"{path}:3: cloud.token_file: cannot read ")


def test_invalid_yaml_syntax_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  id: gw1\nmqtt:\n  host: [unclosed\n  port: 1\n")
    (issue,) = issues(path)
    assert issue.startswith(f"{path}:")
    assert "invalid YAML" in issue


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_rejected_with_an_example(tmp_path: Path, text: str) -> None:
    (issue,) = issues(write(tmp_path, text))
    assert "the file is empty" in issue
    assert "gateway: {id: gw1}" in issue


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    (issue,) = issues(write(tmp_path, "- a\n- b\n"))
    assert "top level must be a mapping" in issue


def test_duplicate_sensor_ids_are_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway: {id: gw1}\nsensors:\n  - {id: t1, topic: a/#}\n  - {id: t1, topic: b/#}\n",
    )
    assert issues(path) == [f"{path}:2: sensors: Value error, duplicate id(s): t1"]


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw1}\nmqtt:\n  port: 1883\n  port: 1884\n")
    assert issues(path) == [f"{path}:4: mqtt.port: duplicate key"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    (issue,) = issues(tmp_path / "nope.yaml")
    assert "cannot read: No such file or directory" in issue


def test_password_and_password_file_are_exclusive(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {id: gw1}\nmqtt: {password: a, password_file: b}\n")
    (issue,) = issues(path)
    assert "either password or password_file" in issue


CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates_as_shipped(path: Path) -> None:
    """`edgegw validate` on each file in configs/, with none of its variables set."""
    env = {k: v for k, v in os.environ.items() if k not in ("MQTT_PASSWORD", "EDGEGW_CLOUD_TOKEN")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-m", "edgegw", "validate", str(path)],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: {path}")


def test_shipped_configs_were_found() -> None:
    assert {p.name for p in CONFIGS} >= {"gateway.example.yaml", "demo.yaml"}


def test_empty_secret_from_an_unset_default_means_none(tmp_path: Path) -> None:
    text = (
        "gateway: {id: gw1}\nmqtt: {username: u, password: '${PW_UNSET_X:-}'}\n"
        "cloud: {token: '${TOKEN_UNSET_X:-}'}\n"
    )
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.mqtt.password is None
    assert cfg.cloud.token is None
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    mqtt = f"{{password: '${{PW_UNSET_X:-}}', password_file: {secret}}}"
    text = f"gateway: {{id: gw1}}\nmqtt: {mqtt}\n"
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.mqtt.password is not None
    assert cfg.mqtt.password.get_secret_value() == "from-file"


def test_example_config_covers_every_section() -> None:
    text = (REPO / "configs" / "gateway.example.yaml").read_text()
    for section in GatewayConfig.model_fields:
        assert f"\n{section}:" in text or text.startswith(f"{section}:"), section


def _properties(schema: dict[str, object]) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    defs = schema.get("$defs", {})
    assert isinstance(defs, dict)
    for owner, sub in [("root", schema), *defs.items()]:
        props = sub.get("properties", {})
        assert isinstance(props, dict)
        found += [(f"{owner}.{k}", v) for k, v in props.items()]
    return found


def test_schema_command_prints_a_schema_with_every_field_described(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    props = _properties(schema)
    assert len(props) > 30
    undescribed = [name for name, prop in props if not prop.get("description")]
    assert undescribed == []


def test_validate_command_exit_codes_and_no_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW_FOR_TEST", "hunter2-secret")
    good = write(tmp_path, "gateway: {id: gw1}\nmqtt: {password: '${PW_FOR_TEST}'}\n")
    assert main(["validate", str(good), "--show"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {good}: gateway gw1")
    assert "hunter2" not in out
    assert "**********" in out

    bad = write(tmp_path, "gateway: {id: gw1}\nmqtt: {port: 99999}\n", "bad.yaml")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: mqtt.port: Input should be less than or equal to 65535" in err


def test_camera_naming_an_unknown_model_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway: {id: gw1}\ncameras:\n  - {id: c1, source: 'mqtt:cam/1', model: nope}\n"
        "models:\n  - {id: person, name: visual_wake_words}\n",
    )
    (issue,) = issues(path)
    assert "cameras name model(s) not in `models:`: nope (known: person)" in issue


def test_cloud_kind_patterns_must_name_a_kind_edgegw_emits(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway: {id: gw1}\ncloud:\n  drop_kinds: [sensor.reading]\n"
        "  forward_kinds: ['vision.*']\n",
    )
    (issue,) = issues(path)
    assert issue.startswith(f"{path}:3: cloud.drop_kinds[0]: Value error, 'sensor.reading' matches")
    cfg = load_config(write(tmp_path, "gateway: {id: gw1}\ncloud: {drop_kinds: ['sensor.*']}\n"))
    assert cfg.cloud.drop_kinds == ["sensor.*"]
    assert GatewayConfig.model_validate({"gateway": {"id": "g"}}).cloud.drop_kinds == []


def test_each_retry_has_its_own_backoff(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway: {id: gw1}\nmqtt:\n  reconnect: {min_delay_s: 5, max_delay_s: 1}\n"
        "cameras:\n  - {id: c1, source: 'mqtt:cam/1', model: person,"
        " reconnect: {min_delay_s: 2, max_delay_s: 9}}\n"
        "models:\n  - {id: person, name: visual_wake_words, load_retry: {max_delay_s: 0.5}}\n",
    )
    found = issues(path)
    assert [i.split(": ")[1] for i in found] == ["mqtt.reconnect", "models[0].load_retry"]
    assert all("max_delay_s must be >= min_delay_s" in i for i in found)
    cfg = GatewayConfig.model_validate(
        {
            "gateway": {"id": "g"},
            "cameras": [
                {"id": "c", "source": "x.mp4", "model": "m", "reconnect": {"min_delay_s": 3}}
            ],
            "models": [{"id": "m", "name": "visual_wake_words"}],
        }
    )
    assert cfg.models[0].load_retry.min_delay_s == 1.0  # not the camera's reconnect
    assert cfg.cameras[0].reconnect.min_delay_s == 3.0
    assert (cfg.mqtt.reconnect.min_delay_s, cfg.mqtt.reconnect.max_delay_s) == (0.5, 30.0)


def test_decoder_names_come_from_the_registries() -> None:
    from devices.decoders import DECODERS as SENSOR_DECODERS
    from gateway.config.sensors import SensorConfig
    from gateway.config.vision import ModelConfig
    from gateway.inference.catalog import CATALOGUE
    from gateway.inference.outputs import DECODERS as OUTPUT_DECODERS

    sensor = SensorConfig.model_json_schema()["properties"]["decoder"]
    assert sensor["enum"] == list(SENSOR_DECODERS)
    model = ModelConfig.model_json_schema()["properties"]["decoder"]["anyOf"][0]
    assert model["enum"] == list(OUTPUT_DECODERS)
    shipped = {spec.decoder for spec in CATALOGUE.values()} - {None}
    assert shipped <= set(OUTPUT_DECODERS), "a catalogue entry names an unregistered decoder"
    with pytest.raises(ValueError, match="'yolo' or 'classifier'"):
        ModelConfig.model_validate({"id": "m", "path": "m.tflite", "decoder": "ssd"})


def test_cloud_names_its_two_endpoints(tmp_path: Path) -> None:
    """The event sink and the OIP server are two URLs; each missing one is named."""
    own = load_config(
        write(tmp_path, "gateway: {id: g}\ncloud: {enabled: true, url: 'http://c:8080/'}\n")
    )
    assert own.cloud.event_sink_url() == "http://c:8080/v1/events"
    assert own.cloud.oip_base_url() == "http://c:8080/"
    kserve = "cloud: {enabled: true, oip_url: 'http://k:8080', forward_kinds: [vision.hard_case]}"
    cfg = load_config(write(tmp_path, f"gateway: {{id: g}}\n{kserve}\n"))
    assert (cfg.cloud.event_sink_url(), cfg.cloud.oip_base_url()) == (None, "http://k:8080")
    split = "cloud: {enabled: true, events_url: 'http://s/in', oip_url: 'http://k'}"
    cfg = load_config(write(tmp_path, f"gateway: {{id: g}}\n{split}\n"))
    assert (cfg.cloud.event_sink_url(), cfg.cloud.oip_base_url()) == ("http://s/in", "http://k")
    (no_sink,) = issues(
        write(tmp_path, "gateway: {id: g}\ncloud: {enabled: true, oip_url: 'http://k'}\n")
    )
    assert "the event sink is not set: give cloud.events_url" in no_sink
    assert "forward_kinds: [vision.hard_case]" in no_sink
    (no_oip,) = issues(
        write(tmp_path, "gateway: {id: g}\ncloud: {enabled: true, events_url: 'http://s'}\n")
    )
    assert "the OIP server is not set: give cloud.oip_url" in no_oip


HA_SENSOR = """\
gateway: {id: g}
sensors:
  - id: s
    topic: t/s
    decoder: zigbee2mqtt
    metrics:
      dew: {device_class: dew_point}
      temp: {device_class: temperature, unit: C}
      energy: {device_class: energy, unit: kWh, state_class: measurement}
      door: {device_class: door, unit: "%"}
      kwh: {device_class: energy, unit: kWh}
"""


def test_home_assistant_classes_and_units_are_checked_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path, HA_SENSOR)
    found = issues(path)
    assert [i.split(": Value error, ")[0] for i in found] == [
        f"{path}:7: sensors[0].metrics.dew",
        f"{path}:8: sensors[0].metrics.temp",
        f"{path}:9: sensors[0].metrics.energy",
        f"{path}:10: sensors[0].metrics.door",
    ]
    assert "'dew_point' is not a Home Assistant device class" in found[0]
    assert "unit 'C' is not one Home Assistant accepts for temperature (K, °C, °F)" in found[1]
    assert "state_class 'measurement' is not allowed with energy" in found[2]
    assert "a binary_sensor has no unit" in found[3]
    fixed = HA_SENSOR.replace("dew_point", "temperature").replace("unit: C", "unit: °C")
    fixed = fixed.replace(", state_class: measurement", "").replace(', unit: "%"', "")
    cfg = load_config(write(tmp_path, fixed), env={})
    assert cfg.sensors[0].metrics["kwh"].state_class == "total_increasing"  # energy's default
