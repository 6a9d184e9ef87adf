"""The cloud's verdicts applied to a camera's tracks: an `Events` sink per camera.

The cloud link emits each verdict as a `cloud.verdict` event (`gateway.cloudlink.verdicts`)
whose source is the hard case's camera; this sink, registered by the camera's component,
reads it back as `VerdictData` and hands it to the camera's publisher, which corrects the
track's `vision.detection` lifecycle (`CameraPublisher.apply_verdict`). So the vision
pipeline never imports the cloud link, and the verdicts a user's dashboard sees are the
ones applied.

Bad input changes nothing and is counted (`camera_verdicts_total{result=...}`) and logged
once per reason: a malformed verdict (`malformed`), a verdict of the judging model
(`cloud.model`) from another version than `cloud.model_version` (`model_version`; the
naming model's verdicts are not checked: the uplink asks it for no version), a verdict
for a track the camera does not know or no longer remembers (`unknown_track`), people
boxes outside the crop (`box_outside`), a verdict whose hard case the camera cut for
another track than the one it names (`other_track`: a cloud that echoed it wrongly). A
yes whose people are all other tracks' is a `duplicate` retraction (the publisher's
docstring says when). A verdict that repeats what an earlier one said is counted
`repeated`; an unknown object the cloud named is counted `named`, one it could not name
`unnamed`; a no too weak to retract (`cloud.verdict_reject_score`) `unsure`, a no for a
track already confirmed on another crop `disputed`.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from gateway.events import Event, Kind
from gateway.payloads import VerdictData
from gateway.vision.camera_stats import CameraStats
from gateway.vision.publisher import Applied, CameraPublisher

__all__ = ["VerdictSink"]

_QUIET = frozenset({Applied.REPEATED, Applied.UNNAMED, Applied.UNSURE, Applied.DISPUTED})
"""Verdicts that change nothing for a good reason: counted, not logged."""

log = logging.getLogger(__name__)


class VerdictSink:
    """Apply the `cloud.verdict` events of one camera to its publisher (on the loop)."""

    def __init__(
        self,
        publisher: CameraPublisher,
        stats: CameraStats,
        *,
        model: str | None = None,
        model_version: str | None = None,
    ) -> None:
        self.publisher = publisher
        self._stats = stats
        self._model = model
        """The model whose verdicts must come from `model_version` (None: any model)."""
        self._model_version = model_version
        self._logged: set[str] = set()
        self.results: dict[str, int] = {}
        """Verdicts so far, by what they did or why they did nothing."""

    def __call__(self, event: Event) -> None:
        """The `Events` sink: act on this camera's verdicts, ignore everything else."""
        if event.kind != Kind.CLOUD_VERDICT or event.source != self.publisher.camera:
            return
        try:
            data = VerdictData.model_validate(event.data)
        except ValidationError as exc:
            self._ignored("malformed", event, str(exc).splitlines()[0])
            return
        if (
            self._model_version is not None
            and self._model in (None, data.model)
            and data.model_version != self._model_version
        ):
            detail = f"model {data.model} version {data.model_version!r}"
            self._ignored("model_version", event, f"{detail}, expected {self._model_version!r}")
            return
        result = self.publisher.apply_verdict(event.id, data)
        if result.changed or result in _QUIET:
            self._count(result.value)
        else:
            self._ignored(result.value, event, f"track {data.track_id}")

    def _count(self, result: str) -> None:
        self.results[result] = self.results.get(result, 0) + 1
        self._stats.verdict(result)

    def _ignored(self, reason: str, event: Event, detail: str) -> None:
        self._count(reason)
        if reason in self._logged:
            return
        self._logged.add(reason)
        log.warning(
            "camera %s: verdict %s ignored (%s: %s); further ones are only counted",
            self.publisher.camera,
            event.id,
            reason,
            detail,
        )
