"""A sentence-embedding ONNX graph of a BERT encoder, built from its safetensors weights.

The default text backbone ships as Hugging Face weights without an ONNX file, and exporting
needs PyTorch, which the assist worker must not carry. The encoder is small and regular, so it
is written out here with `onnx.helper`: embeddings, N post-LayerNorm layers with exact (erf)
GELU, then attention-mask mean pooling and L2 normalisation — what sentence-transformers
computes for all-MiniLM-L6-v2. Checked against sentence-transformers in the unit tests."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper

from core.assist.onnx_writer import GraphWriter

OPSET = 17
"""The first opset with LayerNormalization."""

INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
SENTENCE_EMBEDDING = "sentence_embedding"

MASKED_SCORE = -10000.0
"""Added to attention scores of padding; exp() of it is exactly 0 in float32."""

Weights = Mapping[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class BertShape:
    layers: int
    hidden: int
    heads: int
    layer_norm_eps: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BertShape:
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config['hidden_act']!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(
            layers=int(config["num_hidden_layers"]),
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            layer_norm_eps=float(config["layer_norm_eps"]),
        )


class _GraphWriter(GraphWriter):
    """The generic writer plus the few layers a BERT encoder is made of."""

    def split(self, x: str, sizes: list[int], hint: str) -> list[str]:
        """Split the last axis into parts of these sizes."""
        outs = [self._fresh(hint) for _ in sizes]
        sizes_name = self.const(sizes, f"{hint}_sizes", np.int64)
        self.nodes.append(helper.make_node("Split", [x, sizes_name], outs, name=outs[0], axis=-1))
        return outs

    def declare(self, name: str, dims: list[str | int]) -> None:
        """State a float tensor's shape where inference cannot see it (a dynamic slice)."""
        self.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))

    def linear(self, x: str, weights: Weights, prefix: str, scale: float = 1.0) -> str:
        """x @ W.T + b, with W stored [out, in] as in PyTorch; `scale` folds into W and b."""
        w = weights[f"{prefix}.weight"].T * scale
        b = weights[f"{prefix}.bias"] * scale
        product = self.op("MatMul", [x, self.const(w, f"{prefix}.w")], "matmul")
        return self.op("Add", [product, self.const(b, f"{prefix}.b")], "linear")

    def layer_norm(self, x: str, weights: Weights, prefix: str, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            [
                x,
                self.const(weights[f"{prefix}.weight"], "ln.g"),
                self.const(weights[f"{prefix}.bias"], "ln.b"),
            ],
            "layer_norm",
            axis=-1,
            epsilon=eps,
        )

    def gelu(self, x: str) -> str:
        """0.5·x·(1 + erf(x/√2)): BERT's exact GELU (the Gelu op arrives only in opset 20),
        written as Hugging Face exports it so that onnxruntime fuses it into one kernel."""
        scaled = self.op("Div", [x, self.const(math.sqrt(2), "sqrt2")], "gelu_in")
        one_plus = self.op(
            "Add", [self.op("Erf", [scaled], "erf"), self.const(1.0, "one")], "gelu_1p"
        )
        return self.op(
            "Mul", [self.op("Mul", [x, one_plus], "gelu_x"), self.const(0.5, "half")], "gelu"
        )


def build_sentence_encoder(weights: Weights, shape: BertShape, name: str) -> onnx.ModelProto:
    """The ONNX model: (input_ids, attention_mask) int64 [batch, tokens] → sentence_embedding
    float32 [batch, hidden], unit length. Single-segment input only: the token type is always 0,
    so its embedding row is folded into the position table."""
    if shape.hidden % shape.heads:
        raise ValueError("hidden size must divide into the heads")
    g = _GraphWriter()
    x = _embeddings(g, weights, shape)
    mask = g.op("Cast", [ATTENTION_MASK], "mask_f", to=TensorProto.FLOAT)
    score_bias = _padding_score_bias(g, mask)
    for layer in range(shape.layers):
        x = _encoder_layer(g, weights, shape, f"encoder.layer.{layer}", x, score_bias)
    pooled = _masked_mean(g, x, mask)
    _l2_normalise(g, pooled, SENTENCE_EMBEDDING)

    graph = helper.make_graph(
        g.nodes,
        name,
        inputs=[
            helper.make_tensor_value_info(INPUT_IDS, TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(ATTENTION_MASK, TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs=[
            helper.make_tensor_value_info(
                SENTENCE_EMBEDDING, TensorProto.FLOAT, ["batch", shape.hidden]
            )
        ],
        initializer=g.initializers,
        value_info=g.value_info,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="loupe"
    )
    onnx.checker.check_model(model)
    return model


def _embeddings(g: _GraphWriter, weights: Weights, shape: BertShape) -> str:
    words = g.op(
        "Gather",
        [g.const(weights["embeddings.word_embeddings.weight"], "word_emb"), INPUT_IDS],
        "words",
    )
    positions_and_type = (
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    # The first `tokens` rows of the position table.
    tokens = g.op("Shape", [INPUT_IDS], "tokens", start=1, end=2)
    positions = g.op(
        "Slice",
        [
            g.const(positions_and_type, "pos_emb"),
            g.const([0], "zero", np.int64),
            tokens,
            g.const([0], "axis0", np.int64),
        ],
        "positions",
    )
    # Without this the token axis is unknown downstream, and onnxruntime, unable to prove that
    # residual and branch have one shape, leaves Add + LayerNormalization unfused.
    g.declare(positions, ["tokens", shape.hidden])
    summed = g.op("Add", [words, positions], "embedded")
    return g.layer_norm(summed, weights, "embeddings.LayerNorm", shape.layer_norm_eps)


def _padding_score_bias(g: _GraphWriter, mask: str) -> str:
    """[batch, 1, 1, tokens]: 0 for real tokens, MASKED_SCORE for padding."""
    padding = g.op("Sub", [g.const(1.0, "one"), mask], "padding")
    bias = g.op("Mul", [padding, g.const(MASKED_SCORE, "masked")], "score_bias")
    return g.op("Unsqueeze", [bias, g.const([1, 2], "axes12", np.int64)], "score_bias4")


def _encoder_layer(
    g: _GraphWriter, weights: Weights, shape: BertShape, prefix: str, x: str, score_bias: str
) -> str:
    head_dim = shape.hidden // shape.heads
    split = g.const([0, 0, shape.heads, head_dim], "split_heads", np.int64)
    merge = g.const([0, 0, shape.hidden], "merge_heads", np.int64)

    def heads(projection: str, perm: list[int]) -> str:
        return g.op(
            "Transpose", [g.op("Reshape", [projection, split], "split")], "heads", perm=perm
        )

    # One GEMM for query, key and value beats three narrow ones; 1/√d is folded into the query
    # weights rather than applied to every score.
    names = ("query", "key", "value")
    scales = (1 / math.sqrt(head_dim), 1.0, 1.0)
    stacked = {
        f"{prefix}.qkv.{part}": np.concatenate(
            [
                weights[f"{prefix}.attention.self.{n}.{part}"] * s
                for n, s in zip(names, scales, strict=True)
            ]
        )
        for part in ("weight", "bias")
    }
    qkv = g.linear(x, stacked, f"{prefix}.qkv")
    q_flat, k_flat, v_flat = g.split(qkv, [shape.hidden] * 3, "qkv")
    q = heads(q_flat, [0, 2, 1, 3])
    k = heads(k_flat, [0, 2, 3, 1])
    v = heads(v_flat, [0, 2, 1, 3])
    scores = g.op("Add", [g.op("MatMul", [q, k], "scores"), score_bias], "masked_scores")
    attention = g.op("Softmax", [scores], "attention", axis=-1)
    context = g.op("MatMul", [attention, v], "context")
    context = g.op(
        "Reshape", [g.op("Transpose", [context], "ctx_t", perm=[0, 2, 1, 3]), merge], "ctx"
    )
    attended = g.linear(context, weights, f"{prefix}.attention.output.dense")
    x = g.layer_norm(
        g.op("Add", [attended, x], "residual"),
        weights,
        f"{prefix}.attention.output.LayerNorm",
        shape.layer_norm_eps,
    )
    inner = g.gelu(g.linear(x, weights, f"{prefix}.intermediate.dense"))
    out = g.linear(inner, weights, f"{prefix}.output.dense")
    return g.layer_norm(
        g.op("Add", [out, x], "residual"),
        weights,
        f"{prefix}.output.LayerNorm",
        shape.layer_norm_eps,
    )


def _masked_mean(g: _GraphWriter, x: str, mask: str) -> str:
    """Mean of the token vectors over real tokens (sentence-transformers' mean pooling)."""
    axis1 = g.const([1], "axis1", np.int64)
    mask3 = g.op("Unsqueeze", [mask, g.const([2], "axis2", np.int64)], "mask3")
    total = g.op("ReduceSum", [g.op("Mul", [x, mask3], "masked"), axis1], "total", keepdims=0)
    count = g.op("ReduceSum", [mask3, axis1], "count", keepdims=0)
    count = g.op("Max", [count, g.const(1e-9, "count_floor")], "count_safe")
    return g.op("Div", [total, count], "mean")


def _l2_normalise(g: _GraphWriter, x: str, output: str) -> None:
    # Opset 17's ReduceL2 still takes its axes as an attribute (ReduceSum's moved in 13).
    norm = g.op("ReduceL2", [x], "norm", axes=[1], keepdims=1)
    norm = g.op("Max", [norm, g.const(1e-12, "norm_floor")], "norm_safe")
    g.nodes.append(helper.make_node("Div", [x, norm], [output], name=output))
