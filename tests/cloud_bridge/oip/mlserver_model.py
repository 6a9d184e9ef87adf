"""A tiny MLServer custom runtime: label a JPEG (or raw UINT8 image) bright or dark.

Written against MLServer's own codecs, not edgegw's protocol models, so that the
interop test checks our client against what MLServer itself decodes and encodes.
Loaded by `mlserver start` from a copy in the test's model directory.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse


# mlserver ships no type hints, so MLModel is Any to mypy.
class BrightnessRuntime(MLModel):  # type: ignore[misc]
    """Mean grey level of the image -> "bright" (>= 128) or "dark"."""

    async def load(self) -> bool:
        """Nothing to load."""
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Decode the `image` input and answer label, mean and the edge's label."""
        image = next((i for i in payload.inputs if i.name == "image"), None)
        if image is None:
            raise InferenceError("no input named 'image'")
        # Base64Codec (content_type "base64") -> list[bytes]; no content_type -> NumpyCodec.
        decoded: Any = self.decode(image, default_codec=NumpyCodec)
        # mlserver's models store enum values, so `datatype` is the plain string.
        if getattr(image.datatype, "value", image.datatype) == "BYTES":
            pixels = cv2.imdecode(np.frombuffer(decoded[0], dtype=np.uint8), cv2.IMREAD_COLOR)
            if pixels is None:
                raise InferenceError("image is not a decodable JPEG")
        else:
            pixels = np.asarray(decoded, dtype=np.uint8)  # shaped [H, W, 3] by NumpyCodec
        mean = float(pixels.mean())
        extra = payload.parameters.model_extra if payload.parameters is not None else None
        edge_label = str((extra or {}).get("edge_label", ""))
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[
                StringCodec.encode_output(
                    "label", ["bright" if mean >= 128 else "dark"], use_bytes=False
                ),
                NumpyCodec.encode_output("mean", np.asarray([mean], dtype=np.float32)),
                StringCodec.encode_output("edge_label", [edge_label], use_bytes=False),
                NumpyCodec.encode_output("shape", np.asarray(pixels.shape, dtype=np.int64)),
            ],
        )
