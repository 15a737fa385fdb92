"""An image-feature ONNX graph of EfficientNet-Lite0, built from its PyTorch weights.

The package carrying the ImageNet weights ships a PyTorch checkpoint only, and exporting needs
PyTorch, which the assist worker must not carry. Lite0 is small and regular (no squeeze-and-
excitation, ReLU6 throughout), so it is written out here: a stem, 16 inverted-residual blocks
and a 1×1 head convolution, each batch norm folded into its convolution, TensorFlow's "same"
padding made explicit for the fixed input size, then global average pooling to 1280 features
(the classifier is left out). Checked against the reference PyTorch model in the unit tests."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper

from core.assist.onnx_writer import GraphWriter

OPSET = 17
INPUT = "input"
FEATURES = "features"
SIZE = 224
DIM = 1280
BN_EPS = 1e-3
STAGES = ((1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1))
"""(blocks, stride of the first) of each stage, as efficientnet_lite_builder defines Lite0."""

Weights = Mapping[str, npt.NDArray[Any]]


def build_feature_extractor(weights: Weights, name: str) -> onnx.ModelProto:
    """The ONNX model: input float32 [batch, 3, 224, 224] (RGB, (pixel - 127) / 128) →
    features float32 [batch, 1280]."""
    strides = [stride if n == 0 else 1 for blocks, stride in STAGES for n in range(blocks)]
    found = {key.split(".")[1] for key in weights if key.startswith("_blocks.")}
    if found != {str(n) for n in range(len(strides))}:
        raise ValueError(
            f"expected {len(strides)} blocks of EfficientNet-Lite0, found {len(found)}"
        )
    g = _Writer(weights)
    x, side = g.conv_bn(INPUT, "_conv_stem", "_bn0", stride=2, side=SIZE)
    x = g.relu6(x)
    for n, stride in enumerate(strides):
        x, side = g.block(x, f"_blocks.{n}", stride, side)
    x, side = g.conv_bn(x, "_conv_head", "_bn1", stride=1, side=side)
    pooled = g.op("GlobalAveragePool", [g.relu6(x)], "pool")
    g.nodes.append(helper.make_node("Flatten", [pooled], [FEATURES], name=FEATURES, axis=1))
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["batch", DIM])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="loupe"
    )
    onnx.checker.check_model(model)
    return model


class _Writer(GraphWriter):
    def __init__(self, weights: Weights) -> None:
        super().__init__()
        self.weights = weights
        self._relu6_range = [self.const(0.0, "zero"), self.const(6.0, "six")]

    def block(self, x: str, prefix: str, stride: int, side: int) -> tuple[str, int]:
        """An inverted residual: 1×1 expansion (absent in the first block), depthwise k×k,
        1×1 projection; the input is added back where the shape is kept."""
        expand = f"{prefix}._expand_conv"
        expands = f"{expand}.weight" in self.weights
        channels_in = (
            self.weights[f"{expand}.weight"]
            if expands
            else self.weights[f"{prefix}._project_conv.weight"]
        ).shape[1]
        y = x
        if expands:
            y = self.relu6(self.conv_bn(y, expand, f"{prefix}._bn0", 1, side)[0])
        y, out_side = self.conv_bn(
            y, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride, side, depthwise=True
        )
        y = self.relu6(y)
        y, _ = self.conv_bn(y, f"{prefix}._project_conv", f"{prefix}._bn2", 1, out_side)
        channels_out = self.weights[f"{prefix}._project_conv.weight"].shape[0]
        if stride == 1 and channels_in == channels_out:
            y = self.op("Add", [y, x], "residual")
        return y, out_side

    def conv_bn(
        self, x: str, conv: str, norm: str, stride: int, side: int, *, depthwise: bool = False
    ) -> tuple[str, int]:
        """A bias-free convolution followed by batch norm, folded into one convolution."""
        w = self.weights
        kernel = w[f"{conv}.weight"].astype(np.float64)
        scale = w[f"{norm}.weight"] / np.sqrt(w[f"{norm}.running_var"].astype(np.float64) + BN_EPS)
        folded = kernel * scale[:, None, None, None]
        bias = w[f"{norm}.bias"] - w[f"{norm}.running_mean"] * scale
        channels, _, k, _ = kernel.shape
        out_side = math.ceil(side / stride)
        pad = max((out_side - 1) * stride + k - side, 0)  # TensorFlow's "same"
        y = self.op(
            "Conv",
            [x, self.const(folded, f"{conv}.w"), self.const(bias, f"{conv}.b")],
            "conv",
            strides=[stride, stride],
            pads=[pad // 2, pad // 2, pad - pad // 2, pad - pad // 2],
            group=channels if depthwise else 1,
            kernel_shape=[k, k],
        )
        return y, out_side

    def relu6(self, x: str) -> str:
        return self.op("Clip", [x, *self._relu6_range], "relu6")
