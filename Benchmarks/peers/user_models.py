"""The model a user brings: the trained float network exported to ONNX with each fully connected
layer as MatMul + Add (as tf2onnx and PyTorch's exporter write a Linear on more than two
dimensions) and each convolution as Conv with its bias, Relu after, then quantized by ONNX
Runtime's own `quantize_static` in QDQ form (MinMax calibration, per-channel symmetric int8
weights, asymmetric int8 activations), the recipe ONNX Runtime's quantization guide gives.

This file, not the hand-made QDQ model.onnx of the shared parameters, is what the user-path
benchmark (user_path.py) compiles with `dlactl compile` and what ONNX Runtime runs beside it.
"""
from fixtures import graphs, ort_quantization

FILE_NAME = "ort-quantize-static.onnx"
RECIPE = ("float ONNX with MatMul + Add fully connected layers, Conv + bias, Relu; "
          "onnxruntime.quantization.quantize_static, QDQ, MinMax, per-channel symmetric int8 weights, "
          "asymmetric int8 activations")


def write(directory, name, layers, input_shape, calibration_images):
    """Writes <directory>/ort-quantize-static.onnx for the float `layers` (mnistlib.networks form)."""
    float_model = graphs.float_mnist_model(name.replace("-", "_"), layers, input_shape, matmul=True)
    calibration = calibration_images.reshape((-1,) + tuple(input_shape))
    quantized = ort_quantization.quantize(float_model, calibration, operator_form=False, unsigned_activations=False)
    path = directory / FILE_NAME
    path.write_bytes(quantized.SerializeToString())
    return path
