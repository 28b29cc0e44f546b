"""`make eval`: the compiler's figures on all 10,000 MNIST test images.

For every MNIST fixture model (Tests/Fixtures/models), compiles it with the release `dlactl`,
runs it on the emulator (`dlactl run`) and compares with the runtime the fixtures take as
reference: ONNX Runtime for INT8 (QDQ and QOperator), the ONNX reference evaluator for FP8 graphs
(ONNX Runtime's FP8 CPU kernels are wrong, see Tests/Fixtures/README.md), and the float model's
own accuracy for float models compiled to INT8 / FP8 / FP16 with 500 training images as
calibration. Then the shipped firmware models (firmware-models/manifest.json): their top-1 error
on the 10,000 test images beside the manifest's `testError`. Prints the tables and writes
Benchmarks/results/compiler-eval.json.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx.reference import ReferenceEvaluator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from mnistlib import mnist_data  # noqa: E402

FIXTURES = ROOT / "Tests" / "Fixtures" / "models"
DLACTL = ROOT / ".build" / "release" / "dlactl"

QUANTIZED = ["mlp-int8-qdq", "mlp-int8-qoperator", "mlp-matmul-int8-qoperator", "lenet5-int8-qdq", "lenet5-int8-qoperator",
             "lenet5-uint8-qdq", "lenet5-uint8-qoperator", "mlp-fp8-e4m3fn", "mlp-fp8-e5m2"]
FLOAT = [("mlp-float", "int8"), ("mlp-float", "fp8-e4m3"), ("mlp-float", "fp8-e5m2"), ("mlp-float", "fp16"),
         ("lenet5-float", "int8"), ("lenet5-float", "fp8-e4m3"), ("lenet5-float", "fp16")]


def shaped(name, images):
    return images if name.startswith("mlp") else images.reshape(-1, 1, 28, 28)


def reference(name, images):
    path = str(FIXTURES / f"{name}.onnx")
    x = shaped(name, images)
    if "fp8" in name:
        evaluator = ReferenceEvaluator(path)
        return np.concatenate([evaluator.run(None, {"input": x[i:i + 500]})[0] for i in range(0, len(x), 500)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def emulate(model, images, work, extra):
    dla = work / (model.stem + ".dla")
    subprocess.run([str(DLACTL), "compile", str(model), "-o", str(dla)] + extra, check=True, stdout=subprocess.DEVNULL)
    x, y = work / "x.npy", work / "y.npy"
    np.save(x, images)
    subprocess.run([str(DLACTL), "run", str(dla), "--input", str(x), "--output", str(y), "--threads", "2"],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(y), json.loads(subprocess.run([str(DLACTL), "inspect", str(dla), "--json"], check=True,
                                                 capture_output=True, text=True).stdout)


def main():
    mnist = mnist_data.load(ROOT / "Benchmarks" / ".work")
    images, labels = mnist["test"]
    calibration = mnist["train"][0][:500]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        for name in QUANTIZED:
            ref = reference(name, images)
            ours, summary = emulate(FIXTURES / f"{name}.onnx", shaped(name, images), work, [])
            step = summary["outputs"][0]["quantization"].get("scale")
            row = {"model": name, "reference": "onnx.reference" if "fp8" in name else "onnxruntime",
                   "top1Agreement": float((ours.argmax(1) == ref.argmax(1)).mean()),
                   "accuracy": float((ours.argmax(1) == labels).mean()),
                   "referenceAccuracy": float((ref.argmax(1) == labels).mean())}
            if step:
                row["withinOneStep"] = float((np.abs(ours - ref) <= step * 1.001).mean())
                row["identical"] = float((np.abs(ours - ref) <= step * 0.01).mean())
            rows.append(row)
            print(json.dumps(row), flush=True)
        for name, precision in FLOAT:
            ref = reference(name, images)
            calibration_path = work / "calibration.npy"
            np.save(calibration_path, shaped(name, calibration))
            ours, _ = emulate(FIXTURES / f"{name}.onnx", shaped(name, images), work,
                              ["--precision", precision, "--calibration", str(calibration_path)])
            row = {"model": f"{name} → {precision}", "reference": "onnxruntime (float)",
                   "top1Agreement": float((ours.argmax(1) == ref.argmax(1)).mean()),
                   "accuracy": float((ours.argmax(1) == labels).mean()),
                   "referenceAccuracy": float((ref.argmax(1) == labels).mean())}
            rows.append(row)
            print(json.dumps(row), flush=True)
        firmware = []
        manifest = json.loads((ROOT / "firmware-models" / "manifest.json").read_text())
        for entry in manifest["models"]:
            model = ROOT / "firmware-models" / entry["file"]
            x, y = work / "x.npy", work / "y.npy"
            sample_shape = np.load(ROOT / "firmware-models" / entry["samples"]).shape[1:]
            np.save(x, images.reshape((-1,) + sample_shape))
            subprocess.run([str(DLACTL), "run", str(model), "--input", str(x), "--output", str(y), "--threads", "2"],
                           check=True, stdout=subprocess.DEVNULL)
            error = float((np.load(y).argmax(1) != labels).mean())
            firmware.append({"model": entry["name"], "file": entry["file"], "testError": error,
                             "manifestTestError": entry.get("testError"), "compressionRatio": entry.get("compressionRatio")})
            print(json.dumps(firmware[-1]), flush=True)
    out = ROOT / "Benchmarks" / "results" / "compiler-eval.json"
    out.write_text(json.dumps({"images": int(len(images)), "rows": rows, "firmware": firmware}, indent=2) + "\n")
    print(f"\n{'model':34} {'agree':>8} {'ours':>7} {'ref':>7} {'≤1 step':>8}")
    for row in rows:
        step = f"{row['withinOneStep'] * 100:.2f}" if "withinOneStep" in row else "-"
        print(f"{row['model']:34} {row['top1Agreement'] * 100:7.2f}% {row['accuracy'] * 100:6.2f}% "
              f"{row['referenceAccuracy'] * 100:6.2f}% {step:>8}")
    print(f"\n{'firmware model':28} {'error':>7} {'manifest':>9} {'ratio':>7}")
    for row in firmware:
        print(f"{row['model']:28} {row['testError'] * 100:6.2f}% {row['manifestTestError'] * 100:8.2f}% {row['compressionRatio']:6.1f}x")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
