"""Edge vs cloud on vtest.avi, scored against the hand-verified truth (lab/truth/vtest).

    python -m bench.hybrid [--frames N] [--mot-out PATH] [--edge-mot-out PATH]
                           [--camera strong|cheap | --camera-config PATH] [--sweep]
                           [--footage as-shot|mirrored|reversed] [--verdict-delay S]

- Camera: `--camera strong` (default) is the shipped camera below; `--camera cheap` the
  first camera of configs/cheap-edge.yaml (whole frame, no motion regions, low threshold,
  wide band); `--camera-config PATH` the first camera with a model of any gateway config.
  A camera's `detect_fps` below the clip's 10 fps is honoured on the clip's clock: the
  frames in between are not processed, and the tracks of the last processed frame stand
  for them in the scores (what the gateway reports until its next look).
- `--sweep` (`bench.sweep`): cheap and strong, each edge-only and with the cloud, on the
  same frames, side by side; writes sweep.json and sweep.png instead of hybrid.json.
- `--footage mirrored|reversed` (`lab.playback`): the clip flipped left to right or played
  backwards, scored against the truth moved with it; writes hybrid-<footage>.json. The
  same people, every crossing met the other way: the edge's tracker meets situations its
  settings were not chosen on, and the cloud has more to correct.

- `--verdict-delay S`: each verdict is applied S seconds of the clip after its hard case
  (the cloud call is still made at once and timed as such), as over a slow link or when
  an outbox backlog drains after an outage; writes hybrid[-<footage>]-delay<S>s.json. The
  tracks have moved on by then: the camera judges who else was in the crop on the crop's
  own frame (`TrackReport.scene`), and this measures that it does.

- Edge: the shipped camera of configs/gateway.example.yaml (the bundled SSDLite person
  detector on motion regions plus a periodic whole-frame look, the Kalman tracker, faces
  blurred on crops and snapshots), as `bench.vision_pipeline` runs it, frame by frame on
  the clip's own clock.
- Edge only: every track the configured band does not drop.
- Hybrid: the gateway's own `CameraPublisher` on the same frames. Each `vision.hard_case`
  it emits (up to `escalation.max_crops` per track: first sight, shape change, end) goes
  as the outbox would send it, through the Open Inference Protocol client, to the
  reference cloud (`refcloud.serve`, loopback, this process) hosting the default judge
  (`refcloud.judges.DEFAULT_JUDGE`, or `--judge`); the answer becomes a `cloud.verdict`
  event (`VerdictPublisher`) that the camera's `VerdictSink` applies, before the next
  frame. The hybrid reports what the corrected event stream says: retracted tracks are
  gone, relabelled ones carry the cloud's label (only `person` is scored), a split track
  is one track per person from the frame of its split (each box placed inside the
  track's box as the cloud saw it; over the track's whole life when the verdict came
  after it ended, as the split's events then describe it).
- All-cloud: every frame as a JPEG at `--quality` (the uplink a cloud-only design needs).
- Uplink: the hard-case crops plus every `vision.detection`/`vision.hard_case` event's
  JSON, over the all-cloud bytes.
- Latency: frame handed to the edge -> its `vision.detection` events emitted (p50/p99,
  `latency_p50_ms`/`latency_p99_ms`), and a hard case's frame -> its verdict applied
  (loopback) plus the network model (`costs.coefficients.network_rtt_ms`, the crop at
  `uplink_mbps`). All-cloud: `--allcloud-frames` frames of the clip spread over it, each
  as a JPEG at `--quality` to the same reference cloud (upload + inference on loopback)
  plus the network model for its size (`allcloud_latency_p50_ms`).
- Compute, energy, money (`gateway.costs.estimate`, coefficients of `costs:` in
  `--config`, default the built-in table, docs/costs.md): edge CPU seconds (measured),
  cloud seconds (hybrid: its measured round trips; all-cloud: the sampled frames' mean
  times every frame), per hour of video; `energy_ratio` and `cost_ratio` are hybrid over
  all-cloud.
- Faces: the full-range face detector (BlazeFace, `blazeface_full`) at 0.5 on every
  uploaded crop as sent (`faces_in_uploads_after`) and on the same crop cut without
  redaction (`faces_in_uploads_before`).

Scores: py-motmetrics IDF1 (lab.mot) and the one-to-one event rule (lab.evaluation).
The last stdout line is the JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from apps.demo.faces import count_faces
from bench.hybrid_run import (
    HybridRun,
    RecordingRedactor,
    all_cloud_bytes,
    chosen_camera,
    edge_paths,
    hybrid_paths,
    parse_args,
    run_hybrid,
    unknown_names,
)
from bench.sweep import run_sweep
from bench.vision_pipeline import VTEST_FPS
from devices.cameras import encode_jpeg
from gateway.config import load_config
from gateway.config.costs import CostsSection
from gateway.costs.estimate import Comparison, Usage, compare, latency
from gateway.inference.detector import Detector
from gateway.vision.cascade import Band
from gateway.vision.redact import FACE_MODEL
from lab.evaluation import match_events
from lab.footage import fetch_vtest
from lab.mot import score_mot, write_mot
from lab.playback import Footage, footage_truth
from lab.truth import vtest_truth


def report_name(footage: Footage, verdict_delay_s: float) -> str:
    """The results file of a run: hybrid[-<footage>][-delay<S>s].json."""
    name = "hybrid" if footage is Footage.AS_SHOT else f"hybrid-{footage}"
    if verdict_delay_s > 0:
        name += f"-delay{verdict_delay_s:g}s"
    return name + ".json"


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def bench_comparison(
    run: HybridRun, cloud_bytes: int, uplink: int, costs: CostsSection
) -> Comparison:
    """The three modes of this run, per hour of video, with `costs`' coefficients."""
    video_s = run.frames / VTEST_FPS
    sampled = [c.round_trip_ms for c in run.allcloud]
    s_per_frame = (
        sum(sampled) / len(sampled) / 1000 if sampled else costs.coefficients.allcloud_s_per_frame
    )
    usages = [
        Usage("hybrid", video_s, run.cpu_s, uplink, len(run.crops), sum(run.round_trip_ms) / 1000),
        Usage("edge_only", video_s, run.cpu_s, run.detection_bytes, 0, 0.0),
        Usage("all_cloud", video_s, 0.0, cloud_bytes, run.frames, s_per_frame * run.frames, False),
    ]
    edge = "frame handed to the edge -> vision.detection event emitted"
    latencies = {
        "hybrid_event": latency(run.event_ms, what=edge),
        "hybrid_verdict": latency(
            run.verdict_ms,
            what="hard case's frame -> verdict applied (loopback) + network model (its crop)",
            costs=costs,
            request_bytes=run.verdict_crop_bytes,
        ),
        "edge_only_event": latency(run.event_ms, what=edge),
        "all_cloud": latency(
            sampled,
            what=f"frame upload + cloud inference on loopback ({len(sampled)} frames) "
            "+ network model (its JPEG)",
            costs=costs,
            request_bytes=[c.request_bytes for c in run.allcloud],
        ),
    }
    return compare(usages, latencies, costs)


def comparison_lines(c: Comparison) -> list[str]:
    """The three modes per hour of video, as a small table."""
    cur = c.costs.currency
    lines = [
        f"per hour of video ({c.costs.board}, {c.costs.radio}, {c.costs.cloud} cloud):",
        f"{'mode':<11}{'alert p50':>10}{'p99':>9}{'up MB':>9}{'calls':>7}{'edge CPU s':>11}"
        f"{'cloud s':>9}{'kJ':>8}{cur:>9}",
    ]
    for mode, e in c.estimates.items():
        lat = c.latencies["all_cloud" if mode == "all_cloud" else f"{mode}_event"]
        u = e.usage
        p50 = "-" if lat.p50_ms is None else f"{lat.p50_ms:.1f}"
        p99 = "-" if lat.p99_ms is None else f"{lat.p99_ms:.1f}"
        lines.append(
            f"{mode:<11}{p50:>10}{p99:>9}{u.uplink_bytes / 1e6:>9.2f}{u.cloud_calls:>7.0f}"
            f"{u.edge_cpu_s:>11.1f}{u.cloud_s:>9.1f}{e.total_j.value / 1000:>8.1f}"
            f"{e.total_cost.value:>9.4f}"
        )
    v = c.latencies["hybrid_verdict"]
    lines.append(
        f"hybrid verdict p50 {v.p50_ms} ms, p99 {v.p99_ms} ms; energy ratio "
        f"{c.energy_ratio}, cost ratio {c.cost_ratio} (hybrid / all-cloud)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and the JSON summary line."""
    args = parse_args(argv)
    if args.verdict_delay < 0:
        raise SystemExit("python -m bench.hybrid: --verdict-delay must be 0 or more seconds")
    if args.sweep:
        if args.footage is not Footage.AS_SHOT:
            raise SystemExit("python -m bench.hybrid: --footage is not taken with --sweep")
        if args.verdict_delay:
            raise SystemExit("python -m bench.hybrid: --verdict-delay is not taken with --sweep")
        return run_sweep(args)
    started = time.perf_counter()
    clip = args.clip if args.clip is not None else fetch_vtest()
    camera = chosen_camera(args)
    cam = camera[0]
    face_detector = Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1)
    redactor = RecordingRedactor(
        Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1),
        threshold=cam.privacy.face_threshold,
        quality=cam.events.crop_quality,
    )
    costs = load_config(args.config).costs if args.config is not None else CostsSection()
    run = asyncio.run(
        run_hybrid(
            clip,
            args.frames,
            args.threads,
            redactor,
            allcloud_frames=args.allcloud_frames,
            quality=args.quality,
            camera=camera,
            judge_kind=args.judge,
            footage=args.footage,
            verdict_delay_s=args.verdict_delay,
        )
    )
    frames = range(run.frames)
    truth = footage_truth(vtest_truth(), args.footage, frames=run.frames, width=run.width)
    band = Band(cam.escalation.low, cam.escalation.high, cam.escalation.group_aspect)
    edge = edge_paths(run, band)
    hybrid = hybrid_paths(run, VTEST_FPS)
    if args.mot_out is not None:
        write_mot(hybrid, args.mot_out)
    if args.edge_mot_out is not None:
        write_mot(edge, args.edge_mot_out)
    scores = {}
    for name, paths in (("edge only", edge), ("hybrid", hybrid)):
        mot = score_mot(truth, paths, frames=frames)
        ev = match_events(paths, truth)
        scores[name] = (mot, ev, len(paths))
    cloud_bytes = all_cloud_bytes(clip, args.frames, args.quality, args.footage)
    crop_bytes = sum(len(c) for c in run.crops)
    uplink = crop_bytes + run.events_bytes
    before = after = 0
    for jpeg in run.crops:
        after += count_faces(face_detector, jpeg)
        raw = redactor.raw.get(jpeg)
        if raw is not None:
            before += count_faces(face_detector, encode_jpeg(raw, cam.events.crop_quality))
    results = run.sink.results
    comparison = bench_comparison(run, cloud_bytes, uplink, costs)
    elapsed = time.perf_counter() - started
    print(f"{run.frames} frames, {len(truth)} people in the truth; edge CPU {run.cpu_s:.1f} s")
    print(f"{'mode':<12}{'tracks':>7}{'recall':>8}{'prec':>7}{'IDF1':>7}{'MOTA':>7}{'IDsw':>6}")
    for name, (mot, ev, n) in scores.items():
        print(
            f"{name:<12}{n:>7}{ev.recall:>8.3f}{ev.precision:>7.3f}{mot.idf1:>7.3f}"
            f"{mot.mota:>7.3f}{mot.id_switches:>6}"
        )
    print(
        f"uplink {uplink} B ({crop_bytes} B in {len(run.crops)} crops) = "
        f"{100 * uplink / cloud_bytes:.3f}% of all-cloud {cloud_bytes} B"
    )
    print(f"verdicts: {results}; band now [{run.publisher.band.low}, {run.publisher.band.high})")
    print(f"faces in uploaded crops: {before} before redaction, {after} after")
    for line in comparison_lines(comparison):
        print(line)
    edge_mot, edge_ev, _ = scores["edge only"]
    hyb_mot, hyb_ev, _ = scores["hybrid"]
    summary: dict[str, Any] = {
        "uplink_ratio": round(uplink / cloud_bytes, 6),
        "event_recall": round(hyb_ev.recall, 4),
        "event_precision": round(hyb_ev.precision, 4),
        "idf1": round(hyb_mot.idf1, 4),
        "cloud_calls": len(run.crops),
        "edge_only_event_recall": round(edge_ev.recall, 4),
        "edge_only_event_precision": round(edge_ev.precision, 4),
        "edge_only_idf1": round(edge_mot.idf1, 4),
        "confirmed": results.get("confirmed", 0),
        "rejected": results.get("rejected", 0),
        "relabelled": results.get("relabelled", 0),
        "split": results.get("split", 0),
        "duplicate": results.get("duplicate", 0),
        "unsure": results.get("unsure", 0),
        "unknown_named": sum(unknown_names(run).values()),
        "unknown_names": unknown_names(run),
        "faces_in_uploads_before": before,
        "faces_in_uploads_after": after,
        "band": [run.publisher.band.low, run.publisher.band.high],
        "verdict_delay_s": args.verdict_delay,
        "latency_p50_ms": _r(comparison.latencies["hybrid_event"].p50_ms, 2),
        "latency_p99_ms": _r(comparison.latencies["hybrid_event"].p99_ms, 2),
        "verdict_latency_p50_ms": _r(comparison.latencies["hybrid_verdict"].p50_ms, 2),
        "allcloud_latency_p50_ms": _r(comparison.latencies["all_cloud"].p50_ms, 2),
        "energy_ratio": _r(comparison.energy_ratio, 6),
        "cost_ratio": _r(comparison.cost_ratio, 6),
    }
    report = {
        "command": "python -m bench.hybrid " + " ".join(sys.argv[1:] if argv is None else argv),
        "clip": str(clip),
        "footage": str(args.footage),
        "frames": run.frames,
        "truth_tracks": len(truth),
        "all_cloud_bytes": cloud_bytes,
        "uplink_bytes": uplink,
        "crop_bytes": crop_bytes,
        "event_bytes": run.events_bytes,
        "edge_cpu_s": round(run.cpu_s, 2),
        "round_trip_ms_median": round(float(np.median(run.round_trip_ms)), 1)
        if run.round_trip_ms
        else None,
        "verdict_results": results,
        "costs": {
            "measured": {
                "video_s": run.frames / VTEST_FPS,
                "edge_cpu_s": run.cpu_s,
                "detection_bytes": run.detection_bytes,
                "hybrid_round_trips_ms": run.round_trip_ms,
                "allcloud_samples": [asdict(c) for c in run.allcloud],
            },
            **comparison.to_json(),
        },
        "runtime_s": round(elapsed, 1),
        "summary": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = report_name(args.footage, args.verdict_delay)
    (args.out / name).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"runtime {elapsed:.0f}s; wrote {args.out / name}")
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
