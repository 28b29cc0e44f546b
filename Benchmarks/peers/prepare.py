"""Prepares everything the peer benchmarks and dlad's engine share, under Benchmarks/.work:
MNIST arrays, trained float weights (cached), and per model the quantized interchange with its
ONNX QDQ and LiteRT files and the ONNX Runtime `quantize_static` model a user would bring
(user_models.py), plus identity models that time each runtime's per-call overhead.
Training runs once; a model's exports are rebuilt when they are older than its weights or
than any script here, so they always match this code.
"""
import os

# Before numpy loads: BLAS threading changes the order of float sums, and with it trained
# weights and calibrated ranges. One thread makes every run produce the same bytes.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import interchange
import litert_export
import onnx_export
import quantization
import user_models
from fixtures import graphs, ort_quantization
from mnistlib import mnist_data, networks, trained_weights

MODELS = ("lenet-300-100", "lenet-300-100-pruned90", "lenet-5")
CALIBRATION_IMAGES = 10_000  # the first training images
IDENTITY_WIDTH = 784
SOURCES = [*Path(__file__).resolve().parent.glob("*.py"), *Path(networks.__file__).parent.glob("*.py"),
           Path(graphs.__file__), Path(ort_quantization.__file__)]


def log(message):
    print(message, flush=True)


def prepare(work_dir: Path):
    started = time.monotonic()
    mnist = mnist_data.load(work_dir)
    log(f"MNIST: {', '.join(f'{k} {len(v[1])}' for k, v in mnist.items())} images in {work_dir / 'mnist'}")
    calibration = mnist["train"][0][:CALIBRATION_IMAGES]
    test_images, test_labels = mnist["test"]
    newest_source = max(path.stat().st_mtime for path in SOURCES)
    for name in MODELS:
        layers, report = trained_weights.load_or_train(name, work_dir, mnist, log)
        directory = work_dir / "models" / name
        weights = work_dir / "weights" / f"{name}.npz"
        newest_input = max(newest_source, weights.stat().st_mtime)
        architecture = trained_weights.RECIPES[name]["architecture"]
        user_model = directory / user_models.FILE_NAME
        if not user_model.exists() or user_model.stat().st_mtime < newest_input:
            directory.mkdir(parents=True, exist_ok=True)
            user_models.write(directory, name, layers, networks.INPUT_SHAPES[architecture], calibration)
            log(f"{name}: ONNX Runtime quantize_static model -> {user_model}")
        model_json = directory / "model.json"
        if model_json.exists() and model_json.stat().st_mtime >= newest_input:
            log(f"{name}: up to date in {directory}")
            continue
        model = quantization.quantize_network(name, layers, networks.INPUT_SHAPES[architecture], calibration)
        codes = quantization.reference_forward(model, test_images)
        reference_accuracy = float(np.mean(codes.argmax(axis=1) == test_labels))
        report = dict(report, calibration_images=CALIBRATION_IMAGES, int8_reference_test_accuracy=reference_accuracy)
        interchange.write(directory, model, report, onnx_export.build_quantized(model),
                          litert_export.build_quantized(model), codes)
        log(f"{name}: float test accuracy {report['float_test_accuracy']:.4f}, "
            f"INT8 reference {reference_accuracy:.4f} -> {work_dir / 'models' / name}")
    identity = work_dir / "models" / "identity"
    identity.mkdir(parents=True, exist_ok=True)
    (identity / "model.onnx").write_bytes(onnx_export.build_identity(IDENTITY_WIDTH))
    (identity / "model.tflite").write_bytes(litert_export.build_identity(IDENTITY_WIDTH))
    log(f"prepared in {time.monotonic() - started:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=Path(__file__).resolve().parent.parent / ".work")
    prepare(parser.parse_args().work_dir)


if __name__ == "__main__":
    sys.exit(main())
