"""The MNIST networks in float: definitions, numpy forward/backward and SGD training.

A network is a list of layers (dicts) in NCHW layout, the layout of the interchange:
  {"type": "fc", "weight": [out, in], "bias": [out], "relu": bool}
  {"type": "conv", "weight": [out, in, kh, kw], "bias": [out], "relu": bool, "stride": 1, "padding": 0}
  {"type": "maxpool", "kernel": 2, "stride": 2}
  {"type": "flatten"}                       # [N, C, H, W] -> [N, C*H*W], (c, h, w) order
A layer with a ReLU may carry "dropout": p (training only: inverted dropout of its output);
inference ignores it, so an exported model never sees it.
Convolutions run through im2col so that numpy's single-threaded GEMM does the work.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def lenet_300_100(rng):
    return [_fc(rng, 784, 300, relu=True), _fc(rng, 300, 100, relu=True), _fc(rng, 100, 10, relu=False)]


def lenet_5(rng):
    """Caffe's LeNet: conv 5x5x20, max-pool 2, conv 5x5x50, max-pool 2, fc 500 + ReLU, fc 10."""
    return [_conv(rng, 1, 20, 5), {"type": "maxpool", "kernel": 2, "stride": 2},
            _conv(rng, 20, 50, 5), {"type": "maxpool", "kernel": 2, "stride": 2},
            {"type": "flatten"},
            _fc(rng, 800, 500, relu=True), _fc(rng, 500, 10, relu=False)]


def lenet_5_small(rng):
    """LeCun's original widths (6, 16, 120, 84) on 28x28 without padding: 44k weights, small enough
    to commit as test fixtures; ReLU after each convolution."""
    return [dict(_conv(rng, 1, 6, 5), relu=True), {"type": "maxpool", "kernel": 2, "stride": 2},
            dict(_conv(rng, 6, 16, 5), relu=True), {"type": "maxpool", "kernel": 2, "stride": 2},
            {"type": "flatten"},
            _fc(rng, 256, 120, relu=True), _fc(rng, 120, 84, relu=True), _fc(rng, 84, 10, relu=False)]


INPUT_SHAPES = {"lenet-300-100": (784,), "lenet-5": (1, 28, 28), "lenet-5-small": (1, 28, 28)}


def _fc(rng, fan_in, fan_out, relu):
    weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in)).astype(np.float32)
    return {"type": "fc", "weight": weight, "bias": np.zeros(fan_out, np.float32), "relu": relu}


def _conv(rng, in_channels, out_channels, kernel):
    fan_in = in_channels * kernel * kernel
    weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), (out_channels, in_channels, kernel, kernel))
    return {"type": "conv", "weight": weight.astype(np.float32), "bias": np.zeros(out_channels, np.float32),
            "relu": False, "stride": 1, "padding": 0}


def im2col(x, kh, kw):
    """[N, C, H, W] -> [N*OH*OW, C*kh*kw] for a stride-1, unpadded convolution."""
    n, c, h, w = x.shape
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))          # [N, C, OH, OW, kh, kw]
    oh, ow = h - kh + 1, w - kw + 1
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw), (n, oh, ow)


def _col2im(columns, x_shape, kh, kw):
    n, c, h, w = x_shape
    oh, ow = h - kh + 1, w - kw + 1
    patches = columns.reshape(n, oh, ow, c, kh, kw)
    dx = np.zeros(x_shape, np.float32)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + oh, j:j + ow] += patches[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx


def forward(layers, x, keep=False, rng=None):
    """Float forward pass; with keep=True also returns per-layer caches for backward(). With an
    rng (training), layers that carry "dropout" drop their outputs."""
    caches = []
    for layer in layers:
        kind = layer["type"]
        if kind == "fc":
            y = x @ layer["weight"].T + layer["bias"]
            cache = x
        elif kind == "conv":
            out_channels, _, kh, kw = layer["weight"].shape
            columns, (n, oh, ow) = im2col(x, kh, kw)
            y = (columns @ layer["weight"].reshape(out_channels, -1).T + layer["bias"])
            y = y.reshape(n, oh, ow, out_channels).transpose(0, 3, 1, 2)
            cache = (columns, x.shape)
        elif kind == "maxpool":
            n, c, h, w = x.shape
            k = layer["kernel"]
            blocks = x.reshape(n, c, h // k, k, w // k, k)
            y = blocks.max(axis=(3, 5))
            cache = (blocks == y[:, :, :, None, :, None], x.shape)
        elif kind == "flatten":
            y = x.reshape(x.shape[0], -1)
            cache = x.shape
        else:
            raise ValueError(f"unknown layer type {kind!r}")
        if layer.get("relu"):
            y = np.maximum(y, 0.0)
        if rng is not None and layer.get("dropout"):
            if not layer.get("relu"):
                raise ValueError(f"layer {len(caches)}: dropout needs a ReLU layer (backward reads the mask from the zeros)")
            y = y * ((rng.random(y.shape, np.float32) >= layer["dropout"]) * _dropout_scale(layer))
        caches.append((cache, y))
        x = y
    return (x, caches) if keep else x


def _dropout_scale(layer):
    return np.float32(1 / (1 - layer["dropout"]))


def backward(layers, caches, grad):
    """Returns [(weight gradient, bias gradient) or None] per layer, from a training forward's caches
    (a dropped output is 0, so the ReLU's zero test masks its gradient too)."""
    grads = [None] * len(layers)
    for index in reversed(range(len(layers))):
        layer, (cache, y) = layers[index], caches[index]
        if layer.get("relu"):
            grad = grad * (y > 0)
        if layer.get("dropout"):
            grad = grad * _dropout_scale(layer)
        kind = layer["type"]
        if kind == "fc":
            grads[index] = (grad.T @ cache, grad.sum(axis=0))
            grad = grad @ layer["weight"]
        elif kind == "conv":
            columns, x_shape = cache
            out_channels, _, kh, kw = layer["weight"].shape
            flat = grad.transpose(0, 2, 3, 1).reshape(-1, out_channels)
            grads[index] = ((flat.T @ columns).reshape(layer["weight"].shape), flat.sum(axis=0))
            if index > 0:
                grad = _col2im(flat @ layer["weight"].reshape(out_channels, -1), x_shape, kh, kw)
        elif kind == "maxpool":
            mask, x_shape = cache
            grad = (mask * grad[:, :, :, None, :, None]).reshape(x_shape)
        elif kind == "flatten":
            grad = grad.reshape(cache)
    return grads


class MomentumSGD:
    """SGD with momentum and L2 weight decay; masks (per trainable layer) pin pruned weights to 0.
    Its velocities are plain arrays so that a long run can checkpoint and resume them."""

    def __init__(self, layers, momentum=0.9, weight_decay=5e-4, masks=None):
        self.velocity = {i: (np.zeros_like(l["weight"]), np.zeros_like(l["bias"])) for i, l in enumerate(layers) if "weight" in l}
        self.momentum, self.weight_decay, self.masks = momentum, weight_decay, masks

    def step(self, layers, grads, rate):
        for i, (v_w, v_b) in self.velocity.items():
            g_w, g_b = grads[i]
            v_w *= self.momentum
            v_w -= rate * (g_w + self.weight_decay * layers[i]["weight"])
            v_b *= self.momentum
            v_b -= rate * g_b
            layers[i]["weight"] += v_w
            layers[i]["bias"] += v_b
            if self.masks is not None:
                layers[i]["weight"] *= self.masks[i]


def sgd_epoch(layers, images, labels, optimizer, *, rate, rng, batch_size=64):
    """One pass over the shuffled training set with softmax cross-entropy; `optimizer.step(layers,
    grads, rate)` applies each minibatch's gradients. Returns the mean loss."""
    count = len(images)
    order = rng.permutation(count)
    total_loss = 0.0
    for start in range(0, count, batch_size):
        batch = order[start:start + batch_size]
        logits, caches = forward(layers, images[batch], keep=True, rng=rng)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        total_loss -= np.log(probabilities[np.arange(len(batch)), labels[batch]] + 1e-12).sum()
        probabilities[np.arange(len(batch)), labels[batch]] -= 1.0
        grads = backward(layers, caches, (probabilities / len(batch)).astype(np.float32))
        optimizer.step(layers, grads, rate)
    return total_loss / count


def train(layers, images, labels, *, epochs, learning_rate, rng, decay=0.5, batch_size=64, momentum=0.9,
          weight_decay=5e-4, masks=None, log=print, name=""):
    """Minibatch SGD with momentum on softmax cross-entropy, the rate multiplied by `decay` each epoch;
    masks (per trainable layer) pin pruned weights to 0."""
    optimizer = MomentumSGD(layers, momentum, weight_decay, masks)
    for epoch in range(epochs):
        loss = sgd_epoch(layers, images, labels, optimizer, rate=learning_rate * (decay ** epoch), rng=rng,
                         batch_size=batch_size)
        log(f"  {name} epoch {epoch + 1}/{epochs}: loss {loss:.4f}")
    return layers


def accuracy(layers, images, labels, input_shape, batch_size=1000):
    correct = 0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].reshape((-1,) + tuple(input_shape))
        correct += int((forward(layers, x).argmax(axis=1) == labels[start:start + batch_size]).sum())
    return correct / len(images)


def magnitude_masks(layers, sparsity):
    """Per trainable layer, keeps the (1 - sparsity) largest-magnitude weights; `sparsity` is one
    fraction for every layer or a {layer index: fraction} mapping."""
    masks = {}
    for i, layer in enumerate(layers):
        if "weight" in layer:
            fraction = sparsity[i] if isinstance(sparsity, dict) else sparsity
            magnitudes = np.abs(layer["weight"]).ravel()
            pruned = int(round(fraction * magnitudes.size))
            smallest = np.argsort(magnitudes, kind="stable")[:pruned]
            mask = np.ones(magnitudes.size, np.float32)
            mask[smallest] = 0.0
            masks[i] = mask.reshape(layer["weight"].shape)
    return masks
