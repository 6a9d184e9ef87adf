"""The demo's report: per stream, what came in and what went up; the hard cases and verdicts.

Uplink bytes are measured on the wire per channel (`cloud_uplink_bytes`: event batches,
gzip-compressed, and hard-case inference requests). A channel's bytes are attributed to
the streams in proportion to the uncompressed JSON (and crops) each stream put into it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from apps.demo.comparison import demo_comparison, demo_usage
from apps.demo.corrections import Corrections, corrections, corrections_line
from apps.demo.faces import FacesProof
from apps.demo.progress import Metrics, human_bytes, metric
from apps.demo.recorder import Recorder
from apps.demo.run import DemoResult

__all__ = [
    "CorrectionsReport",
    "DemoReport",
    "HardCaseLine",
    "StreamReport",
    "build_report",
    "corrections_lines",
    "summary_lines",
]

REPORT_VERSION = 1


@dataclass(slots=True, frozen=True)
class HardCaseLine:
    """One hard case: the edge's guess and the cloud's verdict (None while pending)."""

    id: str
    camera: str
    track_id: int
    edge_label: str
    edge_score: float
    crop_bytes: int
    verdict: str | None
    cloud_label: str | None
    cloud_score: float | None
    round_trip_ms: float | None


@dataclass(slots=True, frozen=True)
class HardCaseSummary:
    """How the cloud judged one camera's hard cases."""

    sent: int
    judged: int
    confirmed: int
    rejected: int
    relabelled: int
    pending: int
    unsure: int = 0
    """Judged with a no too weak to retract (`cloud.verdict_reject_score`)."""


@dataclass(slots=True, frozen=True)
class CorrectionsReport:
    """What the cloud changed in the camera's events, and the proof that no face left."""

    camera: str
    verdicts: int
    """Verdicts the cloud sent back (`cloud.verdict` events)."""
    applied: Corrections
    """What the gateway did with them (`camera_verdicts`), faces blurred at the edge."""
    faces: FacesProof | None
    """The face detector on every uploaded crop (None: it could not run)."""


@dataclass(slots=True, frozen=True)
class StreamReport:
    """One stream (a camera or a sensor): in, up, and the share that went up."""

    stream: str
    type: Literal["camera", "sensor"]
    messages_in: int
    """Frames (camera) or MQTT messages (sensor) received."""
    bytes_in: int
    events: dict[str, int]
    """Every event the stream produced, by kind (published locally on MQTT)."""
    events_up: int
    """Events sent to the cloud (event sink and model)."""
    bytes_up: int
    percent_up: float
    local_bytes_out: int | None = None
    """Sensors: bytes of summaries and events published on the local broker."""
    readings_in: int | None = None
    frames_processed: int | None = None
    frames_skipped: int | None = None
    tracks: int | None = None
    hard_cases: HardCaseSummary | None = None


@dataclass(slots=True, frozen=True)
class DemoReport:
    """The whole report, as written to `report.json`."""

    duration_s: float
    interrupted: bool
    broker: str
    cloud: str
    bytes_in: int
    bytes_up: int
    percent_up: float
    uplink_wire_bytes: dict[str, int]
    cloud_calls: int
    cloud_stored_events: int | None
    streams: list[StreamReport]
    hard_cases: list[HardCaseLine]
    notes: list[str] = field(default_factory=list)
    hybrid_vs_all_cloud: dict[str, Any] | None = None
    """The camera's run in the three modes, per hour of video (`gateway.costs.estimate`)."""
    corrections: CorrectionsReport | None = None
    """The camera's events corrected by the cloud, and faces in the uploads."""
    v: int = REPORT_VERSION

    def to_json(self) -> str:
        """Indented JSON."""
        return json.dumps(asdict(self), indent=2)

    def write(self, path: Path) -> None:
        """Write the JSON to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")


def _share(part: float, whole: float, total: float) -> int:
    return round(total * part / whole) if whole else 0


def _percent(up: float, into: float) -> float:
    return round(100.0 * up / into, 4) if into else 0.0


def _hard_cases(recorder: Recorder, camera: str) -> tuple[HardCaseSummary, list[HardCaseLine]]:
    lines = []
    for case in recorder.hard_cases:
        if case.camera != camera:
            continue
        v: Mapping[str, Any] = recorder.verdicts.get(case.id, {})
        lines.append(
            HardCaseLine(
                id=case.id,
                camera=case.camera,
                track_id=case.track_id,
                edge_label=case.label,
                edge_score=case.score,
                crop_bytes=len(case.crop),
                verdict=v.get("verdict"),
                cloud_label=v.get("cloud_label"),
                cloud_score=v.get("cloud_score"),
                round_trip_ms=v.get("round_trip_ms"),
            )
        )
    outcomes = [line.verdict for line in lines]
    summary = HardCaseSummary(
        sent=len(lines),
        judged=sum(o is not None for o in outcomes),
        confirmed=outcomes.count("confirmed"),
        rejected=outcomes.count("rejected"),
        relabelled=outcomes.count("relabelled"),
        pending=outcomes.count(None),
        unsure=outcomes.count("unsure"),
    )
    return summary, lines


def build_report(result: DemoResult) -> DemoReport:
    """Turn what a run recorded into the report."""
    m: Metrics = result.metrics
    rec = result.recorder
    wire = {ch: int(metric(m, "cloud_uplink_bytes_total", ch)) for ch in ("events", "hard_cases")}
    json_total = sum(t.up_json_bytes for t in rec.streams.values())
    media_total = sum(t.up_hard_case_bytes for t in rec.streams.values())

    def up_bytes(stream: str) -> tuple[int, int]:
        tally = rec.streams.get(stream)
        if tally is None:
            return 0, 0
        up = _share(tally.up_json_bytes, json_total, wire["events"])
        up += _share(tally.up_hard_case_bytes, media_total, wire["hard_cases"])
        return sum(tally.up_events.values()), up

    streams: list[StreamReport] = []
    cases: list[HardCaseLine] = []
    panel: dict[str, Any] | None = None
    fixed: CorrectionsReport | None = None
    if result.camera is not None:
        cam = result.camera
        fixed = CorrectionsReport(
            camera=cam,
            verdicts=sum(rec.verdict_counts().values()),
            applied=corrections(m, cam),
            faces=result.faces,
        )
        summary, lines = _hard_cases(rec, cam)
        cases.extend(lines)
        events_up, bytes_up = up_bytes(cam)
        tally = rec.streams.get(cam)
        streams.append(
            StreamReport(
                stream=cam,
                type="camera",
                messages_in=int(metric(m, "camera_frames_in_total", cam)),
                bytes_in=rec.camera_bytes,
                events=dict(tally.events) if tally else {},
                events_up=events_up,
                bytes_up=bytes_up,
                percent_up=_percent(bytes_up, rec.camera_bytes),
                frames_processed=int(metric(m, "camera_frames_decoded_total", cam)),
                frames_skipped=int(metric(m, "camera_frames_skipped_total", cam)),
                tracks=int(metric(m, "camera_tracks_total", cam)),
                hard_cases=summary,
            )
        )
        camera_tally = rec.streams.get(cam)
        usage = demo_usage(
            rec,
            m,
            cam,
            events_bytes_up=_share(
                camera_tally.up_json_bytes if camera_tally else 0, json_total, wire["events"]
            ),
            hard_case_bytes_up=_share(
                camera_tally.up_hard_case_bytes if camera_tally else 0,
                media_total,
                wire["hard_cases"],
            ),
            all_cloud=result.all_cloud,
        )
        comparison = demo_comparison(usage, result.config.costs)
        if comparison is not None:
            panel = {"measured": asdict(usage), **comparison.to_json()}
    for sensor in result.config.sensors:
        sid = sensor.id
        tally = rec.streams.get(sid)
        events_up, bytes_up = up_bytes(sid)
        bytes_in = int(metric(m, "sensor_bytes_in_total", sid))
        streams.append(
            StreamReport(
                stream=sid,
                type="sensor",
                messages_in=int(metric(m, "sensor_messages_total", sid)),
                bytes_in=bytes_in,
                events=dict(tally.events) if tally else {},
                events_up=events_up,
                bytes_up=bytes_up,
                percent_up=_percent(bytes_up, bytes_in),
                local_bytes_out=int(metric(m, "sensor_bytes_out_total", sid)),
                readings_in=int(metric(m, "sensor_readings_total", sid)),
            )
        )
    bytes_in = sum(s.bytes_in for s in streams)
    bytes_up = sum(wire.values())
    notes = [
        "bytes_up: wire bytes per uplink channel (cloud_uplink_bytes), attributed to streams "
        "by their share of the uncompressed JSON and crops sent on that channel",
        "camera bytes_in: every frame as the camera's JPEG (quality 80), which is what an "
        "all-cloud design uploads",
    ]
    notes.extend(result.problems)
    if rec.empty_frames:
        notes.append(
            f"the camera ended on {rec.empty_frames} frames of the empty scene, so that the "
            "last tracks end and are judged"
        )
    return DemoReport(
        duration_s=round(result.elapsed_s, 2),
        interrupted=result.interrupted,
        broker=result.broker,
        cloud=result.cloud,
        bytes_in=bytes_in,
        bytes_up=bytes_up,
        percent_up=_percent(bytes_up, bytes_in),
        uplink_wire_bytes=wire,
        cloud_calls=int(metric(m, "cloud_attempts_total", "hard_cases")),
        cloud_stored_events=result.cloud_stored,
        streams=streams,
        hard_cases=cases,
        notes=notes,
        hybrid_vs_all_cloud=panel,
        corrections=fixed,
    )


def summary_lines(report: DemoReport) -> list[str]:
    """The report as a small table for the terminal."""
    head = f"{'stream':<16} {'in':>20} {'up':>22} {'up %':>8}  events (up/all)"
    lines = [head, "-" * len(head)]
    for s in report.streams:
        unit = "frames" if s.type == "camera" else "msgs"
        into = f"{s.messages_in} {unit}, {human_bytes(s.bytes_in)}"
        up = f"{s.events_up} events, {human_bytes(s.bytes_up)}"
        lines.append(
            f"{s.stream:<16} {into:>20} {up:>22} {s.percent_up:>7.3f}%  "
            f"{s.events_up}/{sum(s.events.values())}"
        )
    lines.append(
        f"{'total':<16} {human_bytes(report.bytes_in):>20} {human_bytes(report.bytes_up):>22} "
        f"{report.percent_up:>7.3f}%"
    )
    lines.extend(comparison_lines(report.hybrid_vs_all_cloud))
    lines.extend(corrections_lines(report.corrections))
    for s in report.streams:
        h = s.hard_cases
        if h is not None:
            lines.append(
                f"{s.stream}: {s.tracks} tracks, {h.sent} hard cases sent to the cloud: "
                f"{h.confirmed} confirmed, {h.rejected} rejected, {h.relabelled} relabelled, "
                f"{h.unsure} unsure, {h.pending} without a verdict"
            )
    return lines


def corrections_lines(c: CorrectionsReport | None) -> list[str]:
    """The corrections and the faces check as two lines (none without a camera)."""
    if c is None:
        return []
    lines = [
        f"{c.camera} corrected by the cloud: {c.verdicts} verdicts, {corrections_line(c.applied)}"
    ]
    f = c.faces
    if f is None:
        lines.append("faces in uploads: not checked (see notes)")
    else:
        unmatched = f", {f.uploads_unmatched} without their frame" if f.uploads_unmatched else ""
        lines.append(
            f"faces in the {f.uploads} uploaded crops ({f.model} >= {f.threshold}): "
            f"{f.faces_in_uploads_after} after redaction, {f.faces_in_uploads_before} before "
            f"(in {f.uploads_with_faces_before} crops{unmatched})"
        )
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def comparison_lines(panel: Mapping[str, Any] | None) -> list[str]:
    """The "hybrid vs all-cloud" panel as a few lines (none without a panel)."""
    if panel is None:
        return []
    d = panel["deployment"]
    cur = d["currency"]
    lat = panel["latency"]
    out = [
        f"hybrid vs all-cloud, per hour of video ({d['board']}, {d['radio']}, "
        f"{d['cloud']} cloud; coefficients: docs/costs.md):"
    ]
    names = {"hybrid": "hybrid", "edge_only": "edge only", "all_cloud": "all-cloud"}
    for mode, name in names.items():
        e = panel["per_hour"][mode]
        u = e["usage"]
        alert = lat["all_cloud"] if mode == "all_cloud" else lat[f"{mode}_event"]
        out.append(
            f"  {name:<10} alert p50 {_ms(alert['p50_ms']):>8} p99 {_ms(alert['p99_ms']):>8}"
            f"  up {human_bytes(u['uplink_bytes']):>9}  calls {u['cloud_calls']:>7.0f}"
            f"  edge CPU {u['edge_cpu_s']:>6.0f} s  cloud {u['cloud_s']:>6.0f} s"
            f"  {e['total_j']['value'] / 1000:>7.1f} kJ  {e['total_cost']['value']:.4f} {cur}"
        )
    verdict = lat["hybrid_verdict"]
    out.append(
        f"  hybrid verdicts p50 {_ms(verdict['p50_ms'])}, p99 {_ms(verdict['p99_ms'])}; "
        f"energy ratio {panel['energy_ratio']}, cost ratio {panel['cost_ratio']} "
        "(hybrid / all-cloud)"
    )
    return out
