"""INT8 post-training quantization shared by every engine, and its exact integer reference.

One set of parameters feeds ONNX Runtime (QDQ), LiteRT and dlad's interchange, so the three
engines compute the same function:
  * weights: symmetric per output channel, codes in [-127, 127], zero point 0,
    scale_c = max|W_c| / 127 (1.0 for an all-zero channel);
  * biases: int32, scale_c = input_scale * weight_scale_c (float32 product), zero point 0;
  * activations: asymmetric int8 with a zero point, range [min(0, lo), max(0, hi)] of the float
    network's activations on calibration images; scale = (hi - lo) / 255,
    zero_point = round(-128 - lo / scale). A ReLU output has lo = 0, so zero_point = -128
    and the fused ReLU is the saturation at -128;
  * the model input (MNIST pixels k/256, k in 0..255) has scale 1/256 and zero point -128, so
    quantizing it is exact: code = k - 128;
  * max-pool and flatten keep their input's scale and zero point.
Requantization (`reference_forward`) is the float32 form that ONNX Runtime (MLAS) and XNNPACK both use:
  acc = sum((x - x_zp) * w) + bias                                    (exact integer)
  m_c = float32(float32(input_scale * weight_scale_c) / output_scale)
  y   = clamp(round_half_even(float32(acc) * m_c) + output_zp, relu ? max(-128, output_zp) : -128, 127)
"""
import numpy as np

from mnistlib import networks

INPUT_SCALE = np.float32(1.0 / 256.0)
INPUT_ZERO_POINT = -128


def activation_parameters(lo, hi):
    """(scale, zero_point) of an asymmetric int8 tensor covering [lo, hi] and 0."""
    lo, hi = min(0.0, float(lo)), max(0.0, float(hi))
    if hi == lo:
        return np.float32(1.0), 0
    scale = np.float32((hi - lo) / 255.0)
    zero_point = int(np.clip(np.rint(-128.0 - lo / float(scale)), -128, 127))
    return scale, zero_point


def quantize_weights(weight):
    """Per-output-channel symmetric int8 codes and float32 scales of a [out, ...] weight."""
    flat = weight.reshape(weight.shape[0], -1).astype(np.float32)
    peak = np.abs(flat).max(axis=1)
    scales = np.where(peak > 0, peak / np.float32(127.0), np.float32(1.0)).astype(np.float32)
    codes = np.clip(np.rint(flat / scales[:, None]), -127, 127).astype(np.int8)
    return codes.reshape(weight.shape), scales


def quantize_bias(bias, input_scale, weight_scales):
    bias_scales = (np.float32(input_scale) * weight_scales).astype(np.float32)
    codes = np.rint(bias.astype(np.float64) / bias_scales.astype(np.float64))
    return np.clip(codes, -2**31, 2**31 - 1).astype(np.int32), bias_scales


def requantization_multipliers(layer):
    product = (np.float32(layer["input_scale"]) * layer["weight_scales"]).astype(np.float32)
    return (product / np.float32(layer["output_scale"])).astype(np.float32)


def quantize_network(name, layers, input_shape, calibration_images):
    """Calibrates activation ranges on float activations and returns the quantized model (a dict)."""
    x = calibration_images.reshape((-1,) + tuple(input_shape))
    _, caches = networks.forward(layers, x, keep=True)
    scale, zero_point = INPUT_SCALE, INPUT_ZERO_POINT
    shape = list(input_shape)
    quantized = []
    for layer, (_, activation) in zip(layers, caches):
        kind = layer["type"]
        out_shape = list(activation.shape[1:])
        entry = {"type": kind, "input_shape": shape, "output_shape": out_shape,
                 "input_scale": scale, "input_zero_point": zero_point}
        if kind in ("fc", "conv"):
            out_scale, out_zero_point = activation_parameters(activation.min(), activation.max())
            codes, weight_scales = quantize_weights(layer["weight"])
            bias, bias_scales = quantize_bias(layer["bias"], scale, weight_scales)
            entry.update(weight=codes, weight_scales=weight_scales, bias=bias, bias_scales=bias_scales,
                         relu=bool(layer["relu"]))
            if kind == "conv":
                entry.update(stride=layer["stride"], padding=layer["padding"])
            scale, zero_point = out_scale, out_zero_point
        elif kind == "maxpool":
            entry.update(kernel=layer["kernel"], stride=layer["stride"])
        entry.update(output_scale=scale, output_zero_point=zero_point)  # max-pool and flatten pass their input's
        quantized.append(entry)
        shape = out_shape
    return {"name": name, "input_shape": list(input_shape), "input_scale": INPUT_SCALE,
            "input_zero_point": INPUT_ZERO_POINT, "output_shape": shape, "output_scale": scale,
            "output_zero_point": zero_point, "layers": quantized}


def quantize_input(model, images):
    codes = np.rint(images / model["input_scale"]) + model["input_zero_point"]
    return np.clip(codes, -128, 127).astype(np.int8).reshape((-1,) + tuple(model["input_shape"]))


def _requantize(accumulator, layer, channel_axis):
    if np.abs(accumulator).max(initial=0) >= 2**31:
        raise OverflowError(f"{layer['type']} accumulator exceeds int32")
    multipliers = requantization_multipliers(layer)
    shape = [1] * accumulator.ndim
    shape[channel_axis] = -1
    scaled = np.rint(accumulator.astype(np.float32) * multipliers.reshape(shape)) + layer["output_zero_point"]
    low = max(-128, layer["output_zero_point"]) if layer["relu"] else -128
    return np.clip(scaled, low, 127).astype(np.int8)


def reference_forward(model, images):
    """Integer-exact forward pass; returns the output int8 codes [N, 10].

    Accumulators are float64 so that numpy's BLAS does the work: every product and sum is an
    integer far below 2**53, so float64 holds them exactly.
    """
    x = quantize_input(model, images)
    for layer in model["layers"]:
        kind = layer["type"]
        if kind == "fc":
            centered = x.astype(np.float64) - layer["input_zero_point"]
            accumulator = centered @ layer["weight"].astype(np.float64).T + layer["bias"]
            x = _requantize(accumulator, layer, channel_axis=1)
        elif kind == "conv":
            padding = layer["padding"]
            centered = x.astype(np.float64) - layer["input_zero_point"]
            centered = np.pad(centered, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
            out_channels, _, kh, kw = layer["weight"].shape
            columns, (n, oh, ow) = networks.im2col(centered, kh, kw)
            if layer["stride"] != 1:
                raise ValueError("reference_forward: only stride-1 convolutions are benchmarked")
            accumulator = columns @ layer["weight"].reshape(out_channels, -1).astype(np.float64).T + layer["bias"]
            accumulator = accumulator.reshape(n, oh, ow, out_channels).transpose(0, 3, 1, 2)
            x = _requantize(accumulator, layer, channel_axis=1)
        elif kind == "maxpool":
            n, c, h, w = x.shape
            k = layer["kernel"]
            if layer["stride"] != k:
                raise ValueError("reference_forward: only non-overlapping pools are benchmarked")
            x = x.reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
    return x


def dequantize_output(model, codes):
    return (codes.astype(np.float32) - np.float32(model["output_zero_point"])) * np.float32(model["output_scale"])
