"""`edgegw demo`: broker, reference cloud, gateway, simulated devices and camera, one report.

prepare.py   options, model and footage fetch, free ports, the run's config
run.py       start everything in dependency order, wait, drain, stop in reverse
recorder.py  the events and frames seen (an `Events` sink and the camera's callback)
progress.py  live progress from the gateway's stats
report.py    report.json: per stream in vs up, hard cases and verdicts
image.py     report.png: annotated snapshots of hard cases and settled tracks
cli.py       the `edgegw demo` subcommand
"""

from apps.demo.cli import add_demo_parser

__all__ = ["add_demo_parser"]
