"""ONNX Runtime on the ResNet-18 that ResNetBenchmark ran, for the "It must scale" comparison.

Reads the export of `ResNetBenchmark --export DIR` (per layer the INT8 weights, per-channel weight
scales and real folded biases as .npy; activation scales in manifest.json; the input and dlad's
softmax output), builds the same network as an ONNX QDQ model, times it on one thread at batch 1,
and adds an "onnxruntime" section (latency, ratio dlad / ORT, output agreement) to the benchmark's
JSON. Run right after the Swift benchmark, from the repository root:

    swift run -c release --package-path Benchmarks ResNetBenchmark --export Benchmarks/.work/resnet18 \
      && Benchmarks/.venv/bin/python Benchmarks/peers/resnet18_ort.py Benchmarks/.work/resnet18

The quantization is dlad's (same weight codes and scales, same activation scales), expressed the
way ONNX Runtime's x86 integer kernels want it: activations as UINT8 with zero point + 128 (the
same values as dlad's INT8 codes), and ReLU outputs with zero point 0 so that QuantizeLinear's
saturation is the ReLU and no Relu node is needed (as the peers' onnx_export.py does). With INT8
activations instead, ONNX Runtime 1.32 on x86 rewrites Q/DQ pairs to UINT8 itself but, in our
attempts, not those whose DequantizeLinear feeds several nodes (a block's input feeds its first
convolution and its shortcut), so those convolutions, the projections and the max pool ran in
float and the network took ~27 ms instead of ~11. The residual sum is quantized once more than in dlad
(the second convolution's output is INT8 before the add; dlad adds in SDP before rounding), so
outputs are close, not identical; the script reports how close, and the optimized graph's
operator counts (which operators ran as integer kernels).
"""
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

from onnx_export import OPSET, QDQGraph


class Graph(QDQGraph):
    def quantize(self, name, x, scale, zero_point):
        """QuantizeLinear → DequantizeLinear to UINT8 codes: `zero_point` is dlad's INT8 zero
        point; UINT8 with zero point + 128 represents the same values (codes + 128)."""
        s = self.constant(f"{name}_scale", np.array(scale, np.float32))
        z = self.constant(f"{name}_zero_point", np.array(zero_point + 128, np.uint8))
        q = self.node("QuantizeLinear", [x, s, z], f"{name}_q")
        return self.node("DequantizeLinear", [q, s, z], f"{name}_dq")


def build(directory):
    manifest = json.loads((directory / "manifest.json").read_text())
    scales = manifest["activation_scales"]
    layers = {layer["name"]: layer for layer in manifest["layers"]}
    g = Graph()

    def convolution(x, x_scale, name):
        layer = layers[name]
        weight = np.load(directory / f"{name}.weight.npy")
        weight_scales = np.load(directory / f"{name}.weight_scale.npy")
        bias_scales = (np.float64(x_scale) * weight_scales.astype(np.float64)).astype(np.float32)
        bias = np.round(np.load(directory / f"{name}.bias.npy").astype(np.float64) / bias_scales).astype(np.int32)
        w = g.dequantized_constant(f"{name}.weight", weight, weight_scales)
        b = g.dequantized_constant(f"{name}.bias", bias, bias_scales)
        if name == "fc":
            return g.node("Gemm", [x, w, b], name, transB=1)
        k, s, p = layer["kernel"], layer["stride"], layer["padding"]
        return g.node("Conv", [x, w, b], name, kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)

    def relu_quantized(y, name):
        # dlad's INT8 zero point -128 (UINT8 0): QuantizeLinear's saturation is the ReLU.
        return g.quantize(name, y, scales[name], -128)

    x = g.quantize("input", "input", scales["input"], 0)
    x = relu_quantized(convolution(x, scales["input"], "conv1"), "conv1")
    x = g.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = g.quantize("maxpool", x, scales["conv1"], -128)
    x_scale = scales["conv1"]
    for stage in range(1, 5):
        for block in range(2):
            prefix = f"layer{stage}.{block}"
            hidden = relu_quantized(convolution(x, x_scale, f"{prefix}.conv1"), f"{prefix}.conv1")
            if f"{prefix}.downsample" in layers:
                shortcut = g.quantize(f"{prefix}.downsample", convolution(x, x_scale, f"{prefix}.downsample"),
                                      scales[f"{prefix}.downsample"], 0)
            else:
                shortcut = x
            main = g.quantize(f"{prefix}.conv2", convolution(hidden, scales[f"{prefix}.conv1"], f"{prefix}.conv2"), scales[prefix], 0)
            x = relu_quantized(g.node("Add", [main, shortcut], f"{prefix}.add"), prefix)
            x_scale = scales[prefix]
    x = g.quantize("avgpool", g.node("GlobalAveragePool", [x], "avgpool"), x_scale, -128)
    x = g.node("Flatten", [x], "flatten", axis=1)
    x = g.quantize("fc", convolution(x, x_scale, "fc"), scales["fc"], 0)
    g.node("Identity", [x], "logits")
    g.node("Softmax", [x], "probabilities", axis=1)
    size = manifest["input_size"]
    graph = helper.make_graph(
        g.nodes, "resnet18-int8-random",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 1000]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dlad-resnet-benchmark")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(), manifest


def main():
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "Benchmarks/.work/resnet18")
    results_path = Path(sys.argv[2] if len(sys.argv) > 2 else "Benchmarks/results/resnet18.json")
    runs = 30
    model, manifest = build(directory)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    optimized = directory / "resnet18.optimized.onnx"
    options.optimized_model_filepath = str(optimized)
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    kernels = Counter(node.op_type for node in onnx.load(str(optimized)).graph.node)

    x = np.load(directory / "input.npy")
    for _ in range(3):
        session.run(None, {"input": x})
    samples, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        probabilities, logits = session.run(None, {"input": x})
        samples.append((time.perf_counter_ns() - start) / 1e6)
        cpu.append((time.process_time_ns() - cpu_start) / 1e6)
    samples.sort()
    cpu.sort()
    p50 = samples[len(samples) // 2]
    p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]

    ours = np.load(directory / "dlad_output.npy").reshape(-1)
    theirs = probabilities.reshape(-1)
    top5_ours, top5_theirs = set(np.argsort(-ours)[:5]), set(np.argsort(-theirs)[:5])
    # Logits in units of the fc output's quantization step (both sides are its INT8 codes).
    logit_step = manifest["activation_scales"]["fc"]
    logit_diff = np.abs(np.load(directory / "dlad_logits.npy").reshape(-1) - logits.reshape(-1)) / logit_step
    logit_diff = np.rint(logit_diff).astype(np.int64)
    results = json.loads(results_path.read_text())
    dlad_p50 = results["latency"]["p50_ms"]
    section = {
        "version": onnxruntime.__version__,
        "threads": 1,
        "runs": runs,
        "p50_ms": p50,
        "p90_ms": p90,
        "gops": 2 * manifest["macs"] / (p50 * 1e-3) / 1e9,
        "ratio_dlad_to_ort_p50": dlad_p50 / p50,
        # Process CPU time per run: on one thread each side's own work, without the time other
        # processes took the core (the machine is shared); dlad's from the same kind of clock.
        "cpu_p50_ms": cpu[len(cpu) // 2],
        "ratio_dlad_to_ort_cpu_p50": results["latency"]["cpu_p50_ms"] / cpu[len(cpu) // 2],
        "timed_call": "InferenceSession.run (Python call included)",
        "optimized_graph_ops": dict(sorted(kernels.items())),
        "agreement": {
            "top1_same": bool(np.argmax(ours) == np.argmax(theirs)),
            "top5_overlap": len(top5_ours & top5_theirs),
            "max_abs_probability_difference": float(np.max(np.abs(ours - theirs))),
            "max_probability": float(max(ours.max(), theirs.max())),
            "logits_identical_fraction": float(np.mean(logit_diff == 0)),
            "logits_within_1_lsb_fraction": float(np.mean(logit_diff <= 1)),
            "logits_max_abs_diff_lsb": int(logit_diff.max()),
        },
    }
    results["onnxruntime"] = section
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"ONNX Runtime {onnxruntime.__version__}, 1 thread, batch 1, {runs} runs: p50 {p50:.2f} ms, p90 {p90:.2f} ms "
          f"({section['gops']:.1f} GOPS); dlad p50 {dlad_p50:.2f} ms → dlad / ORT = {section['ratio_dlad_to_ort_p50']:.2f}×; "
          f"CPU time p50 ORT {section['cpu_p50_ms']:.2f} ms, dlad {results['latency']['cpu_p50_ms']:.2f} ms → "
          f"{section['ratio_dlad_to_ort_cpu_p50']:.2f}×")
    print(f"ORT kernels after optimization: {dict(sorted(kernels.items()))}")
    print(f"agreement with dlad: top-1 {'same' if section['agreement']['top1_same'] else 'differs'}, "
          f"top-5 overlap {section['agreement']['top5_overlap']}/5, "
          f"max |Δp| {section['agreement']['max_abs_probability_difference']:.2e} (largest p {section['agreement']['max_probability']:.2e}); "
          f"INT8 logits identical {section['agreement']['logits_identical_fraction']:.1%}, within 1 LSB "
          f"{section['agreement']['logits_within_1_lsb_fraction']:.1%}, max {section['agreement']['logits_max_abs_diff_lsb']} LSB")
    print(f"updated {results_path}")


if __name__ == "__main__":
    main()
