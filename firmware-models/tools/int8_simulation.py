"""A float simulation of INT8 inference, to see early how much error the compiler's quantization
may add: weights per-tensor symmetric INT8, and the input of every fc/conv layer quantized
per-tensor symmetric INT8 with the largest magnitude seen on the calibration images. Rounding is
half away from zero, codes saturate at ±127. The compiled .dla, run by dlad's emulator, is the
real measurement; this is only a guide.
"""
import numpy as np

from mnistlib import networks


def _fake_quantize(x, amax):
    scale = amax / 127 if amax > 0 else 1.0
    codes = np.clip(np.sign(x) * np.floor(np.abs(x) / scale + 0.5), -127, 127)
    return (codes * scale).astype(np.float32)


def _input_amax(layers, calibration):
    """The largest |input| of every layer on the calibration images."""
    _, caches = networks.forward(layers, calibration, keep=True)
    return [float(np.abs(calibration).max())] + [float(np.abs(y).max()) for _, y in caches[:-1]]


def int8_error(layers, calibration, images, labels, batch_size=1000):
    amax = _input_amax(layers, calibration)
    quantized = []
    for layer in layers:
        if "weight" in layer:
            layer = dict(layer, weight=_fake_quantize(layer["weight"], float(np.abs(layer["weight"]).max())))
        quantized.append(layer)
    wrong = 0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        for layer, layer_amax in zip(quantized, amax):
            if "weight" in layer:
                x = _fake_quantize(x, layer_amax)
            x = networks.forward([layer], x)
        wrong += int((x.argmax(axis=1) != labels[start:start + batch_size]).sum())
    return round(wrong / len(images), 4)
