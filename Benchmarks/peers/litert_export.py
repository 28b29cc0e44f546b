"""Writes a fully-INT8 LiteRT (.tflite) model from the shared quantized parameters, without TensorFlow.

The flatbuffer is built with the schema module that ai-edge-litert ships. LiteRT works in
NHWC, so convolution weights become [out, kh, kw, in] and the first fully connected layer
after a flatten has its input columns permuted from (c, h, w) to (h, w, c): the same integer
products summed in another order, so the outputs are identical. The graph takes float32 input
and returns float32 logits (QUANTIZE first, DEQUANTIZE last), like the ONNX QDQ model.
"""
import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

_OP_VERSIONS = {  # the versions TFLite's own converter writes for these int8 signatures
    schema.BuiltinOperator.QUANTIZE: 2,
    schema.BuiltinOperator.DEQUANTIZE: 2,
    schema.BuiltinOperator.FULLY_CONNECTED: 4,
    schema.BuiltinOperator.CONV_2D: 3,
    schema.BuiltinOperator.MAX_POOL_2D: 2,
    schema.BuiltinOperator.RESHAPE: 1,
}


class _GraphBuilder:
    def __init__(self):
        self.buffers = [schema.BufferT()]  # buffer 0 is the empty sentinel
        self.tensors, self.operators, self.opcodes = [], [], []

    def tensor(self, name, shape, dtype, scale=None, zero_point=None, data=None, axis=0):
        buffer = 0
        if data is not None:
            self.buffers.append(schema.BufferT(data=np.ascontiguousarray(data).view(np.uint8).ravel()))
            buffer = len(self.buffers) - 1
        quantization = None
        if scale is not None:
            quantization = schema.QuantizationParametersT(
                scale=[float(s) for s in np.atleast_1d(scale)],
                zeroPoint=[int(z) for z in np.atleast_1d(zero_point)], quantizedDimension=axis)
        signature = [-1] + list(shape[1:]) if data is None else list(shape)
        self.tensors.append(schema.TensorT(shape=list(shape), type=dtype, buffer=buffer, name=name,
                                           quantization=quantization, shapeSignature=signature))
        return len(self.tensors) - 1

    def operator(self, code, inputs, outputs, options_type=0, options=None):
        if code not in self.opcodes:
            self.opcodes.append(code)
        self.operators.append(schema.OperatorT(opcodeIndex=self.opcodes.index(code), inputs=inputs, outputs=outputs,
                                               builtinOptionsType=options_type, builtinOptions=options))

    def serialize(self, inputs, outputs, description):
        subgraph = schema.SubGraphT(tensors=self.tensors, inputs=inputs, outputs=outputs,
                                    operators=self.operators, name="main")
        codes = [schema.OperatorCodeT(deprecatedBuiltinCode=c, builtinCode=c, version=_OP_VERSIONS[c])
                 for c in self.opcodes]
        model = schema.ModelT(version=3, operatorCodes=codes, subgraphs=[subgraph],
                              description=description, buffers=self.buffers)
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _nhwc(shape):
    return [shape[1], shape[2], shape[0]] if len(shape) == 3 else list(shape)


def build_quantized(model):
    """Returns the .tflite bytes of a quantized model (see quantization.quantize_network)."""
    g = _GraphBuilder()
    int8, int32, float32 = schema.TensorType.INT8, schema.TensorType.INT32, schema.TensorType.FLOAT32
    shape = _nhwc(model["input_shape"])
    graph_input = g.tensor("input", [1] + shape, float32)
    x = g.tensor("input_q", [1] + shape, int8, model["input_scale"], model["input_zero_point"])
    g.operator(schema.BuiltinOperator.QUANTIZE, [graph_input], [x])
    flattened_from = None
    for index, layer in enumerate(model["layers"]):
        out_shape = [1] + _nhwc(layer["output_shape"])
        y = g.tensor(f"layer{index}_{layer['type']}", out_shape, int8, layer["output_scale"], layer["output_zero_point"])
        activation = schema.ActivationFunctionType.RELU if layer.get("relu") else schema.ActivationFunctionType.NONE
        if layer["type"] in ("fc", "conv"):
            weight = layer["weight"]
            if layer["type"] == "conv":
                weight = weight.transpose(0, 2, 3, 1)
            elif flattened_from is not None:
                c, h, w = flattened_from
                weight = weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
                flattened_from = None
            w_index = g.tensor(f"layer{index}_weight", list(weight.shape), int8, layer["weight_scales"],
                               np.zeros(weight.shape[0], np.int64), data=weight.astype(np.int8))
            b_index = g.tensor(f"layer{index}_bias", [weight.shape[0]], int32, layer["bias_scales"],
                               np.zeros(weight.shape[0], np.int64), data=layer["bias"].astype(np.int32))
            if layer["type"] == "fc":
                options = schema.FullyConnectedOptionsT(fusedActivationFunction=activation)
                g.operator(schema.BuiltinOperator.FULLY_CONNECTED, [x, w_index, b_index], [y],
                           schema.BuiltinOptions.FullyConnectedOptions, options)
            else:
                if layer["padding"] != 0:
                    raise ValueError("LiteRT export: only unpadded (VALID) convolutions are benchmarked")
                options = schema.Conv2DOptionsT(padding=schema.Padding.VALID, strideW=layer["stride"],
                                                strideH=layer["stride"], fusedActivationFunction=activation)
                g.operator(schema.BuiltinOperator.CONV_2D, [x, w_index, b_index], [y],
                           schema.BuiltinOptions.Conv2DOptions, options)
        elif layer["type"] == "maxpool":
            options = schema.Pool2DOptionsT(padding=schema.Padding.VALID, strideW=layer["stride"], strideH=layer["stride"],
                                            filterWidth=layer["kernel"], filterHeight=layer["kernel"])
            g.operator(schema.BuiltinOperator.MAX_POOL_2D, [x], [y], schema.BuiltinOptions.Pool2DOptions, options)
        elif layer["type"] == "flatten":
            flattened_from = layer["input_shape"]
            new_shape = g.tensor(f"layer{index}_shape", [2], int32, data=np.array([-1, out_shape[1]], np.int32))
            g.operator(schema.BuiltinOperator.RESHAPE, [x, new_shape], [y], schema.BuiltinOptions.ReshapeOptions,
                       schema.ReshapeOptionsT(newShape=[-1, out_shape[1]]))
        x = y
    graph_output = g.tensor("logits", [1] + list(model["output_shape"]), float32)
    g.operator(schema.BuiltinOperator.DEQUANTIZE, [x], [graph_output])
    return g.serialize([graph_input], [graph_output], f"dlad peer benchmark: {model['name']} INT8")


def build_identity(width):
    """A float32 [N, width] -> [N, width] graph (one RESHAPE), to time the per-call overhead."""
    g = _GraphBuilder()
    float32 = schema.TensorType.FLOAT32
    x = g.tensor("input", [1, width], float32)
    new_shape = g.tensor("shape", [2], schema.TensorType.INT32, data=np.array([-1, width], np.int32))
    y = g.tensor("output", [1, width], float32)
    g.operator(schema.BuiltinOperator.RESHAPE, [x, new_shape], [y], schema.BuiltinOptions.ReshapeOptions,
               schema.ReshapeOptionsT(newShape=[-1, width]))
    return g.serialize([x], [y], "dlad peer benchmark: identity")
