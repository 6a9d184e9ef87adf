"""edgegw's front door: the `edgegw` command, which composes every room's subcommands.

The rooms, by role (docs/architecture.md draws them):

    devices/       device-facing adapters: sensor payload decoders, camera sources
    cloud_bridge/  cloud-facing, edge side: durable outbox, uplinks, OIP client
    gateway/       what runs on the device (gateway.inference below gateway.vision)
    refcloud/      the reference cloud: OIP server, event sink, hard-case judges
    lab/           evaluation: oracle, hand-verified truth, scoring, footage, samples
    apps/          the demo and the device simulator, which drive the gateway from outside
    edgegw/        this package: the command line on top of them all
"""

from gateway import __version__

__all__ = ["__version__"]
