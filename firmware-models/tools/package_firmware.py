"""Compiles the trained firmware models into the shipped `.dla` files (`make firmware-package`).

For each model (firmware-models/onnx/<model>.onnx, made by pipeline.py) and each precision
(INT8, FP8 E4M3) it runs the release `dlactl compile` (calibration: the pipeline's 500 training
images; the layers' shared weights are detected and kept; 8 self-test vectors from the samples),
measures top-1 error on all 10,000 MNIST test images on the emulator (`dlactl run`), writes the
samples' expected float32 logits, and rewrites firmware-models/manifest.json. With --curve it
instead compiles every stage the pipeline exported (<work>/<model>/onnx/<k>-<stage>.onnx) to INT8
and writes the ratio-versus-error curve to firmware-models/curve.json.
"""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parents[1]
ROOT = MODELS_DIR.parent
WORK = MODELS_DIR / ".work"
DLACTL = ROOT / ".build" / "release" / "dlactl"

# share_bits: the largest per-layer codebook the pipeline used (recipes.py): a layer with at most
# 2^bits distinct values is kept exactly. Percentile calibration: measured best on LeNet-300-100.
MODELS = [
    {"name": "lenet-300-100", "share_bits": 5},
    {"name": "lenet-5", "share_bits": 8},
]
PRECISIONS = [("int8", "int8"), ("fp8-e4m3", "fp8e4m3")]


def dlactl(*arguments, capture=False):
    result = subprocess.run([str(DLACTL), *map(str, arguments)], check=True, capture_output=True, text=True)
    return result.stdout if capture else None


def curve():
    """Ratio versus test error along each model's prune / share schedule, INT8 on the emulator."""
    points = []
    for model in MODELS:
        name = model["name"]
        work = WORK / name
        labels = np.load(work / "test_labels.npy")
        stages = json.loads((work / "report.json").read_text())
        current = {f"{index}-{stage['stage']}" for index, stage in enumerate(stages)}
        for stage in sorted((work / "onnx").glob("*.onnx"), key=lambda p: (int(p.stem.split("-")[0]), p.stem)):
            if stage.stem not in current:
                continue  # an export left over from an earlier schedule
            file = work / f"curve-{stage.stem}.dla"
            dlactl("compile", stage, "-o", file, "--precision", "int8", "--calibration", work / "calibration.npy",
                   "--calibration-method", "percentile", "--share-bits", model["share_bits"], capture=True)
            outputs = work / "curve-logits.npy"
            dlactl("run", file, "--input", work / "test_images.npy", "--output", outputs, "--threads", 2)
            summary = json.loads(dlactl("inspect", file, "--json", capture=True))
            point = {"model": name, "stage": stage.stem, "testError": round(float((np.load(outputs).argmax(1) != labels).mean()), 4),
                     "compressionRatio": round(summary["compressionRatio"], 2), "parameterBytes": summary["parameterBytes"],
                     "density": round(summary["nonzeroParameters"] / summary["parameters"], 4)}
            points.append(point)
            print(json.dumps(point), flush=True)
    (MODELS_DIR / "curve.json").write_text(json.dumps({"points": points}, indent=2) + "\n")
    print("wrote firmware-models/curve.json")


def main():
    if not DLACTL.exists():
        sys.exit(f"error: {DLACTL} is missing (swift build -c release --product dlactl)")
    if "--curve" in sys.argv[1:]:
        curve()
        return
    entries = []
    for model in MODELS:
        name = model["name"]
        onnx = MODELS_DIR / "onnx" / f"{name}.onnx"
        work = WORK / name
        samples = MODELS_DIR / "samples" / name
        test_labels = np.load(work / "test_labels.npy")
        for flag, suffix in PRECISIONS:
            file = MODELS_DIR / f"{name}-{suffix}.dla"
            model_name = name if suffix == "int8" else f"{name}-{suffix}"
            report = dlactl("compile", onnx, "-o", file, "--name", model_name, "--precision", flag,
                            "--calibration", work / "calibration.npy", "--calibration-method", "percentile",
                            "--share-bits", model["share_bits"], "--self-test", samples / "inputs.npy",
                            "--self-test-rows", 8, "--version", 1, capture=True)
            print(report, flush=True)
            outputs = work / f"{suffix}-test-logits.npy"
            dlactl("run", file, "--input", work / "test_images.npy", "--output", outputs, "--threads", 2)
            error = float((np.load(outputs).argmax(1) != test_labels).mean())
            dlactl("run", file, "--input", samples / "inputs.npy", "--output", samples / f"{suffix}.expected.npy")
            summary = json.loads(dlactl("inspect", file, "--json", capture=True))
            data = file.read_bytes()
            entries.append({
                "name": model_name, "file": file.name, "version": 1,
                "sha256": hashlib.sha256(data).hexdigest(), "precision": summary["precision"],
                "testError": round(error, 4), "compressionRatio": round(summary["compressionRatio"], 2),
                "bytes": len(data), "parameterBytes": summary["parameterBytes"], "fp32Bytes": summary["fp32Bytes"],
                "samples": f"samples/{name}/inputs.npy", "expectedOutputs": f"samples/{name}/{suffix}.expected.npy",
            })
            print(f"{file.name}: test error {error * 100:.2f} %, {summary['compressionRatio']:.1f}x, {len(data)} B", flush=True)
    (MODELS_DIR / "manifest.json").write_text(json.dumps({"models": entries}, indent=2) + "\n")
    print("wrote firmware-models/manifest.json")


if __name__ == "__main__":
    main()
