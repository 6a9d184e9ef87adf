"""The server side of a hard-case request: its image, decoded within limits.

The edge builds the request (`cloud_bridge.oip.hard_case.build_hard_case_request`); a
cloud model reads the picture back here. Every image passes the same guard as camera
frames (`devices.cameras.guard`): dimensions are read from the header before anything is
decoded, so a decompression bomb costs a few bytes, not gigabytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cloud_bridge.oip.protocol import InferenceRequest
from devices.cameras.guard import ImageIssue, ImageLimits, check_shape, decode_image

__all__ = ["ImageRejectedError", "read_image"]


class ImageRejectedError(ValueError):
    """The request's image is refused before or while decoding; `issue` says why."""

    def __init__(self, issue: ImageIssue) -> None:
        self.issue = issue
        super().__init__(f"image refused ({issue.problem.value}): {issue.detail}")


def read_image(
    request: InferenceRequest, *, input_name: str = "image", limits: ImageLimits | None = None
) -> npt.NDArray[np.uint8]:
    """Return the request's image as BGR HxWx3 uint8, whichever encoding it came in.

    Raises KeyError if the input is missing, `ImageRejectedError` (a ValueError) if the image
    is over `limits`, empty or truncated, and ValueError if it cannot be decoded.
    """
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
