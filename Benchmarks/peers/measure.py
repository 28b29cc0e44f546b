"""Measures the peers (ONNX Runtime QDQ and LiteRT, one thread) on the prepared models and real
MNIST test images: latency per inference at batch 1 and 64 with the Python call included,
identity models for the per-call overhead, and top-1 accuracy on all 10,000 test images.
Writes Benchmarks/results/peers.json (schema in Benchmarks/README.md) and prints a table.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import onnxruntime
from ai_edge_litert.interpreter import Interpreter

import interchange
import prepare
import quantization
from mnistlib import mnist_data

SCHEMA = "dlad-peer-benchmarks/1"
BATCH_SIZES = (1, 64)
RUNTIMES = ("litert", "onnxruntime")


class OnnxRuntimeRunner:
    name = "onnxruntime"

    def __init__(self, model_file, batch_size):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(model_file), options,
                                                    providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [self.session.get_outputs()[0].name]

    def __call__(self, batch):
        return self.session.run(self.output_names, {self.input_name: batch})[0]


class LiteRTRunner:
    name = "litert"

    def __init__(self, model_file, batch_size):
        self.interpreter = Interpreter(model_path=str(model_file), num_threads=1)
        model_input = self.interpreter.get_input_details()[0]
        self.input_index = model_input["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]
        self.interpreter.resize_tensor_input(self.input_index, [batch_size] + list(model_input["shape"][1:]))
        self.interpreter.allocate_tensors()
        ops = [op["op_name"] for op in self.interpreter._get_ops_details()]
        self.delegated = "DELEGATE" in ops

    def __call__(self, batch):
        self.interpreter.set_tensor(self.input_index, batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)


RUNNERS = {"onnxruntime": OnnxRuntimeRunner, "litert": LiteRTRunner}
MODEL_FILES = {"onnxruntime": "model.onnx", "litert": "model.tflite"}


def batches(images, batch_size, input_shape, runtime):
    """Contiguous batches cycling through the test images, shaped as each runtime's graph takes them."""
    shape = list(input_shape)
    if runtime == "litert" and len(shape) == 3:
        shape = [shape[1], shape[2], shape[0]]  # NHWC; with one channel the bytes are the same
    count = len(images) // batch_size
    return [np.ascontiguousarray(images[i * batch_size:(i + 1) * batch_size].reshape([batch_size] + shape))
            for i in range(count)]


def time_calls(run, inputs, warmup_seconds, min_seconds, min_calls, max_calls):
    """Per-call wall times in nanoseconds after a warm-up; the garbage collector is off while timing."""
    position = 0
    deadline = time.perf_counter() + warmup_seconds
    while time.perf_counter() < deadline:
        run(inputs[position % len(inputs)])
        position += 1
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        clock = time.perf_counter_ns
        end = clock() + int(min_seconds * 1e9)
        while len(samples) < max_calls and (len(samples) < min_calls or clock() < end):
            batch = inputs[position % len(inputs)]
            position += 1
            started = clock()
            run(batch)
            samples.append(clock() - started)
    finally:
        if gc_was_enabled:
            gc.enable()
    return np.array(samples, np.float64)


def timer_overhead_us():
    """p50 of an empty timed section: the share of every sample that is the clock itself."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(100_000):
        started = clock()
        samples.append(clock() - started)
    return float(np.percentile(samples, 50)) / 1e3


def summarize(samples_ns, batch_size):
    per_call_us = samples_ns / 1e3
    per_inference = per_call_us / batch_size
    return {
        "iterations": int(len(samples_ns)),
        "latency_us_per_inference": {"p50": float(np.percentile(per_inference, 50)),
                                     "p99": float(np.percentile(per_inference, 99)),
                                     "mean": float(per_inference.mean()), "min": float(per_inference.min())},
        "latency_us_per_call": {"p50": float(np.percentile(per_call_us, 50)),
                                "p99": float(np.percentile(per_call_us, 99))},
        "inferences_per_second": float(1e6 / np.percentile(per_inference, 50)),
    }


def model_facts(model):
    macs = nonzero_macs = parameters = 0
    for layer in model["layers"]:
        if layer["type"] in ("fc", "conv"):
            weight = layer["weight"]
            positions = int(np.prod(layer["output_shape"][1:])) if layer["type"] == "conv" else 1
            macs += weight.size * positions
            nonzero_macs += int(np.count_nonzero(weight)) * positions
            parameters += weight.size + weight.shape[0]
    return {"macs_per_inference": macs, "nonzero_weight_macs_per_inference": nonzero_macs, "parameters": parameters}


def accuracy_of(runner_class, path, model, images, labels, reference_codes):
    runner = runner_class(path / MODEL_FILES[runner_class.name], len(images))
    logits = runner(batches(images, len(images), model["input_shape"], runner_class.name)[0])
    reference = quantization.dequantize_output(model, reference_codes)
    predictions = logits.argmax(axis=1)
    return {"top1": float(np.mean(predictions == labels)), "correct": int(np.sum(predictions == labels)),
            "images": int(len(labels)),
            "outputs_identical_to_reference": float(np.mean(logits == reference)),
            "predictions_identical_to_reference": float(np.mean(predictions == reference_codes.argmax(axis=1)))}


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(work_dir, output, warmup_seconds, min_seconds):
    images = np.load(work_dir / "mnist" / "test_images.npy")
    labels = np.load(work_dir / "mnist" / "test_labels.npy")
    settings = {"threads": 1, "batch_sizes": list(BATCH_SIZES), "warmup_seconds": warmup_seconds,
                "min_seconds": min_seconds, "min_calls": {"1": 2000, "64": 300},
                "timed_call": {"onnxruntime": "InferenceSession.run(output, {input: batch})",
                               "litert": "set_tensor + invoke + get_tensor"}}
    settings["timer_overhead_us"] = timer_overhead_us()
    load_before = os.getloadavg()
    results, accuracies, models = [], [], {}
    for name in prepare.MODELS + ("identity",):
        path = work_dir / "models" / name
        model = interchange.read(path) if name != "identity" else None
        if model is not None:
            reference_codes = np.load(path / "reference_output_codes.npy")
            models[name] = dict(model_facts(model), training=model["document"]["training"])
        input_shape = model["input_shape"] if model is not None else [prepare.IDENTITY_WIDTH]
        for runtime in RUNTIMES:
            runner_class = RUNNERS[runtime]
            if model is not None:
                accuracy = accuracy_of(runner_class, path, model, images, labels, reference_codes)
                accuracies.append(dict(model=name, runtime=runtime, **accuracy))
            for batch_size in BATCH_SIZES:
                runner = runner_class(path / MODEL_FILES[runtime], batch_size)
                inputs = batches(images, batch_size, input_shape, runtime)
                samples = time_calls(runner, inputs, warmup_seconds, min_seconds,
                                     settings["min_calls"][str(batch_size)], 200_000)
                row = dict(model=name, runtime=runtime, batch_size=batch_size, **summarize(samples, batch_size))
                if runtime == "litert":
                    row["xnnpack_delegate"] = runner.delegated
                if model is not None:
                    row["gops_dense_equivalent"] = 2 * models[name]["macs_per_inference"] / (
                        row["latency_us_per_inference"]["p50"] * 1e3)
                results.append(row)
                print(f"  {name:24s} {runtime:12s} batch {batch_size:3d}: "
                      f"p50 {row['latency_us_per_inference']['p50']:8.2f} us/inference", flush=True)
    document = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "machine": platform.machine(),
                 "python": platform.python_version(), "niceness": os.nice(0),
                 "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]}},
        "versions": {package: metadata.version(package)
                     for package in ("numpy", "onnx", "onnxruntime", "ai-edge-litert", "ml_dtypes")},
        "dataset": {"name": "MNIST test split", "images": int(len(labels)),
                    "source": f"{mnist_data.WHEEL_REQUIREMENT} ({mnist_data.PICKLE_MEMBER})"},
        "settings": settings,
        "models": models,
        "latency": results,
        "accuracy": accuracies,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print_table(document)
    print(f"wrote {output}")


def print_table(document):
    """Prints the results as a Markdown table (the one kept in Benchmarks/README.md)."""
    top1 = {(a["model"], a["runtime"]): a["top1"] for a in document["accuracy"]}
    overhead = {(r["runtime"], r["batch_size"]): r["latency_us_per_call"]["p50"]
                for r in document["latency"] if r["model"] == "identity"}
    print()
    print("| model | runtime | batch | p50 µs/inf | p99 µs/inf | min µs/inf | inf/s | GOPS | identity call µs | top-1 |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in document["latency"]:
        latency = row["latency_us_per_inference"]
        accuracy = top1.get((row["model"], row["runtime"]))
        gops = row.get("gops_dense_equivalent")
        print(f"| {row['model']} | {row['runtime']} | {row['batch_size']} | {latency['p50']:.2f} | {latency['p99']:.2f} "
              f"| {latency['min']:.2f} | {row['inferences_per_second']:,.0f} | {'' if gops is None else f'{gops:.1f}'} "
              f"| {overhead[(row['runtime'], row['batch_size'])]:.2f} "
              f"| {'' if accuracy is None else f'{accuracy:.2%}'} |")
    load = document["host"]["load_average_1min"]
    print(f"\n{document['created']}, {document['host']['cpu']}, one thread, Python call included; "
          f"clock overhead per sample {document['settings']['timer_overhead_us']:.2f} us (included); "
          f"identity call = p50 of one call of the identity model at that batch size; "
          f"GOPS = 2 x dense MACs / p50; load average {load['before']:.1f} before, {load['after']:.1f} after.")


def main():
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=here.parent / ".work")
    parser.add_argument("--output", type=Path, default=here.parent / "results" / "peers.json")
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    arguments = parser.parse_args()
    measure(arguments.work_dir, arguments.output, arguments.warmup_seconds, arguments.min_seconds)


if __name__ == "__main__":
    sys.exit(main())
