"""A KServe custom model for the interop tests: look at an image, answer a verdict.

Written against KServe's own API (`kserve.Model`, `InferRequest`, `InferResponse`),
not edgegw's protocol models, so the tests check our client against what KServe itself
decodes and encodes. Run by the KServe venv's interpreter (`tests.support.kserve_env`):

    python kserve_model.py --http_port PORT

Two models on one `kserve.ModelServer`:

- `judge` declares `image` BYTES [1]: a JPEG, as base64 text with the tensor parameter
  `content_type: base64` (JSON: KServe hands the model the text, the model decodes it)
  or as raw bytes (the binary tensor data extension).
- `judge_pixels` declares `image` UINT8 [-1, -1, 3]: raw BGR pixels.

Both answer `label` (the edge's label when the image has detail, a grey-level standard
deviation of at least 8, else "background"), `score` (0.5 + std/64, at most 0.99),
`mean` (mean grey level) and `shape` ([H, W, 3]); binary outputs when asked
(`binary_data_output`). A hard case whose edge label starts with `fail-` raises in the
model the first time its id is seen: KServe answers 500, and the retry succeeds.
"""

from __future__ import annotations

import argparse
import base64
import io
from typing import Any

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from PIL import Image

FAIL_ONCE_PREFIX = "fail-"


class Judge(Model):  # type: ignore[misc]  # kserve ships no type hints
    """Judge a hard case's image by how much detail it holds."""

    def __init__(self, name: str, datatype: str) -> None:
        super().__init__(name)
        self.datatype = datatype
        self.failed: set[str] = set()
        self.ready = True

    def get_input_types(self) -> list[dict[str, Any]]:
        """Declare the image input (the model metadata)."""
        shape = [1] if self.datatype == "BYTES" else [-1, -1, 3]
        return [{"name": "image", "datatype": self.datatype, "shape": shape}]

    def get_output_types(self) -> list[dict[str, Any]]:
        """Declare the outputs (the model metadata)."""
        return [
            {"name": "label", "datatype": "BYTES", "shape": [1]},
            {"name": "score", "datatype": "FP32", "shape": [1]},
            {"name": "mean", "datatype": "FP32", "shape": [1]},
            {"name": "shape", "datatype": "INT64", "shape": [3]},
        ]

    async def predict(
        self,
        payload: InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> InferResponse:
        """Decode the image and answer label, score, mean and shape."""
        params = payload.parameters or {}
        case_id = str(params.get("hard_case_id", ""))
        edge_label = str(params.get("edge_label", ""))
        if edge_label.startswith(FAIL_ONCE_PREFIX) and case_id not in self.failed:
            self.failed.add(case_id)
            raise RuntimeError(f"model crashed on {case_id}")
        image = payload.get_input_by_name("image")
        if image is None:
            raise ValueError("no input named 'image'")
        grey = self._grey(image)
        std = float(grey.std())
        label = edge_label if std >= 8 else "background"
        values = {
            "label": np.array([label.encode()], dtype=np.object_),
            "score": np.array([min(0.99, 0.5 + std / 64)], dtype=np.float32),
            "mean": np.array([grey.mean()], dtype=np.float32),
            "shape": np.array([*grey.shape, 3], dtype=np.int64),
        }
        outputs = []
        for name, array in values.items():
            datatype = "BYTES" if array.dtype == np.object_ else None
            out = InferOutput(name, list(array.shape), datatype or _datatype(array))
            out.set_data_from_numpy(array, binary_data=False)
            outputs.append(out)
        return InferResponse(
            response_id=payload.id,
            model_name=self.name,
            infer_outputs=outputs,
            use_binary_outputs=payload.use_binary_outputs,
        )

    def _grey(self, image: Any) -> np.ndarray:
        if image.datatype == "UINT8":
            pixels: np.ndarray = np.asarray(image.as_numpy(), dtype=np.float32)
            if pixels.ndim != 3 or pixels.shape[2] != 3:
                raise ValueError(f"expected HxWx3 pixels, got {pixels.shape}")
            mean: np.ndarray = pixels.mean(axis=2)
            return mean
        item = image.as_numpy().reshape(-1)[0]
        if isinstance(item, str):
            content_type = (image.parameters or {}).get("content_type")
            if content_type != "base64":
                raise ValueError(f"a JPEG as text needs content_type base64, not {content_type}")
            item = base64.b64decode(item, validate=True)
        with Image.open(io.BytesIO(item)) as jpeg:
            grey: np.ndarray = np.asarray(jpeg.convert("L"), dtype=np.float32)
        return grey


def _datatype(array: np.ndarray) -> str:
    return {"float32": "FP32", "int64": "INT64"}[array.dtype.name]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http_port", type=int, required=True)
    args, _ = parser.parse_known_args()
    models = [Judge("judge", "BYTES"), Judge("judge_pixels", "UINT8")]
    ModelServer(http_port=args.http_port, enable_grpc=False, workers=1).start(models)
