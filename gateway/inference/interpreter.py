"""Load TFLite models: LiteRT first, tflite-runtime as a fallback, optional delegates.

Thread safety: a TFLite interpreter is not safe to share between threads. Create one
`TFLiteModel` per worker thread (one per camera); `invoke` releases the GIL while the
model runs, so cameras on separate threads use separate cores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError

__all__ = ["TFLiteModel", "TensorInfo", "load_interpreter"]

log = logging.getLogger(__name__)

_TFLITE_IDENTIFIER = b"TFL3"  # FlatBuffer file identifier, bytes 4..8 of every model


@dataclass(slots=True, frozen=True)
class TensorInfo:
    """One input or output tensor of a model: name, shape, dtype and quantization."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        """Return True for an integer tensor with a real-value scale."""
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)

    def dequantize(self, values: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Return `values` as real numbers (unchanged, as float32, when not quantized)."""
        if not self.quantized:
            return values.astype(np.float32, copy=False)
        return (values.astype(np.float32) - self.zero_point) * np.float32(self.scale)

    @classmethod
    def from_details(cls, details: dict[str, Any]) -> TensorInfo:
        """Build from one entry of `get_input_details()` / `get_output_details()`."""
        scale, zero_point = details.get("quantization", (0.0, 0))
        return cls(
            index=int(details["index"]),
            name=str(details["name"]),
            shape=tuple(int(d) for d in details["shape"]),
            dtype=np.dtype(details["dtype"]),
            scale=float(scale),
            zero_point=int(zero_point),
        )


def _interpreter_module() -> Any:
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        try:
            from tflite_runtime import interpreter
        except ImportError as exc:
            msg = "no TFLite runtime: install ai-edge-litert (or tflite-runtime on old boards)"
            raise ModelError(msg) from exc
        log.info("ai-edge-litert not installed; using tflite_runtime")
    return interpreter


def _check_model_file(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        msg = f"model file {path} does not exist"
        raise ModelError(msg) from None
    except OSError as exc:
        msg = f"cannot read model file {path}: {exc}"
        raise ModelError(msg) from exc
    if len(head) < 8 or head[4:8] != _TFLITE_IDENTIFIER:
        msg = f"{path} is not a TFLite model (no {_TFLITE_IDENTIFIER.decode()} identifier)"
        raise ModelError(msg)


def load_interpreter(path: Path | str, *, num_threads: int = 1, delegate: str | None = None) -> Any:
    """Return an allocated interpreter for the model at `path`.

    `delegate` is the path or soname of an external delegate library (for a Coral
    EdgeTPU, `libedgetpu.so.1`). Raises `ModelError` naming the file when the file is
    not a TFLite model and naming the library when the delegate cannot be loaded.
    """
    path = Path(path)
    _check_model_file(path)
    module = _interpreter_module()
    delegates = []
    if delegate is not None:
        try:
            delegates.append(module.load_delegate(delegate))
        except (ValueError, OSError, RuntimeError) as exc:
            msg = f"cannot load delegate {delegate!r} for {path}: {exc}"
            raise ModelError(msg) from exc
    try:
        interpreter = module.Interpreter(
            model_path=str(path),
            num_threads=num_threads,
            experimental_delegates=delegates or None,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        msg = f"{path} cannot be loaded as a TFLite model: {exc}"
        raise ModelError(msg) from exc
    return interpreter


class TFLiteModel:
    """A loaded model with one input: its tensor details and an `invoke` call.

    Not thread-safe: use one instance per worker thread.
    """

    def __init__(
        self, path: Path | str, *, num_threads: int = 1, delegate: str | None = None
    ) -> None:
        self.path = Path(path)
        self._interpreter = load_interpreter(path, num_threads=num_threads, delegate=delegate)
        inputs = [TensorInfo.from_details(d) for d in self._interpreter.get_input_details()]
        if len(inputs) != 1:
            msg = f"{self.path} has {len(inputs)} inputs; edgegw runs image models with one"
            raise ModelError(msg)
        self.input: TensorInfo = inputs[0]
        self.outputs: tuple[TensorInfo, ...] = tuple(
            TensorInfo.from_details(d) for d in self._interpreter.get_output_details()
        )

    def __repr__(self) -> str:
        outs = ", ".join(str(list(o.shape)) for o in self.outputs)
        return f"TFLiteModel({self.path.name}, input={list(self.input.shape)}, outputs=[{outs}])"

    def invoke(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Run the model on one input tensor and return copies of every output, raw."""
        if tensor.shape != self.input.shape or tensor.dtype != self.input.dtype:
            msg = (
                f"{self.path.name} takes {self.input.dtype} {list(self.input.shape)}, "
                f"got {tensor.dtype} {list(tensor.shape)}"
            )
            raise ModelError(msg)
        self._interpreter.set_tensor(self.input.index, tensor)
        return self.invoke_in_place()

    def input_buffer(self) -> npt.NDArray[Any]:
        """Return a writable view of the interpreter's own input tensor.

        Write the input into it (no `set_tensor` copy), drop every reference to it, then
        call `invoke_in_place`: the interpreter refuses to run while a view is alive.
        """
        view: npt.NDArray[Any] = self._interpreter.tensor(self.input.index)()
        return view

    def invoke_in_place(self) -> list[npt.NDArray[Any]]:
        """Run the model on what its input tensor holds; return copies of every output."""
        try:
            self._interpreter.invoke()
        except RuntimeError as exc:  # a view of the input still alive, or a kernel error
            msg = f"{self.path.name} could not run: {exc}"
            raise ModelError(msg) from exc
        # get_tensor returns a copy already.
        return [self._interpreter.get_tensor(o.index) for o in self.outputs]
