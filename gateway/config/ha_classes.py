"""Home Assistant's device classes, units and state classes, as Home Assistant 2024.3 has them.

Taken from `homeassistant.components.sensor.const` (`SensorDeviceClass`,
`DEVICE_CLASS_UNITS`, `DEVICE_CLASS_STATE_CLASSES`) and `BinarySensorDeviceClass` of
Home Assistant Core 2024.3.3, the lists its documentation publishes. A config naming a
device class Home Assistant does not know, or a unit it does not accept for that class,
is refused by `edgegw validate` (Home Assistant would reject the discovery message or
warn). `NO_UNIT` in a class's set: the class may go without a unit.

`metric_defaults` gives a metric that has no `metrics:` entry what Home Assistant shows
for it: binary metrics (`occupancy`, `contact`, ...: the decoders make them 1.0/0.0)
become `binary_sensor`s with their device class; others get the device class their
unit implies (`°C` -> temperature) when the class accepts that unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

NO_UNIT: Final = ""
"""In `SENSOR_UNITS`: the class may have no unit."""

SENSOR_UNITS: Final[dict[str, frozenset[str]]] = {
    "apparent_power": frozenset({"VA"}),
    "aqi": frozenset({NO_UNIT}),
    "atmospheric_pressure": frozenset(
        {"Pa", "bar", "cbar", "hPa", "inHg", "kPa", "mbar", "mmHg", "psi"}
    ),
    "battery": frozenset({"%"}),
    "carbon_monoxide": frozenset({"ppm"}),
    "carbon_dioxide": frozenset({"ppm"}),
    "current": frozenset({"A", "mA"}),
    "data_rate": frozenset(
        {
            "B/s",
            "GB/s",
            "Gbit/s",
            "GiB/s",
            "KiB/s",
            "MB/s",
            "Mbit/s",
            "MiB/s",
            "bit/s",
            "kB/s",
            "kbit/s",
        }
    ),
    "data_size": frozenset(
        {
            "B",
            "EB",
            "EiB",
            "GB",
            "Gbit",
            "GiB",
            "KiB",
            "MB",
            "Mbit",
            "MiB",
            "PB",
            "PiB",
            "TB",
            "TiB",
            "YB",
            "YiB",
            "ZB",
            "ZiB",
            "bit",
            "kB",
            "kbit",
        }
    ),
    "distance": frozenset({"cm", "ft", "in", "km", "m", "mi", "mm", "yd"}),
    "duration": frozenset({"d", "h", "min", "ms", "s"}),
    "energy": frozenset({"GJ", "MJ", "MWh", "Wh", "kWh"}),
    "energy_storage": frozenset({"GJ", "MJ", "MWh", "Wh", "kWh"}),
    "frequency": frozenset({"GHz", "Hz", "MHz", "kHz"}),
    "gas": frozenset({"CCF", "ft³", "m³"}),
    "humidity": frozenset({"%"}),
    "illuminance": frozenset({"lx"}),
    "irradiance": frozenset({"BTU/(h⋅ft²)", "W/m²"}),
    "moisture": frozenset({"%"}),
    "nitrogen_dioxide": frozenset({"µg/m³"}),
    "nitrogen_monoxide": frozenset({"µg/m³"}),
    "nitrous_oxide": frozenset({"µg/m³"}),
    "ozone": frozenset({"µg/m³"}),
    "ph": frozenset({NO_UNIT}),
    "pm1": frozenset({"µg/m³"}),
    "pm10": frozenset({"µg/m³"}),
    "pm25": frozenset({"µg/m³"}),
    "power_factor": frozenset({"%", NO_UNIT}),
    "power": frozenset({"W", "kW"}),
    "precipitation": frozenset({"cm", "in", "mm"}),
    "precipitation_intensity": frozenset({"in/d", "in/h", "mm/d", "mm/h"}),
    "pressure": frozenset({"Pa", "bar", "cbar", "hPa", "inHg", "kPa", "mbar", "mmHg", "psi"}),
    "reactive_power": frozenset({"var"}),
    "signal_strength": frozenset({"dB", "dBm"}),
    "sound_pressure": frozenset({"dB", "dBA"}),
    "speed": frozenset({"ft/s", "in/d", "in/h", "km/h", "kn", "m/s", "mm/d", "mm/h", "mph"}),
    "sulphur_dioxide": frozenset({"µg/m³"}),
    "temperature": frozenset({"K", "°C", "°F"}),
    "volatile_organic_compounds": frozenset({"µg/m³"}),
    "volatile_organic_compounds_parts": frozenset({"ppb", "ppm"}),
    "voltage": frozenset({"V", "mV"}),
    "volume": frozenset({"CCF", "L", "fl. oz.", "ft³", "gal", "mL", "m³"}),
    "volume_flow_rate": frozenset({"L/min", "ft³/min", "gal/min", "m³/h"}),
    "volume_storage": frozenset({"CCF", "L", "fl. oz.", "ft³", "gal", "mL", "m³"}),
    "water": frozenset({"CCF", "L", "ft³", "gal", "m³"}),
    "weight": frozenset({"g", "kg", "lb", "mg", "oz", "st", "µg"}),
    "wind_speed": frozenset({"ft/s", "km/h", "kn", "m/s", "mph"}),
}
"""Numeric sensor device classes with the units Home Assistant accepts for each."""

SENSOR_ANY_UNIT: Final = frozenset({"monetary"})
"""Numeric sensor device classes whose unit Home Assistant does not check (a currency)."""

SENSOR_NOT_NUMERIC: Final = frozenset({"date", "enum", "timestamp"})
"""Sensor device classes whose state is not a number: no metric can have one."""

SENSOR_DEVICE_CLASSES: Final = frozenset(SENSOR_UNITS) | SENSOR_ANY_UNIT | SENSOR_NOT_NUMERIC

_MEASUREMENT = frozenset({"measurement"})
_TOTALS = frozenset({"total", "total_increasing"})
_ANY = _MEASUREMENT | _TOTALS
STATE_CLASSES: Final[dict[str, frozenset[str]]] = {
    **dict.fromkeys(SENSOR_UNITS, _MEASUREMENT),
    **dict.fromkeys(("data_size", "distance", "duration", "precipitation", "weight"), _ANY),
    **dict.fromkeys(("energy", "gas", "volume", "water"), _TOTALS),
    "monetary": frozenset({"total"}),
}
"""The state classes Home Assistant accepts with each numeric sensor device class."""

BINARY_SENSOR_DEVICE_CLASSES: Final = frozenset(
    {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
     "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
     "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
     "smoke", "sound", "tamper", "update", "vibration", "window"}
)  # fmt: skip

Component = Literal["sensor", "binary_sensor"]


@dataclass(slots=True, frozen=True)
class BinaryMetric:
    """A metric the decoders give as 1.0/0.0: its binary_sensor device class."""

    device_class: str | None
    inverted: bool = False
    """On in Home Assistant when the reading is 0.0 (Zigbee2MQTT `contact`: true = closed)."""


BINARY_METRICS: Final[dict[str, BinaryMetric]] = {
    "occupancy": BinaryMetric("occupancy"),
    "presence": BinaryMetric("presence"),
    "motion": BinaryMetric("motion"),
    "contact": BinaryMetric("door", inverted=True),
    "water_leak": BinaryMetric("moisture"),
    "flood": BinaryMetric("moisture"),
    "leak": BinaryMetric("moisture"),
    "smoke": BinaryMetric("smoke"),
    "gas": BinaryMetric("gas"),
    "tamper": BinaryMetric("tamper"),
    "battery_low": BinaryMetric("battery"),
    "vibration": BinaryMetric("vibration"),
    "external_power": BinaryMetric("plug"),
    "state": BinaryMetric(None),
}
"""Binary metrics by name, or by the name's first word (Shelly `smoke_0`, `flood_0`)."""

_UNIT_CLASSES: Final[dict[str, str]] = {
    "°C": "temperature",
    "°F": "temperature",
    "K": "temperature",
    "hPa": "pressure",
    "Pa": "pressure",
    "kPa": "pressure",
    "mbar": "pressure",
    "lx": "illuminance",
    "W": "power",
    "kW": "power",
    "V": "voltage",
    "mV": "voltage",
    "A": "current",
    "mA": "current",
    "Wh": "energy",
    "kWh": "energy",
    "Hz": "frequency",
    "VA": "apparent_power",
    "var": "reactive_power",
    "ppb": "volatile_organic_compounds_parts",
    "cm": "distance",
}
_NAME_CLASSES: Final[dict[str, str]] = {
    # metrics whose unit is shared by several classes: the name's words decide
    "humidity": "humidity",
    "battery": "battery",
    "moisture": "moisture",
    "co2": "carbon_dioxide",
    "carbondioxide": "carbon_dioxide",
    "eco2": "carbon_dioxide",
    "pm25": "pm25",
    "pm10": "pm10",
    "voc": "volatile_organic_compounds_parts",
    "tvoc": "volatile_organic_compounds_parts",
}


def binary_metric(name: str) -> BinaryMetric | None:
    """The binary metric `name` is (by its name or its first word), or None."""
    return BINARY_METRICS.get(name) or BINARY_METRICS.get(name.split("_", 1)[0])


@dataclass(slots=True, frozen=True)
class MetricDefaults:
    """How Home Assistant shows a metric that has no `metrics:` entry."""

    component: Component
    device_class: str | None
    state_class: str | None
    inverted: bool = False


def unit_accepted(device_class: str, unit: str | None) -> bool:
    """Whether Home Assistant accepts `unit` (None: no unit) for numeric `device_class`."""
    if device_class in SENSOR_ANY_UNIT:
        return True
    units = SENSOR_UNITS.get(device_class)
    return units is not None and (unit if unit is not None else NO_UNIT) in units


def default_state_class(device_class: str | None) -> str | None:
    """`measurement` where the class allows it, else `total_increasing` (energy, gas...)."""
    if device_class is None:
        return "measurement"
    allowed = STATE_CLASSES.get(device_class, frozenset())
    if "measurement" in allowed:
        return "measurement"
    return "total_increasing" if "total_increasing" in allowed else None


def metric_defaults(name: str, unit: str | None) -> MetricDefaults:
    """What an unconfigured metric `name` with the decoder's `unit` looks like in HA."""
    if unit is None and (binary := binary_metric(name)) is not None:
        return MetricDefaults("binary_sensor", binary.device_class, None, binary.inverted)
    words = name.split("_")
    device_class = next((_NAME_CLASSES[w] for w in words if w in _NAME_CLASSES), None)
    if device_class is None and unit is not None:
        device_class = _UNIT_CLASSES.get(unit)
    if device_class is not None and not unit_accepted(device_class, unit):
        device_class = None
    return MetricDefaults("sensor", device_class, default_state_class(device_class))


__all__ = [
    "BINARY_METRICS",
    "BINARY_SENSOR_DEVICE_CLASSES",
    "NO_UNIT",
    "SENSOR_DEVICE_CLASSES",
    "SENSOR_UNITS",
    "STATE_CLASSES",
    "BinaryMetric",
    "Component",
    "MetricDefaults",
    "binary_metric",
    "default_state_class",
    "metric_defaults",
    "unit_accepted",
]
