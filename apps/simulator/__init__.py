"""Device simulator: realistic sensor traffic over MQTT, in every supported payload format.

It talks MQTT like the devices it imitates (aiomqtt, its own client id); it never calls
into the gateway. Drift, noise, occasional spikes, and a device that goes silent::

    devices = make_fleet(per_format=2, interval_s=1.0, silent_after_s=30)
    report = await simulate(devices, host="127.0.0.1", port=1883, duration_s=60)
"""

from apps.simulator.fleet import FORMATS, Format, SimDevice, SimMessage, make_fleet, messages
from apps.simulator.run import SimulationReport, simulate
from apps.simulator.signals import Signal

__all__ = [
    "FORMATS",
    "Format",
    "Signal",
    "SimDevice",
    "SimMessage",
    "SimulationReport",
    "make_fleet",
    "messages",
    "simulate",
]
