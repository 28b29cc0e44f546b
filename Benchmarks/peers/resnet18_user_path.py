"""The ResNet-18 of ResNetBenchmark the way a user runs it: ONNX Runtime's own INT8 QDQ output,
compiled by `dlactl compile`, timed by `dlactl perf`, against ONNX Runtime on the same file.

ResNetBenchmark builds its model by hand in the engine's vocabulary (a lower bound: what the
engine does when the compiler's lowering is as good as a hand-built graph). This script starts
where a user starts: the float network (the export's INT8 weights × their scales, the folded
biases) as an ONNX model, quantized by `onnxruntime.quantization.quantize_static` (QDQ, INT8
activations and per-channel INT8 weights, calibrated on the benchmark's input), then

    dlactl compile resnet18.qdq.onnx -o resnet18.dla
    dlactl perf resnet18.dla --input input.npy --threads 1 (and 2) --json

and ONNX Runtime on the same QDQ file (one thread, Python call included). It adds a "user_path"
section to the benchmark's JSON. Run after `ResNetBenchmark --export DIR`, from the repository
root, with a release dlactl:

    Benchmarks/.venv/bin/python Benchmarks/peers/resnet18_user_path.py Benchmarks/.work/resnet18 \
        $(swift build -c release --show-bin-path)/dlactl
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from onnx_export import OPSET


def float_model(directory):
    """The float ResNet-18 of the export: Conv (+ Relu), MaxPool, residual Add + Relu,
    GlobalAveragePool, Gemm, Softmax."""
    manifest = json.loads((directory / "manifest.json").read_text())
    layers = {layer["name"]: layer for layer in manifest["layers"]}
    nodes, initializers = [], []

    def node(op, inputs, output, **attributes):
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def layer(x, name):
        spec = layers[name]
        codes = np.load(directory / f"{name}.weight.npy").astype(np.float32)
        scales = np.load(directory / f"{name}.weight_scale.npy").astype(np.float32)
        weight = codes * scales.reshape((-1,) + (1,) * (codes.ndim - 1))
        bias = np.load(directory / f"{name}.bias.npy").astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, f"{name}.weight"))
        initializers.append(numpy_helper.from_array(bias, f"{name}.bias"))
        if name == "fc":
            return node("Gemm", [x, f"{name}.weight", f"{name}.bias"], name, transB=1)
        k, s, p = spec["kernel"], spec["stride"], spec["padding"]
        return node("Conv", [x, f"{name}.weight", f"{name}.bias"], name, kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)

    x = node("Relu", [layer("input", "conv1")], "conv1_relu")
    x = node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for stage in range(1, 5):
        for block in range(2):
            prefix = f"layer{stage}.{block}"
            hidden = node("Relu", [layer(x, f"{prefix}.conv1")], f"{prefix}.conv1_relu")
            shortcut = layer(x, f"{prefix}.downsample") if f"{prefix}.downsample" in layers else x
            x = node("Relu", [node("Add", [layer(hidden, f"{prefix}.conv2"), shortcut], f"{prefix}.add")], f"{prefix}.relu")
    x = node("Flatten", [node("GlobalAveragePool", [x], "avgpool")], "flatten", axis=1)
    node("Softmax", [layer(x, "fc")], "probabilities", axis=1)
    size = manifest["input_size"]
    graph = helper.make_graph(nodes, "resnet18", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 1000])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dlad-resnet-user-path")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, manifest


class OneInput(CalibrationDataReader):
    def __init__(self, x):
        self.batches = iter([{"input": x}])

    def get_next(self):
        return next(self.batches, None)


def ort_p50(path, x, runs):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, {"input": x})
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        (probabilities,) = session.run(None, {"input": x})
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return samples[len(samples) // 2], probabilities


def dlactl_perf(dlactl, model, x_path, threads, runs):
    command = [dlactl, "perf", str(model), "--input", str(x_path), "--threads", str(threads), "--warmup", "3",
               "--iterations", str(runs), "--json"]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return report["latencyMicros"]["p50"] / 1e3


def main():
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "Benchmarks/.work/resnet18")
    dlactl = sys.argv[2] if len(sys.argv) > 2 else "dlactl"
    results_path = Path(sys.argv[3] if len(sys.argv) > 3 else "Benchmarks/results/resnet18.json")
    runs = 30
    load_before = float(Path("/proc/loadavg").read_text().split()[0])
    model, manifest = float_model(directory)
    float_path, qdq_path, dla_path = directory / "resnet18.float.onnx", directory / "resnet18.qdq.onnx", directory / "resnet18.dla"
    onnx.save(model, str(float_path))
    x = np.load(directory / "input.npy")
    quantize_static(str(float_path), str(qdq_path), OneInput(x), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    start = time.perf_counter()
    subprocess.run([dlactl, "compile", str(qdq_path), "-o", str(dla_path)], check=True, capture_output=True, text=True)
    compile_seconds = time.perf_counter() - start

    ort_ms, _ = ort_p50(qdq_path, x, runs)
    one = dlactl_perf(dlactl, dla_path, directory / "input.npy", 1, runs)
    two = dlactl_perf(dlactl, dla_path, directory / "input.npy", 2, runs)
    results = json.loads(results_path.read_text())
    section = {
        "onnx": "float ResNet-18 of the export → onnxruntime.quantization.quantize_static (QDQ, QInt8 activations, "
                "per-channel QInt8 weights, calibrated on the input)",
        "compile_seconds": compile_seconds,
        "dla_file_bytes": dla_path.stat().st_size,
        "runs": runs,
        "onnxruntime_p50_ms": ort_ms,
        "onnxruntime_timed_call": "InferenceSession.run on the QDQ file, one thread (Python call included)",
        "dlad_perf_p50_ms": {"1": one, "2": two},
        "dlad_timed_call": "dlactl perf --json: Executor.run on the compiled .dla, batch 1",
        "ratio_dlad_1_thread_to_ort": one / ort_ms,
        "speedup_2_threads": one / two,
        "load_average_1min": [load_before, float(Path("/proc/loadavg").read_text().split()[0])],
    }
    results["user_path"] = section
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    words = lambda r: f"{r:.2f}× slower" if r > 1 else f"{1 / r:.2f}× faster"
    print(f"user path (quantize_static QDQ → dlactl compile → dlactl perf), batch 1: ONNX Runtime {ort_ms:.2f} ms, "
          f"dlad 1 thread {one:.2f} ms ({words(one / ort_ms)} than ONNX Runtime), 2 threads {two:.2f} ms ({one / two:.2f}× one thread's speed)")
    print(f"updated {results_path}")


if __name__ == "__main__":
    main()
