"""Pydantic v2 models of the Open Inference Protocol (KServe V2) REST JSON bodies.

Tensor `data` is row-major, either flat or nested as the spec allows; its element count
must match `shape` and its element types the `datatype`. In JSON, `BYTES` elements are
strings. Binary content (a JPEG) travels base64-encoded in those strings, with the
tensor parameter ``content_type: "base64"``: that is what MLServer's `Base64Codec`
decodes (MLServer 1.7.1's REST server does not implement the binary tensor extension).
See `RequestInput.from_bytes` / `as_bytes`.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "BASE64_CONTENT_TYPE",
    "TENSOR_VALUE_ERROR",
    "Datatype",
    "ErrorResponse",
    "InferenceRequest",
    "InferenceResponse",
    "Parameters",
    "RequestInput",
    "RequestOutput",
    "ResponseOutput",
]

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]
Parameters = dict[str, JsonValue]
BASE64_CONTENT_TYPE = "base64"

_NUMPY_DTYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}
_DATATYPES = {v: k for k, v in _NUMPY_DTYPES.items()}
_INT_RANGES: dict[str, tuple[int, int]] = {
    name: (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    for name, dtype in _NUMPY_DTYPES.items()
    if name.startswith(("UINT", "INT"))
}
TENSOR_VALUE_ERROR = "tensor_value"
"""The pydantic error type of a well-typed element outside its datatype's range (a 422)."""


def _flatten(data: Sequence[Any]) -> Iterator[Any]:
    for item in data:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _element_ok(datatype: str, value: Any) -> bool:
    if datatype == "BYTES":
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if datatype.startswith(("UINT", "INT")):
        return isinstance(value, int)
    return isinstance(value, int | float)


class _Tensor(BaseModel):
    """Fields and checks shared by request inputs and response outputs."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Tensor name, as the model declares it.")
    shape: list[int] = Field(description="Dimensions; the data hold their product elements.")
    datatype: Datatype = Field(description="Element type, a KServe V2 datatype name.")
    parameters: Parameters | None = Field(None, description="Tensor parameters.")
    data: list[Any] = Field(description="Row-major elements, flat or nested.")

    @model_validator(mode="after")
    def _check_data(self) -> Self:
        if any(d < 0 for d in self.shape):
            raise ValueError(f"tensor {self.name!r}: negative dimension in {self.shape}")
        count = 0
        low, high = _INT_RANGES.get(self.datatype, (0, 0))
        ranged = self.datatype in _INT_RANGES
        for value in _flatten(self.data):
            if not _element_ok(self.datatype, value):
                raise ValueError(
                    f"tensor {self.name!r}: element {value!r:.40} is not {self.datatype}"
                )
            if ranged and not low <= value <= high:
                raise PydanticCustomError(
                    TENSOR_VALUE_ERROR,
                    "tensor '{name}': element {value} is outside {datatype} [{low}, {high}]",
                    {"name": self.name, "value": value, "datatype": self.datatype,
                     "low": low, "high": high},
                )  # fmt: skip
            count += 1
        if count != math.prod(self.shape):
            raise ValueError(
                f"tensor {self.name!r}: {count} elements do not fill shape {self.shape}"
            )
        return self

    @property
    def content_type(self) -> str | None:
        """Return the `content_type` tensor parameter, if any."""
        value = (self.parameters or {}).get("content_type")
        return value if isinstance(value, str) else None

    def as_numpy(self) -> npt.NDArray[Any]:
        """Return the numeric data as an array of `shape` (not for BYTES)."""
        if self.datatype == "BYTES":
            raise ValueError(f"tensor {self.name!r} is BYTES; use as_bytes()")
        flat = list(_flatten(self.data))
        return np.asarray(flat, dtype=_NUMPY_DTYPES[self.datatype]).reshape(self.shape)

    def as_bytes(self) -> list[bytes]:
        """Return BYTES elements, base64-decoded when `content_type` is base64, else UTF-8."""
        if self.datatype != "BYTES":
            raise ValueError(f"tensor {self.name!r} is {self.datatype}, not BYTES")
        values: list[str] = list(_flatten(self.data))
        if self.content_type != BASE64_CONTENT_TYPE:
            return [v.encode() for v in values]
        try:
            return [base64.b64decode(v, validate=True) for v in values]
        except binascii.Error as exc:
            raise ValueError(f"tensor {self.name!r}: invalid base64: {exc}") from exc

    def as_strings(self) -> list[str]:
        """Return BYTES elements as the strings they are in JSON."""
        if self.datatype != "BYTES":
            raise ValueError(f"tensor {self.name!r} is {self.datatype}, not BYTES")
        return [str(v) for v in _flatten(self.data)]

    @classmethod
    def from_numpy(
        cls, name: str, array: npt.NDArray[Any], *, parameters: Parameters | None = None
    ) -> Self:
        """Build a numeric tensor from an array (flattened row-major)."""
        try:
            datatype = _DATATYPES[array.dtype.name]
        except KeyError:
            raise ValueError(f"no V2 datatype for numpy dtype {array.dtype}") from None
        return cls(
            name=name,
            shape=list(array.shape),
            datatype=datatype,
            parameters=parameters,
            data=array.reshape(-1).tolist(),
        )

    @classmethod
    def from_bytes(
        cls, name: str, items: Sequence[bytes], *, parameters: Parameters | None = None
    ) -> Self:
        """Build a BYTES tensor of shape [n], each item base64-encoded (MLServer's codec)."""
        params: Parameters = {**(parameters or {}), "content_type": BASE64_CONTENT_TYPE}
        return cls(
            name=name,
            shape=[len(items)],
            datatype="BYTES",
            parameters=params,
            data=[base64.b64encode(item).decode("ascii") for item in items],
        )

    @classmethod
    def from_strings(
        cls, name: str, items: Sequence[str], *, parameters: Parameters | None = None
    ) -> Self:
        """Build a BYTES tensor of shape [n] holding text."""
        return cls(
            name=name, shape=[len(items)], datatype="BYTES", parameters=parameters, data=list(items)
        )


class RequestInput(_Tensor):
    """One input tensor of an inference request."""


class ResponseOutput(_Tensor):
    """One output tensor of an inference response."""

    # Be lenient with what servers send beyond the spec's fields.
    model_config = ConfigDict(extra="ignore")


class RequestOutput(BaseModel):
    """An output the client asks for by name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Output tensor name.")
    parameters: Parameters | None = Field(None, description="Output parameters.")


class InferenceRequest(BaseModel):
    """Body of `POST /v2/models/{name}[/versions/{v}]/infer`."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Request id; the response echoes it.")
    parameters: Parameters | None = Field(None, description="Request parameters.")
    inputs: list[RequestInput] = Field(min_length=1, description="Input tensors.")
    outputs: list[RequestOutput] | None = Field(None, description="Requested outputs.")

    def input(self, name: str) -> RequestInput:
        """Return the input named `name` (KeyError if absent)."""
        for tensor in self.inputs:
            if tensor.name == name:
                return tensor
        raise KeyError(name)


class InferenceResponse(BaseModel):
    """Body of a successful infer answer."""

    # `model_name` is the spec's field name, not pydantic's protected namespace.
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_name: str = Field(description="Name of the model that answered.")
    model_version: str | None = Field(None, description="Version that answered.")
    id: str | None = Field(None, description="The request's id.")
    parameters: Parameters | None = Field(None, description="Response parameters.")
    outputs: list[ResponseOutput] = Field(description="Output tensors.")

    def output(self, name: str) -> ResponseOutput:
        """Return the output named `name` (KeyError if absent)."""
        for tensor in self.outputs:
            if tensor.name == name:
                return tensor
        raise KeyError(name)


class ErrorResponse(BaseModel):
    """The spec's error body: `{"error": "..."}`."""

    error: str = Field(description="What went wrong.")
