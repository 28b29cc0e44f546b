"""The float ONNX model of a trained network, the input of `dlactl compile`.

Opset 13, IR 7, input "input" (float32, symbolic batch N), output "logits" [N, 10]; Gemm
(transB=1), Conv, Relu, MaxPool and Flatten only. The weight initializers hold the network's
float32 values exactly — after weight sharing, each layer's ≤ 2^bits distinct values (0
included) — so the compiler can recognise the sharing and keep it when it quantizes.
A fixed producer and no doc strings: exporting the same weights gives the same bytes.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7
PRODUCER = "dlad-firmware-models"


def export(name, layers, input_shape, layer_names):
    """`layers` in mnistlib.networks form; `layer_names` maps trainable layer index → name."""
    nodes, initializers = [], []
    x = "input"
    for index, layer in enumerate(layers):
        kind = layer["type"]
        stem = layer_names.get(index, f"{kind}{index}")
        if kind in ("fc", "conv"):
            weight, bias = f"{stem}.weight", f"{stem}.bias"
            initializers += [numpy_helper.from_array(np.ascontiguousarray(layer["weight"], np.float32), weight),
                             numpy_helper.from_array(np.ascontiguousarray(layer["bias"], np.float32), bias)]
            if kind == "fc":
                nodes.append(helper.make_node("Gemm", [x, weight, bias], [stem], name=stem, transB=1))
            else:
                kh, kw = layer["weight"].shape[2:]
                nodes.append(helper.make_node("Conv", [x, weight, bias], [stem], name=stem, kernel_shape=[kh, kw],
                                              strides=[layer["stride"]] * 2, pads=[layer["padding"]] * 4))
        elif kind == "maxpool":
            nodes.append(helper.make_node("MaxPool", [x], [stem], name=stem, kernel_shape=[layer["kernel"]] * 2,
                                          strides=[layer["stride"]] * 2))
        elif kind == "flatten":
            nodes.append(helper.make_node("Flatten", [x], [stem], name=stem, axis=1))
        else:
            raise ValueError(f"unknown layer type {kind!r}")
        x = stem
        if layer.get("relu"):
            x = f"{stem}.relu"
            nodes.append(helper.make_node("Relu", [stem], [x], name=x))
    nodes[-1].output[0] = "logits"
    nodes[-1].name = "logits"
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *input_shape])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER,
                              producer_version="1")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def onnxruntime_logits(model, images, batch_size=1000):
    """Runs the model in ONNX Runtime (one thread) to check the export against numpy."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["logits"], {"input": images[start:start + batch_size]})[0]
                           for start in range(0, len(images), batch_size)])
