"""Camera sources: JPEG frames over MQTT and OpenCV captures (files, RTSP/HTTP, USB).

Nothing here imports `gateway`: the camera worker passes in callbacks and settings.
"""

from devices.cameras.capture import (
    CaptureEvent,
    CaptureStatus,
    OpenCVCapture,
    RetryPolicy,
    parse_source,
)
from devices.cameras.frames import (
    EncodedFrame,
    Frame,
    FrameIssue,
    FrameProblem,
    Image,
    decode_frame,
    encode_jpeg,
)

__all__ = [
    "CaptureEvent",
    "CaptureStatus",
    "EncodedFrame",
    "Frame",
    "FrameIssue",
    "FrameProblem",
    "Image",
    "OpenCVCapture",
    "RetryPolicy",
    "decode_frame",
    "encode_jpeg",
    "parse_source",
]
