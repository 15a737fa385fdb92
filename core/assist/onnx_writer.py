"""The smallest tool for writing an ONNX graph by hand: nodes and initializers collected in
order, each helper returning the name of its output. Backbones whose packages carry weights but
no ONNX file are written out with it (`bert_graph`, `efficientnet_graph`), so the assist worker
needs no PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper


class GraphWriter:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.value_info: list[onnx.ValueInfoProto] = []
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: npt.ArrayLike, hint: str, dtype: npt.DTypeLike = np.float32) -> str:
        name = self._fresh(hint)
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        out = self._fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out
