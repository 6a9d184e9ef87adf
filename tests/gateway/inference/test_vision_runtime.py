"""Loading models: what LiteRT accepts, and the errors that name the file when it does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.errors import ModelError
from gateway.inference.interpreter import TFLiteModel, load_interpreter


def test_text_file_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.tflite"
    path.write_text("this is not a model\n")

    with pytest.raises(ModelError, match=r"notes\.tflite is not a TFLite model"):
        TFLiteModel(path)


def test_random_bytes_are_not_a_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    noise = tmp_path / "noise.tflite"
    noise.write_bytes(rng.bytes(4096))
    # Random bytes that even carry the identifier reach LiteRT, which refuses them too.
    disguised = tmp_path / "disguised.tflite"
    disguised.write_bytes(rng.bytes(4) + b"TFL3" + rng.bytes(4096))

    with pytest.raises(ModelError, match=r"noise\.tflite is not a TFLite model"):
        load_interpreter(noise)
    with pytest.raises(ModelError, match=r"disguised\.tflite cannot be loaded"):
        load_interpreter(disguised)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_interpreter(tmp_path / "absent.tflite")


# LiteRT's Delegate.__del__ trips over its own half-built object after a failed load.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_missing_delegate_is_a_clear_error(model_paths: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match=r"cannot load delegate 'libedgetpu-absent\.so\.1'"):
        load_interpreter(model_paths["blazeface_short"], delegate="libedgetpu-absent.so.1")


def test_model_details_and_invoke(model_paths: dict[str, Path]) -> None:
    model = TFLiteModel(model_paths["efficientnet_lite0"], num_threads=2)

    assert model.input.shape == (1, 224, 224, 3)
    assert model.input.dtype == np.uint8
    assert model.input.quantized
    assert [o.shape for o in model.outputs] == [(1, 1000)]
    (out,) = model.invoke(np.zeros(model.input.shape, np.uint8))
    assert out.shape == (1, 1000)
    probs = model.outputs[0].dequantize(out)
    # A uint8 softmax drops probabilities below 1/256: the sum is at most 1.
    assert probs.min() >= 0.0
    assert probs.sum() <= 1.0 + 1e-6


def test_invoke_refuses_the_wrong_tensor(model_paths: dict[str, Path]) -> None:
    model = TFLiteModel(model_paths["blazeface_short"])

    with pytest.raises(ModelError, match=r"takes float32 \[1, 128, 128, 3\], got uint8"):
        model.invoke(np.zeros((1, 128, 128, 3), np.uint8))
