"""edgegw: an edge IoT gateway.

`gateway` is the core (config, MQTT bus, pipelines, runtime, CLI). It wires the two
outer packages: `devices` (device-facing adapters) and `cloud_bridge` (cloud-facing).
Those two never import `gateway` or each other; what they need is passed in.
"""

__version__ = "0.1.0"
