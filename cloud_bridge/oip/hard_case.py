"""Build the infer request for a hard case, and read its image back on the server side.

The image is the tensor named `image` (configurable), in one of two encodings:

- ``"jpeg"``: BYTES, shape [1], the JPEG. In JSON it is base64-encoded with
  ``content_type: "base64"`` (what MLServer's `Base64Codec` decodes), about 4/3 of the
  JPEG size on the wire; as binary data (`binary=True`), the JPEG itself.
- ``"uint8"``: UINT8, shape [H, W, 3], BGR (OpenCV's order). As JSON numbers about 3-4
  bytes per pixel channel on the wire; as binary data one byte. For models that take
  raw pixels only.

With `binary=True` the request also asks for binary outputs (`binary_data_output`).
`check_model` compares a model's metadata with what these requests carry.

The edge's guess rides as request parameters: `hard_case_id` (also the request id),
`edge_label` and `edge_score`.

`read_image` is what a server runs on a client's bytes, so both encodings go through
`devices.cameras.guard`: a JPEG's (or PNG's) header is read before anything is decoded,
and more than `ImageLimits.max_pixels` (or bytes) is refused with an `ImageRejectedError`, as
is a 0x0 image or a truncated JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from cloud_bridge.oip.protocol import (
    BINARY_DATA_OUTPUT,
    InferenceRequest,
    ModelMetadata,
    Parameters,
    RequestInput,
    ServerMetadata,
)

__all__ = [
    "EdgeGuess",
    "ImageEncoding",
    "build_hard_case_request",
    "check_model",
    "check_server",
    "read_edge_guess",
]

ImageEncoding = Literal["jpeg", "uint8"]
_HARD_CASE_ID = "hard_case_id"
_EDGE_LABEL = "edge_label"
_EDGE_SCORE = "edge_score"
_DATATYPES: dict[str, str] = {"jpeg": "BYTES", "uint8": "UINT8"}
_OUTPUTS = ("label", "score")


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
    binary: bool = False,
) -> InferenceRequest:
    """Build an infer request from a JPEG (bytes) or a BGR HxWx3 uint8 image.

    The image is converted to the requested `encoding` if it is not in it already;
    `binary` sends it as binary tensor data and asks for binary outputs.
    """
    if encoding == "jpeg":
        jpeg = image if isinstance(image, bytes) else _encode_jpeg(image, jpeg_quality)
        tensor = RequestInput.from_bytes(input_name, [jpeg], binary=binary)
    else:
        pixels = _decode_jpeg(image) if isinstance(image, bytes) else image
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise ValueError(f"expected uint8 HxWx3, got {pixels.dtype} {pixels.shape}")
        tensor = RequestInput.from_numpy(input_name, pixels, binary=binary)
    parameters: Parameters = {
        **(extra_parameters or {}),
        _HARD_CASE_ID: hard_case_id,
        _EDGE_LABEL: label,
        _EDGE_SCORE: float(score),
    }
    if binary:
        parameters[BINARY_DATA_OUTPUT] = True
    return InferenceRequest(id=hard_case_id, parameters=parameters, inputs=[tensor])


def check_model(
    metadata: ModelMetadata, *, encoding: ImageEncoding, input_name: str = "image"
) -> list[str]:
    """Return what in a model's metadata does not fit the hard-case requests (empty: fits).

    A model that declares no inputs (KServe's default) or no outputs is not checked on
    them. Shapes are compared with -1 as "any".
    """
    problems: list[str] = []
    want = _DATATYPES[encoding]
    if metadata.inputs:
        declared = {t.name: t for t in metadata.inputs}
        tensor = declared.get(input_name)
        if tensor is None:
            names = ", ".join(sorted(declared))
            problems.append(f"it has no input {input_name!r} (its inputs: {names})")
        else:
            if tensor.datatype != want:
                problems.append(
                    f"input {input_name!r} is {tensor.datatype}, the gateway sends {want} "
                    f"(cloud.image_encoding: {encoding})"
                )
            if not _shape_fits(tensor.shape, encoding):
                sent = "[1]" if encoding == "jpeg" else "[H, W, 3]"
                problems.append(
                    f"input {input_name!r} has shape {tensor.shape}, the gateway sends {sent}"
                )
        extra = [t.name for t in metadata.inputs if t.name != input_name]
        if extra:
            problems.append(f"it also wants inputs the gateway does not send: {', '.join(extra)}")
    if metadata.outputs:
        outputs = {t.name for t in metadata.outputs}
        missing = [n for n in _OUTPUTS if n not in outputs]
        if missing:
            problems.append(
                f"it declares no output {', '.join(missing)} (a verdict needs label, score)"
            )
    return problems


def check_server(server: ServerMetadata, *, encoding: ImageEncoding, binary: bool) -> list[str]:
    """Return what a server is known to get wrong with these requests (empty: nothing)."""
    if binary and encoding == "jpeg" and server.name == "kserve":
        # kserve 0.21.0 InferRequest.from_bytes turns binary BYTES back into JSON strings.
        return [
            f"KServe {server.version} decodes binary BYTES inputs as UTF-8 text, so a binary "
            "JPEG fails with 500: set cloud.binary_data: never, or image_encoding: uint8"
        ]
    return []


def _shape_fits(shape: list[int], encoding: ImageEncoding) -> bool:
    sent = (1,) if encoding == "jpeg" else (None, None, 3)
    if len(shape) != len(sent):
        return False
    return all(d == -1 or s is None or d == s for d, s in zip(shape, sent, strict=True))


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
    """Decode the edge's own crop (made by the gateway, so trusted) for the UINT8 encoding."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the hard case's crop is not a decodable JPEG")
    pixels: npt.NDArray[np.uint8] = np.asarray(image, dtype=np.uint8)
    return pixels
