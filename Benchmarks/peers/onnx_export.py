"""Writes an ONNX QDQ model from the shared quantized parameters.

Every quantized tensor appears as QuantizeLinear -> DequantizeLinear around the float op
(Gemm, Conv, MaxPool, Flatten), the form ONNX Runtime's QDQ transformers fuse into integer
kernels (QGemm, QLinearConv, int8 MaxPool). Weights are int8 initializers dequantized per
output channel (axis 0), biases int32 with scale input_scale * weight_scale. A fused ReLU needs
no node: its output zero point is -128, so QuantizeLinear's saturation is the ReLU (ONNX
Runtime's own quantizer drops such Relu nodes the same way).
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class QDQGraph:
    """An ONNX graph under construction: initializers, nodes, and QuantizeLinear/DequantizeLinear
    pairs (INT8 activations) around them."""

    def __init__(self):
        self.nodes, self.initializers = [], []

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, output, **attributes):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def quantize(self, name, x, scale, zero_point):
        s = self.constant(f"{name}_scale", np.array(scale, np.float32))
        z = self.constant(f"{name}_zero_point", np.array(zero_point, np.int8))
        q = self.node("QuantizeLinear", [x, s, z], f"{name}_q")
        return self.node("DequantizeLinear", [q, s, z], f"{name}_dq")

    def dequantized_constant(self, name, codes, scales, zero_dtype=None):
        c = self.constant(name, codes)
        s = self.constant(f"{name}_scale", scales.astype(np.float32))
        z = self.constant(f"{name}_zero_point", np.zeros(len(scales), zero_dtype or codes.dtype))
        return self.node("DequantizeLinear", [c, s, z], f"{name}_dq", axis=0)


def build_quantized(model):
    """Returns the serialized ONNX model of a quantized model (see quantization.quantize_network)."""
    g = QDQGraph()
    x = g.quantize("input", "input", model["input_scale"], model["input_zero_point"])
    for index, layer in enumerate(model["layers"]):
        name = f"layer{index}_{layer['type']}"
        if layer["type"] in ("fc", "conv"):
            w = g.dequantized_constant(f"{name}_weight", layer["weight"].astype(np.int8), layer["weight_scales"], np.int8)
            b = g.dequantized_constant(f"{name}_bias", layer["bias"].astype(np.int32), layer["bias_scales"], np.int32)
            if layer["type"] == "fc":
                y = g.node("Gemm", [x, w, b], name, transB=1)
            else:
                kh, kw = layer["weight"].shape[2:]
                p = layer["padding"]
                y = g.node("Conv", [x, w, b], name, kernel_shape=[kh, kw], strides=[layer["stride"]] * 2, pads=[p] * 4)
        elif layer["type"] == "maxpool":
            y = g.node("MaxPool", [x], name, kernel_shape=[layer["kernel"]] * 2, strides=[layer["stride"]] * 2)
        elif layer["type"] == "flatten":
            y = g.node("Flatten", [x], name, axis=1)
        x = g.quantize(name, y, layer["output_scale"], layer["output_zero_point"])
    g.nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        g.nodes, model["name"],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N"] + list(model["input_shape"]))],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N"] + list(model["output_shape"]))],
        g.initializers)
    return _finish(graph)


def build_identity(width):
    """A float32 [N, width] -> [N, width] Identity graph, to time the per-call overhead."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])], "identity",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", width])])
    return _finish(graph)


def _finish(graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="dlad-peer-benchmarks")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
