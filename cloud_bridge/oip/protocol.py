"""Pydantic v2 models of the Open Inference Protocol (KServe V2) REST bodies.

Tensor `data` is row-major, either flat or nested as the spec allows; its element count
must match `shape` and its element types the `datatype`. In JSON, `BYTES` elements are
strings. Binary content (a JPEG) travels one of two ways:

- JSON: base64 text in those strings, with the tensor parameter
  ``content_type: "base64"``. That is MLServer's convention (its `Base64Codec` decodes
  it), not the spec's: other servers hand the model the base64 text.
- The spec's binary tensor data extension: the body is the JSON header followed by the
  tensors' raw bytes, `Inference-Header-Content-Length` gives the header's length and
  each binary tensor has no `data` but a `binary_data_size` parameter. Numbers are
  little-endian, row-major; each BYTES element is a 4-byte little-endian length then its
  bytes. `binary_data_output: true` (a request parameter) asks for binary outputs.

`to_wire` / `from_wire` write and read either form; `RequestInput.from_bytes` /
`from_numpy` build a tensor in either; `as_bytes` / `as_numpy` read both.

Parameters are scalars (string, number, boolean), as the spec says; KServe answers a
nested value with 422. Servers' answers are read leniently (`ResponseParameters`).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "BASE64_CONTENT_TYPE",
    "BINARY_DATA_OUTPUT",
    "BINARY_DATA_SIZE",
    "BINARY_EXTENSION",
    "INFERENCE_HEADER",
    "TENSOR_VALUE_ERROR",
    "Datatype",
    "ErrorResponse",
    "InferenceRequest",
    "InferenceResponse",
    "MetadataTensor",
    "ModelMetadata",
    "Parameter",
    "Parameters",
    "RequestInput",
    "RequestOutput",
    "ResponseOutput",
    "ResponseParameters",
    "ServerMetadata",
    "WireBody",
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
Parameter = StrictBool | StrictInt | StrictFloat | StrictStr
"""One parameter value: the spec allows a string, a number or a boolean, nothing nested."""
Parameters = dict[str, Parameter]
ResponseParameters = dict[str, JsonValue]
"""What a server may answer with; read leniently (MLServer nests `headers`)."""
BASE64_CONTENT_TYPE = "base64"
INFERENCE_HEADER = "Inference-Header-Content-Length"
"""The binary extension's header: the length in bytes of the JSON part of the body."""
BINARY_DATA_SIZE = "binary_data_size"
BINARY_DATA_OUTPUT = "binary_data_output"
BINARY_EXTENSION = "binary_tensor_data"
"""The extension's name in server metadata (`GET /v2` `extensions`), as Triton lists it."""
JSON_CONTENT_TYPE = "application/json"
BINARY_CONTENT_TYPE = "application/octet-stream"
_LENGTH = struct.Struct("<I")

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


def _split_bytes(raw: bytes, name: str) -> list[bytes]:
    """Split a binary BYTES tensor into its elements (each: uint32 LE length, bytes)."""
    items: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + _LENGTH.size > len(raw):
            raise ValueError(f"tensor {name!r}: binary BYTES data ends inside a length prefix")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise ValueError(
                f"tensor {name!r}: binary BYTES element of {length} bytes overruns the data"
            )
        items.append(raw[offset : offset + length])
        offset += length
    return items


def _join_bytes(items: Sequence[bytes]) -> bytes:
    return b"".join(_LENGTH.pack(len(item)) + item for item in items)


class _Tensor(BaseModel):
    """Fields and checks shared by request inputs and response outputs.

    A tensor holds its elements either as JSON `data` or as binary bytes (the binary
    tensor data extension): then `data` is absent, the `binary_data_size` parameter gives
    the byte count, and the bytes come from the body after the JSON header.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Tensor name, as the model declares it.")
    shape: list[int] = Field(description="Dimensions; the data hold their product elements.")
    datatype: Datatype = Field(description="Element type, a KServe V2 datatype name.")
    parameters: Parameters | None = Field(None, description="Tensor parameters.")
    data: list[Any] | None = Field(
        None,
        description="Row-major elements, flat or nested; absent when the tensor travels as "
        "binary data (`binary_data_size`).",
    )
    _raw: bytes | None = PrivateAttr(None)
    _items: list[bytes] | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _check_data(self) -> Self:
        if any(d < 0 for d in self.shape):
            raise ValueError(f"tensor {self.name!r}: negative dimension in {self.shape}")
        size = (self.parameters or {}).get(BINARY_DATA_SIZE)
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ValueError(f"tensor {self.name!r}: {BINARY_DATA_SIZE} must be a count of bytes")
        if self.data is None:
            if size is None:
                raise ValueError(f"tensor {self.name!r}: neither `data` nor {BINARY_DATA_SIZE}")
            return self  # the bytes are checked when attached (`_attach`)
        if size is not None:
            raise ValueError(f"tensor {self.name!r}: both `data` and {BINARY_DATA_SIZE}")
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
    def binary_data_size(self) -> int | None:
        """The byte count of a binary tensor, else None."""
        size = (self.parameters or {}).get(BINARY_DATA_SIZE)
        return size if isinstance(size, int) else None

    @property
    def is_binary(self) -> bool:
        """Whether the elements travel as binary data rather than JSON."""
        return self.data is None

    @property
    def raw(self) -> bytes:
        """The binary bytes of a binary tensor (ValueError for a JSON one)."""
        if self._raw is None:
            raise ValueError(f"tensor {self.name!r} has no binary data")
        return self._raw

    def _attach(self, raw: bytes) -> None:
        """Take this tensor's bytes from a binary body, checking they fill `shape`."""
        count = math.prod(self.shape)
        if self.datatype == "BYTES":
            items = _split_bytes(raw, self.name)
            if len(items) != count:
                raise ValueError(
                    f"tensor {self.name!r}: {len(items)} binary elements do not fill "
                    f"shape {self.shape}"
                )
            self._items = items
        else:
            itemsize = np.dtype(_NUMPY_DTYPES[self.datatype]).itemsize
            if len(raw) != count * itemsize:
                raise ValueError(
                    f"tensor {self.name!r}: {len(raw)} binary bytes do not fill shape "
                    f"{self.shape} of {self.datatype}"
                )
        self._raw = raw

    @property
    def content_type(self) -> str | None:
        """Return the `content_type` tensor parameter, if any."""
        value = (self.parameters or {}).get("content_type")
        return value if isinstance(value, str) else None

    def as_numpy(self) -> npt.NDArray[Any]:
        """Return the numeric data as an array of `shape` (not for BYTES)."""
        if self.datatype == "BYTES":
            raise ValueError(f"tensor {self.name!r} is BYTES; use as_bytes()")
        dtype = np.dtype(_NUMPY_DTYPES[self.datatype])
        if self.data is None:
            wire = np.frombuffer(self.raw, dtype=dtype.newbyteorder("<"))
            return wire.astype(dtype).reshape(self.shape)
        flat = list(_flatten(self.data))
        return np.asarray(flat, dtype=dtype).reshape(self.shape)

    def as_bytes(self) -> list[bytes]:
        """Return BYTES elements: binary as sent, base64-decoded for content_type base64,
        else UTF-8."""
        if self.datatype != "BYTES":
            raise ValueError(f"tensor {self.name!r} is {self.datatype}, not BYTES")
        if self.data is None:
            if self._items is None:
                raise ValueError(f"tensor {self.name!r} has no binary data")
            return list(self._items)
        values: list[str] = list(_flatten(self.data))
        if self.content_type != BASE64_CONTENT_TYPE:
            return [v.encode() for v in values]
        try:
            return [base64.b64decode(v, validate=True) for v in values]
        except binascii.Error as exc:
            raise ValueError(f"tensor {self.name!r}: invalid base64: {exc}") from exc

    def as_strings(self) -> list[str]:
        """Return BYTES elements as text (binary elements decoded as UTF-8)."""
        if self.datatype != "BYTES":
            raise ValueError(f"tensor {self.name!r} is {self.datatype}, not BYTES")
        if self.data is None:
            try:
                return [item.decode("utf-8") for item in self.as_bytes()]
            except UnicodeDecodeError as exc:
                raise ValueError(f"tensor {self.name!r}: binary element is not UTF-8") from exc
        return [str(v) for v in _flatten(self.data)]

    @classmethod
    def from_numpy(
        cls,
        name: str,
        array: npt.NDArray[Any],
        *,
        parameters: Parameters | None = None,
        binary: bool = False,
    ) -> Self:
        """Build a numeric tensor from an array (row-major), as JSON or `binary` data."""
        try:
            datatype = _DATATYPES[array.dtype.name]
        except KeyError:
            raise ValueError(f"no V2 datatype for numpy dtype {array.dtype}") from None
        if not binary:
            return cls(
                name=name,
                shape=list(array.shape),
                datatype=datatype,
                parameters=parameters,
                data=array.reshape(-1).tolist(),
            )
        raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        return cls._binary(name, list(array.shape), datatype, raw, parameters)

    @classmethod
    def from_bytes(
        cls,
        name: str,
        items: Sequence[bytes],
        *,
        parameters: Parameters | None = None,
        binary: bool = False,
    ) -> Self:
        """Build a BYTES tensor of shape [n]: `binary` data, else base64 text (MLServer's
        codec)."""
        if binary:
            return cls._binary(name, [len(items)], "BYTES", _join_bytes(items), parameters)
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
        cls,
        name: str,
        items: Sequence[str],
        *,
        parameters: Parameters | None = None,
        binary: bool = False,
    ) -> Self:
        """Build a BYTES tensor of shape [n] holding text."""
        if binary:
            return cls.from_bytes(
                name, [item.encode() for item in items], parameters=parameters, binary=True
            )
        return cls(
            name=name, shape=[len(items)], datatype="BYTES", parameters=parameters, data=list(items)
        )

    @classmethod
    def _binary(
        cls,
        name: str,
        shape: list[int],
        datatype: str,
        raw: bytes,
        parameters: Parameters | None,
    ) -> Self:
        params: Parameters = {**(parameters or {}), BINARY_DATA_SIZE: len(raw)}
        tensor = cls(name=name, shape=shape, datatype=datatype, parameters=params)
        tensor._attach(raw)
        return tensor


class RequestInput(_Tensor):
    """One input tensor of an inference request."""


class ResponseOutput(_Tensor):
    """One output tensor of an inference response."""

    # Be lenient with what servers send beyond the spec's fields.
    model_config = ConfigDict(extra="ignore")

    # Servers add what they like here (MLServer nests `headers`): read leniently.
    parameters: ResponseParameters | None = Field(  # type: ignore[assignment]
        None, description="Tensor parameters."
    )


class RequestOutput(BaseModel):
    """An output the client asks for by name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Output tensor name.")
    parameters: Parameters | None = Field(None, description="Output parameters.")


@dataclass(slots=True, frozen=True)
class WireBody:
    """A request or response body as sent: JSON, or JSON header + binary tensor data."""

    body: bytes
    json_length: int | None
    """The JSON header's length (the `Inference-Header-Content-Length`); None: all JSON."""

    @property
    def headers(self) -> dict[str, str]:
        """The HTTP headers that describe this body."""
        if self.json_length is None:
            return {"Content-Type": JSON_CONTENT_TYPE}
        return {"Content-Type": BINARY_CONTENT_TYPE, INFERENCE_HEADER: str(self.json_length)}


def _attach_binary(tensors: Sequence[_Tensor], info: ValidationInfo) -> None:
    """Give each binary tensor its slice of the body's binary part (from the context)."""
    context = info.context if isinstance(info.context, dict) else {}
    tail = context.get("binary")
    binary = [t for t in tensors if t.data is None and t._raw is None]
    if tail is None:
        if binary:
            raise ValueError(
                f"tensor {binary[0].name!r} has {BINARY_DATA_SIZE} but the body has no "
                f"binary part (no {INFERENCE_HEADER} header)"
            )
        return
    offset = 0
    for tensor in binary:
        size = tensor.binary_data_size or 0
        if offset + size > len(tail):
            raise ValueError(
                f"tensor {tensor.name!r}: {BINARY_DATA_SIZE} {size} overruns the "
                f"{len(tail)}-byte binary part"
            )
        tensor._attach(bytes(tail[offset : offset + size]))
        offset += size
    if offset != len(tail):
        raise ValueError(f"the binary part has {len(tail)} bytes, the tensors claim {offset}")


class _Message(BaseModel):
    """Shared by requests and responses: the wire form, JSON or binary."""

    def _tensors(self) -> Sequence[_Tensor]:
        raise NotImplementedError

    def to_wire(self) -> WireBody:
        """Encode as the body to send: JSON, or binary when any tensor is binary."""
        header = self.model_dump_json(exclude_none=True).encode()
        parts = [t.raw for t in self._tensors() if t.data is None]
        if not parts:
            return WireBody(header, None)
        return WireBody(header + b"".join(parts), len(header))

    @classmethod
    def from_wire(cls, body: bytes, json_length: int | None = None) -> Self:
        """Decode a body; `json_length` is the `Inference-Header-Content-Length`, if any.

        Raises pydantic's ValidationError (or ValueError for a bad `json_length`).
        """
        if json_length is None:
            return cls.model_validate_json(body)
        if not 0 < json_length <= len(body):
            raise ValueError(
                f"{INFERENCE_HEADER} {json_length} does not fit a {len(body)}-byte body"
            )
        tail = memoryview(body)[json_length:]
        return cls.model_validate_json(body[:json_length], context={"binary": tail})


class InferenceRequest(_Message):
    """Body of `POST /v2/models/{name}[/versions/{v}]/infer`."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Request id; the response echoes it.")
    parameters: Parameters | None = Field(None, description="Request parameters.")
    inputs: list[RequestInput] = Field(min_length=1, description="Input tensors.")
    outputs: list[RequestOutput] | None = Field(None, description="Requested outputs.")

    @model_validator(mode="after")
    def _binary_part(self, info: ValidationInfo) -> Self:
        _attach_binary(self.inputs, info)
        return self

    def _tensors(self) -> Sequence[_Tensor]:
        return self.inputs

    def input(self, name: str) -> RequestInput:
        """Return the input named `name` (KeyError if absent)."""
        for tensor in self.inputs:
            if tensor.name == name:
                return tensor
        raise KeyError(name)

    @property
    def wants_binary_output(self) -> bool:
        """Whether the client asked for binary outputs (`binary_data_output: true`)."""
        return (self.parameters or {}).get(BINARY_DATA_OUTPUT) is True


class InferenceResponse(_Message):
    """Body of a successful infer answer."""

    # `model_name` is the spec's field name, not pydantic's protected namespace.
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model_name: str = Field(description="Name of the model that answered.")
    model_version: str | None = Field(None, description="Version that answered.")
    id: str | None = Field(None, description="The request's id.")
    parameters: ResponseParameters | None = Field(None, description="Response parameters.")
    outputs: list[ResponseOutput] = Field(description="Output tensors.")

    @model_validator(mode="after")
    def _binary_part(self, info: ValidationInfo) -> Self:
        _attach_binary(self.outputs, info)
        return self

    def _tensors(self) -> Sequence[_Tensor]:
        return self.outputs

    def output(self, name: str) -> ResponseOutput:
        """Return the output named `name` (KeyError if absent)."""
        for tensor in self.outputs:
            if tensor.name == name:
                return tensor
        raise KeyError(name)

    def as_binary(self) -> InferenceResponse:
        """A copy whose outputs travel as binary data (for `binary_data_output`)."""
        outputs = [
            out
            if out.data is None
            else (
                ResponseOutput.from_bytes(out.name, out.as_bytes(), binary=True)
                if out.datatype == "BYTES"
                else ResponseOutput.from_numpy(out.name, out.as_numpy(), binary=True)
            )
            for out in self.outputs
        ]
        return self.model_copy(update={"outputs": outputs})


class ErrorResponse(BaseModel):
    """The spec's error body: `{"error": "..."}`."""

    error: str = Field(description="What went wrong.")


class MetadataTensor(BaseModel):
    """One input or output as a model's metadata declares it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="Tensor name.")
    datatype: str = Field(description="Element type; servers may use names beyond the spec's.")
    shape: list[int] = Field(description="Dimensions; -1 for a variable one.")


class ModelMetadata(BaseModel):
    """Body of `GET /v2/models/{name}[/versions/{v}]`."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="Model name.")
    versions: list[str] | None = Field(None, description="Versions the server holds.")
    platform: str = Field("", description="Framework or server-specific platform name.")
    inputs: list[MetadataTensor] = Field(default_factory=list, description="Inputs.")
    outputs: list[MetadataTensor] = Field(default_factory=list, description="Outputs.")


class ServerMetadata(BaseModel):
    """Body of `GET /v2`: the server's name, version and protocol extensions."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="Server name.")
    version: str = Field("", description="Server version.")
    extensions: list[str] = Field(default_factory=list, description="Extensions it supports.")
