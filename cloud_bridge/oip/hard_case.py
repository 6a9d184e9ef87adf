"""Build the infer request for a hard case, and read its image back on the server side.

The image is the tensor named `image` (configurable), in one of two encodings:

- ``"jpeg"``: BYTES, shape [1], the JPEG base64-encoded with ``content_type: "base64"``
  (what MLServer's `Base64Codec` decodes). About 4/3 of the JPEG size on the wire.
- ``"uint8"``: UINT8, shape [H, W, 3], BGR (OpenCV's order), as JSON numbers. About
  3-4 bytes per pixel channel on the wire: for models that take raw pixels only.

The edge's guess rides as request parameters: `hard_case_id` (also the request id),
`edge_label` and `edge_score`.

`read_image` is what a server runs on a client's bytes, so both encodings go through
`devices.cameras.guard`: a JPEG's (or PNG's) header is read before anything is decoded,
and more than `ImageLimits.max_pixels` (or bytes) is refused with an `ImageRejectedError`, as
is a 0x0 image or a truncated JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from cloud_bridge.errors import CloudBridgeError
from cloud_bridge.oip.protocol import InferenceRequest, Parameters, RequestInput

if TYPE_CHECKING:  # imported when used: the gateway's uplink loads this without OpenCV
    from devices.cameras.guard import ImageIssue, ImageLimits

__all__ = [
    "EdgeGuess",
    "ImageEncoding",
    "ImageRejectedError",
    "build_hard_case_request",
    "read_edge_guess",
    "read_image",
]

ImageEncoding = Literal["jpeg", "uint8"]
_HARD_CASE_ID = "hard_case_id"
_EDGE_LABEL = "edge_label"
_EDGE_SCORE = "edge_score"


class ImageRejectedError(CloudBridgeError, ValueError):
    """The request's image is refused before or while decoding; `issue` says why."""

    def __init__(self, issue: ImageIssue) -> None:
        self.issue = issue
        super().__init__(f"image refused ({issue.problem.value}): {issue.detail}")


@dataclass(slots=True, frozen=True)
class EdgeGuess:
    """What the edge thought of a hard case, as carried in request parameters."""

    hard_case_id: str
    label: str
    score: float


def build_hard_case_request(
    image: bytes | npt.NDArray[np.uint8],
    *,
    hard_case_id: str,
    label: str,
    score: float,
    encoding: ImageEncoding = "jpeg",
    input_name: str = "image",
    jpeg_quality: int = 90,
    extra_parameters: Parameters | None = None,
) -> InferenceRequest:
    """Build an infer request from a JPEG (bytes) or a BGR HxWx3 uint8 image.

    The image is converted to the requested `encoding` if it is not in it already.
    """
    if encoding == "jpeg":
        jpeg = image if isinstance(image, bytes) else _encode_jpeg(image, jpeg_quality)
        tensor = RequestInput.from_bytes(input_name, [jpeg])
    else:
        pixels = _decode_jpeg(image) if isinstance(image, bytes) else image
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise ValueError(f"expected uint8 HxWx3, got {pixels.dtype} {pixels.shape}")
        tensor = RequestInput.from_numpy(input_name, pixels)
    parameters: Parameters = {
        **(extra_parameters or {}),
        _HARD_CASE_ID: hard_case_id,
        _EDGE_LABEL: label,
        _EDGE_SCORE: float(score),
    }
    return InferenceRequest(id=hard_case_id, parameters=parameters, inputs=[tensor])


def read_image(
    request: InferenceRequest, *, input_name: str = "image", limits: ImageLimits | None = None
) -> npt.NDArray[np.uint8]:
    """Return the request's image as BGR HxWx3 uint8, whichever encoding it came in.

    Raises KeyError if the input is missing, `ImageRejectedError` (a ValueError) if the image
    is over `limits`, empty or truncated, and ValueError if it cannot be decoded.
    """
    from devices.cameras.guard import ImageIssue, ImageLimits, check_shape, decode_image

    limits = limits or ImageLimits()
    tensor = request.input(input_name)
    if tensor.datatype == "BYTES":
        items = tensor.as_bytes()
        if len(items) != 1:
            raise ValueError(f"expected one image in {input_name!r}, got {len(items)}")
        image = decode_image(items[0], limits)
        if isinstance(image, ImageIssue):
            raise ImageRejectedError(image)
        return image
    if tensor.datatype == "UINT8" and len(tensor.shape) == 3 and tensor.shape[2] == 3:
        height, width = tensor.shape[0], tensor.shape[1]
        issue = check_shape(width, height, limits)
        if issue is not None:
            raise ImageRejectedError(issue)
        pixels: npt.NDArray[np.uint8] = tensor.as_numpy().astype(np.uint8, copy=False)
        return pixels
    raise ValueError(f"input {input_name!r}: {tensor.datatype} {tensor.shape} is not an image")


def read_edge_guess(request: InferenceRequest) -> EdgeGuess | None:
    """Return the edge's guess from the request parameters, or None if absent."""
    params: dict[str, Any] = request.parameters or {}
    hard_case_id, label, score = (params.get(k) for k in (_HARD_CASE_ID, _EDGE_LABEL, _EDGE_SCORE))
    if not isinstance(hard_case_id, str) or not isinstance(label, str):
        return None
    if not isinstance(score, int | float) or isinstance(score, bool):
        return None
    return EdgeGuess(hard_case_id=hard_case_id, label=label, score=float(score))


def _encode_jpeg(pixels: npt.NDArray[np.uint8], quality: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {pixels.dtype} {pixels.shape} image as JPEG")
    return bytes(buf)


def _decode_jpeg(data: bytes) -> npt.NDArray[np.uint8]:
    from devices.cameras.guard import ImageIssue, decode_image

    image = decode_image(data)
    if isinstance(image, ImageIssue):
        raise ImageRejectedError(image)
    return image
