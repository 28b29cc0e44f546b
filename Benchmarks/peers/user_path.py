"""`make bench-user-path`: the MNIST models as a user runs them on dlad, against LiteRT and ONNX
Runtime in the same run.

For each model it takes the ONNX file a user brings (user_models.py: ONNX Runtime's
`quantize_static` QDQ model with MatMul + Add layers) and, apart, the hand-made Gemm QDQ file of
the shared parameters (model.onnx); compiles each with the release `dlactl compile FILE -o
FILE.dla` and nothing else, as a user would; checks the compiled model's outputs on all test
images against ONNX Runtime on the same file and against LiteRT (top-1 agreement; it stops with
an error below --min-top1-agreement, so that it never times a wrong model); and times
`dlactl perf --threads 1` at batch 1 and 64 beside ONNX Runtime on the same file and LiteRT on
model.tflite (one thread each, Python call included, as measure.py does), and each runtime's
identity model to net the Python call out. Writes Benchmarks/results/user-path.json (schema in
Benchmarks/README.md) and prints the table kept in README.md.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

import measure
import prepare
import user_models

SCHEMA = "dlad-user-path-benchmarks/1"
BATCH_SIZES = (1, 64)
MIN_CALLS = {1: 2000, 64: 300}
FORMS = (  # (form, file in Benchmarks/.work/models/<model>/, what it is)
    ("matmul-add", user_models.FILE_NAME, "ONNX Runtime quantize_static QDQ: MatMul + Add, Conv (what users bring)"),
    ("gemm", "model.onnx", "hand-made QDQ of the shared parameters: Gemm, Conv"),
)
ROOT = Path(__file__).resolve().parents[2]


def log(message):
    print(message, flush=True)


def load_average():
    return [round(value, 2) for value in os.getloadavg()]


def dlactl(binary, *arguments):
    """dlactl's standard output; a failure stops the benchmark with dlactl's own message."""
    result = subprocess.run([str(binary), *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: dlactl {' '.join(arguments)} failed (exit {result.returncode}): "
                         f"{result.stderr.strip()}")
    return result.stdout


def perf(binary, dla, inputs, batch_size, warmup_seconds, min_seconds):
    """`dlactl perf` on one thread: a short probe sizes the warm-up and the timed runs so that
    they last about warmup_seconds and min_seconds (at least MIN_CALLS runs)."""
    probe = json.loads(dlactl(binary, "perf", str(dla), "--input", str(inputs), "--batch-size", str(batch_size),
                              "--threads", "1", "--warmup", "20", "--iterations", "200", "--json"))
    call_seconds = probe["latencyMicros"]["p50"] * batch_size / 1e6
    warmup = max(20, math.ceil(warmup_seconds / call_seconds))
    iterations = max(MIN_CALLS[batch_size], math.ceil(min_seconds / call_seconds))
    report = json.loads(dlactl(binary, "perf", str(dla), "--input", str(inputs), "--batch-size", str(batch_size),
                               "--threads", "1", "--warmup", str(warmup), "--iterations", str(iterations), "--json"))
    latency = report["latencyMicros"]
    return {"iterations": report["iterations"], "warmup": report["warmup"], "host_kernels": report["isa"],
            "latency_us_per_inference": {key: latency[key] for key in ("p50", "p90", "p99", "mean", "min")},
            "latency_us_per_call": {"p50": latency["p50"] * batch_size},
            "inferences_per_second": report["inferencesPerSecond"]}


def peer(runtime, model_file, images, input_shape, batch_size, warmup_seconds, min_seconds):
    runner = measure.RUNNERS[runtime](model_file, batch_size)
    inputs = measure.batches(images, batch_size, input_shape, runtime)
    samples = measure.time_calls(runner, inputs, warmup_seconds, min_seconds, MIN_CALLS[batch_size], 200_000)
    result = measure.summarize(samples, batch_size)
    if runtime == "litert":
        result["xnnpack_delegate"] = runner.delegated
    return result


def outputs_of(runtime, model_file, images, input_shape):
    runner = measure.RUNNERS[runtime](model_file, len(images))
    return runner(measure.batches(images, len(images), input_shape, runtime)[0]).reshape(len(images), -1)


def in_words(ratio):
    """dlad's time ÷ the peer's, said as people say it: "2.13× slower", "1.25× faster"."""
    if ratio >= 1:
        return f"{ratio:.2f}× slower"
    return f"{1 / ratio:.2f}× faster"


def ratios(dlad_row, peer_row, identity_row, batch_size):
    """dlad's p50 per inference against the peer's, with the peer's Python call and net of it
    (the identity model's p50 call at this batch size taken off the peer's p50 call)."""
    dlad = dlad_row["latency_us_per_inference"]["p50"]
    included = peer_row["latency_us_per_inference"]["p50"]
    net = (peer_row["latency_us_per_call"]["p50"] - identity_row["latency_us_per_call"]["p50"]) / batch_size
    result = {"peer_p50_us": included, "peer_net_p50_us": net,
              "ratio_call_included": dlad / included, "in_words_call_included": in_words(dlad / included)}
    if net > 0:
        result.update(ratio_net=dlad / net, in_words_net=in_words(dlad / net))
    return result


def agreement(ours, theirs, labels, step=None):
    result = {"top1_agreement": float(np.mean(ours.argmax(1) == theirs.argmax(1))),
              "peer_top1": float(np.mean(theirs.argmax(1) == labels))}
    if step:
        difference = np.abs(ours - theirs)
        result["logits_within_one_step"] = float(np.mean(difference <= step * 1.001))
        result["logits_identical"] = float(np.mean(difference <= step * 0.01))
        result["max_difference_steps"] = float(difference.max() / step)
    return result


def compile_and_check(name, form, file_name, description, binary, path, scratch, inputs, images, labels,
                      input_shape, litert_outputs):
    """Compiles one ONNX file as a user would and checks the compiled model on the test images."""
    onnx_file = path / file_name
    dla = scratch / f"{name}-{form}.dla"
    started = time.monotonic()
    compile_report = dlactl(binary, "compile", str(onnx_file), "-o", str(dla))
    compile_seconds = time.monotonic() - started
    summary = json.loads(dlactl(binary, "inspect", str(dla), "--json"))
    outputs_file = scratch / f"{name}-{form}-outputs.npy"
    dlactl(binary, "run", str(dla), "--input", str(inputs), "--output", str(outputs_file), "--threads", "1")
    ours = np.load(outputs_file).reshape(len(images), -1)
    step = summary["outputs"][0]["quantization"].get("scale")
    checks = {"images": int(len(images)), "top1": float(np.mean(ours.argmax(1) == labels)),
              "onnxruntime_same_file": agreement(ours, outputs_of("onnxruntime", onnx_file, images, input_shape),
                                                 labels, step),
              "litert": agreement(ours, litert_outputs, labels)}
    log(f"{name} ({form}): {len(summary['ops'])} operations "
        f"({', '.join(op['unit'] + ':' + op['type'] for op in summary['ops'])}); top-1 {checks['top1']:.2%}, "
        f"agreement with ONNX Runtime {checks['onnxruntime_same_file']['top1_agreement']:.2%}, "
        f"with LiteRT {checks['litert']['top1_agreement']:.2%}")
    entry = {"model": name, "form": form, "description": description, "onnx_file": file_name,
             "onnx_sha256": hashlib.sha256(onnx_file.read_bytes()).hexdigest(),
             "compile_command": f"dlactl compile {file_name} -o {name}.dla", "compile_seconds": round(compile_seconds, 2),
             "compile_report": compile_report.splitlines(), "dla_file_bytes": summary["fileBytes"],
             "operations": [{"name": op["name"], "unit": op["unit"], "type": op["type"]} for op in summary["ops"]],
             "agreement": checks}
    return entry, {"dla": dla, "onnx": onnx_file}


def timed_round(models, binary, images, settings, identity):
    """One round: per model and batch size LiteRT once, then per form dlad and ONNX Runtime on its file,
    back to back, so that every ratio compares figures taken seconds apart."""
    warmup, seconds = settings["warmup_seconds"], settings["min_seconds"]
    for model in models:
        for batch_size in BATCH_SIZES:
            litert = peer("litert", model["litert_file"], images, model["input_shape"], batch_size, warmup, seconds)
            for entry, files in model["forms"]:
                rows = {"dlad": perf(binary, files["dla"], model["inputs"], batch_size, warmup, seconds),
                        "onnxruntime": peer("onnxruntime", files["onnx"], images, model["input_shape"], batch_size,
                                            warmup, seconds),
                        "litert": litert}
                row = {"load_average_1min": os.getloadavg()[0], **rows,
                       "versus": {runtime: ratios(rows["dlad"], rows[runtime], identity[(runtime, batch_size)], batch_size)
                                  for runtime in ("litert", "onnxruntime")}}
                entry["latency"][str(batch_size)]["rounds"].append(row)
                log(f"  {entry['model']} ({entry['form']}) batch {batch_size:2d}: dlad "
                    f"{rows['dlad']['latency_us_per_inference']['p50']:.2f} µs; "
                    + "; ".join(f"{runtime} {versus['peer_p50_us']:.2f} µs ({versus['in_words_call_included']}, "
                                f"net {versus.get('in_words_net', 'n/a')})" for runtime, versus in row["versus"].items()))


def median_of_rounds(rounds):
    """The median over rounds of each runtime's p50 and of each same-round ratio, and the fastest call
    (under contention the better estimate of an uncontended one)."""
    def median(values):
        return float(np.median(values))
    summary = {"load_average_1min": [row["load_average_1min"] for row in rounds],
               "p50_us_per_inference": {runtime: median([row[runtime]["latency_us_per_inference"]["p50"] for row in rounds])
                                        for runtime in ("dlad", "litert", "onnxruntime")},
               "min_us_per_inference": {runtime: min(row[runtime]["latency_us_per_inference"]["min"] for row in rounds)
                                        for runtime in ("dlad", "litert", "onnxruntime")},
               "versus": {}}
    for runtime in ("litert", "onnxruntime"):
        versus = [row["versus"][runtime] for row in rounds]
        result = {"peer_p50_us": median([v["peer_p50_us"] for v in versus]),
                  "peer_net_p50_us": median([v["peer_net_p50_us"] for v in versus]),
                  "ratio_call_included": median([v["ratio_call_included"] for v in versus])}
        result["in_words_call_included"] = in_words(result["ratio_call_included"])
        if all("ratio_net" in v for v in versus):
            result["ratio_net"] = median([v["ratio_net"] for v in versus])
            result["in_words_net"] = in_words(result["ratio_net"])
        summary["versus"][runtime] = result
    return summary


def git_revision():
    def git(*arguments):
        return subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "Sources"))}


def run(arguments):
    images = np.load(arguments.work_dir / "mnist" / "test_images.npy")[:arguments.images]
    labels = np.load(arguments.work_dir / "mnist" / "test_labels.npy")[:arguments.images]
    settings = {"threads": 1, "batch_sizes": list(BATCH_SIZES), "rounds": arguments.rounds,
                "warmup_seconds": arguments.warmup_seconds,
                "min_seconds": arguments.min_seconds, "min_calls": {str(k): v for k, v in MIN_CALLS.items()},
                "accuracy_images": int(len(images)), "min_top1_agreement": arguments.min_top1_agreement,
                "timed_call": {"dlad": "dlactl perf --threads 1: Executor.run of the compiled .dla on a float32 batch "
                                       "(input quantization included), in process",
                               "onnxruntime": "InferenceSession.run on the same ONNX file, one thread",
                               "litert": "set_tensor + invoke + get_tensor on model.tflite, XNNPACK, one thread"}}
    document = {"schema": SCHEMA,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "host": {"cpu": measure.cpu_model(), "logical_cpus": os.cpu_count(), "machine": platform.machine(),
                         "python": platform.python_version(), "load_average": {"start": load_average()}},
                "dlad": {"dlactl": str(arguments.dlactl), **git_revision()},
                "versions": {package: metadata.version(package) for package in ("numpy", "onnxruntime", "ai-edge-litert")},
                "settings": settings}
    log(f"load average at start {document['host']['load_average']['start']}")
    failures, models = [], []
    with tempfile.TemporaryDirectory(prefix="dlad-user-path-") as directory:
        scratch = Path(directory)
        for name in arguments.models:
            path = arguments.work_dir / "models" / name
            input_shape = json.loads((path / "model.json").read_text())["input"]["shape"]
            inputs = scratch / f"{name}-inputs.npy"
            np.save(inputs, np.ascontiguousarray(images.reshape([len(images)] + input_shape)))
            litert_outputs = outputs_of("litert", path / "model.tflite", images, input_shape)
            forms = []
            for form, file_name, description in FORMS:
                entry, files = compile_and_check(name, form, file_name, description, arguments.dlactl, path, scratch,
                                                 inputs, images, labels, input_shape, litert_outputs)
                entry["latency"] = {str(batch_size): {"rounds": []} for batch_size in BATCH_SIZES}
                agreeing = entry["agreement"]["onnxruntime_same_file"]["top1_agreement"]
                if agreeing < arguments.min_top1_agreement:
                    failures.append(f"{name} ({form}): top-1 agreement with ONNX Runtime on {file_name} is "
                                    f"{agreeing:.4%}, below {arguments.min_top1_agreement:.2%}")
                forms.append((entry, files))
            models.append({"input_shape": input_shape, "inputs": inputs, "litert_file": path / "model.tflite",
                           "forms": forms})
        if failures:
            for failure in failures:
                print(f"error: {failure}", file=sys.stderr)
            return 1
        identity_rounds = {(runtime, batch_size): [] for runtime in measure.RUNTIMES for batch_size in BATCH_SIZES}
        for round_index in range(arguments.rounds):
            log(f"round {round_index + 1} of {arguments.rounds}, load average {load_average()}")
            identity = {}
            for (runtime, batch_size), rows in identity_rounds.items():
                identity[(runtime, batch_size)] = peer(runtime, arguments.work_dir / "models" / "identity" /
                                                       measure.MODEL_FILES[runtime], images, [prepare.IDENTITY_WIDTH],
                                                       batch_size, arguments.warmup_seconds, arguments.min_seconds)
                rows.append(identity[(runtime, batch_size)])
            timed_round(models, arguments.dlactl, images, settings, identity)
    identity_rows = [{"runtime": runtime, "batch_size": batch_size,
                      "p50_us_per_call": float(np.median([row["latency_us_per_call"]["p50"] for row in rows])),
                      "rounds": rows} for (runtime, batch_size), rows in identity_rounds.items()]
    entries = [entry for model in models for entry, _ in model["forms"]]
    for entry in entries:
        for latency in entry["latency"].values():
            latency.update(median_of_rounds(latency["rounds"]))
    document["host"]["load_average"]["end"] = load_average()
    document["identity"] = identity_rows
    document["models"] = entries
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print_table(document)
    log(f"wrote {arguments.output}")
    return 0


NAMES = {"lenet-300-100": "LeNet-300-100", "lenet-300-100-pruned90": "LeNet-300-100, 90 % pruned", "lenet-5": "LeNet-5"}


def print_table(document):
    """The README's table: dlad on the compiled file against each peer, call included and net of it;
    medians over the rounds."""
    print()
    print("| model (ONNX form compiled) | batch | dlad `perf` p50 µs | LiteRT p50 µs (net of call) | dlad vs LiteRT "
          "(call included / net) | ORT, same file, p50 µs (net) | dlad vs ORT (call included / net) | top-1 agreement "
          "with ORT / LiteRT |")
    print("|---|--:|--:|--:|---|--:|---|---|")
    for entry in document["models"]:
        agreement_text = (f"{entry['agreement']['onnxruntime_same_file']['top1_agreement']:.2%} / "
                          f"{entry['agreement']['litert']['top1_agreement']:.2%}")
        for batch_size, latency in entry["latency"].items():
            cells = []
            for runtime in ("litert", "onnxruntime"):
                versus = latency["versus"][runtime]
                cells.append(f"{versus['peer_p50_us']:.2f} ({versus['peer_net_p50_us']:.2f})")
                cells.append(f"{versus['in_words_call_included']} / {versus.get('in_words_net', 'n/a')}")
            print(f"| {NAMES.get(entry['model'], entry['model'])} ({entry['form']}) | {batch_size} "
                  f"| {latency['p50_us_per_inference']['dlad']:.2f} | " + " | ".join(cells) + f" | {agreement_text} |")
    identity = {(row["runtime"], row["batch_size"]): row["p50_us_per_call"] for row in document["identity"]}
    load = document["host"]["load_average"]
    print(f"\n{document['created']}, {document['host']['cpu']}, one thread each, median of "
          f"{document['settings']['rounds']} rounds; identity call p50: LiteRT "
          f"{identity[('litert', 1)]:.2f} / {identity[('litert', 64)]:.2f} µs, ONNX Runtime "
          f"{identity[('onnxruntime', 1)]:.2f} / {identity[('onnxruntime', 64)]:.2f} µs (batch 1 / 64); "
          f"load average (1, 5, 15 min) {load['start']} at start, {load['end']} at end.")


def main():
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dlactl", type=Path, required=True, help="the release dlactl")
    parser.add_argument("--work-dir", type=Path, default=here.parent / ".work")
    parser.add_argument("--output", type=Path, default=here.parent / "results" / "user-path.json")
    parser.add_argument("--models", type=lambda text: text.split(","), default=list(prepare.MODELS))
    parser.add_argument("--images", type=int, default=10_000, help="test images for the agreement check")
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed rounds over every model; figures and ratios are medians over rounds")
    parser.add_argument("--min-top1-agreement", type=float, default=0.995,
                        help="stop with an error when dlad's top-1 agrees less often with ONNX Runtime on the same file")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
