"""Makes the firmware models: trains, prunes and shares LeNet-300-100 and LeNet-5 on real MNIST
(recipes.py), checkpointing after every epoch, and exports each finished stage as float ONNX.

Run through `make firmware-models`; run again to resume where the last run stopped. Writes
  <work>/<model>/state.npz              the run in progress (resumed from)
  <work>/<model>/stages/<k>-<stage>.npz the weights after each finished stage
  <work>/<model>/onnx/<k>-<stage>.onnx  each finished stage as ONNX (a ratio-versus-error curve)
  <work>/<model>/report.json            per stage: errors, per-layer sparsity and bits, size estimate
  <work>/<model>/calibration.npy        500 training images shaped as the model input
  <work>/<model>/test_images.npy, test_labels.npy   all 10 000 test images, for `make eval`
  firmware-models/samples/<model>/inputs.npy, labels.npy   the first 200 test images (committed)
  firmware-models/onnx/<model>.onnx     the last stage's model, once every stage is done
Deterministic: fixed seeds and one BLAS thread; a resumed run gives the same bits as one that
never stopped.
"""
import os

# Before numpy loads: BLAS threading changes the order of float sums.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

import checkpoint
import int8_simulation
import onnx_export
import storage_estimate
import weight_sharing
from mnistlib import mnist_data, networks
from mnistlib.trained_weights import ARCHITECTURES
from recipes import LAYER_NAMES, RECIPES

MODELS_DIR = Path(__file__).resolve().parents[1]
CALIBRATION_IMAGES = 500
SAMPLE_IMAGES = 200
DEFAULT_WEIGHT_DECAY = 5e-4  # Caffe's LeNet solvers; a stage may set its own "weight_decay"


def log(message):
    print(time.strftime("%H:%M:%S ") + message, flush=True)


def layer_indices(model, names):
    by_name = {name: i for i, name in LAYER_NAMES[model].items()}
    return {by_name[name]: value for name, value in names.items()}


def make_optimizer(stage, run):
    if stage["kind"] == "share":
        return weight_sharing.SharedWeightSGD(run.layers, run.codebooks)
    return networks.MomentumSGD(run.layers, weight_decay=stage.get("weight_decay", DEFAULT_WEIGHT_DECAY), masks=run.masks)


def set_dropout(model, run, stage):
    """Dropout is a training setting of the stage, not part of the weights: set on every (re)start."""
    rates = layer_indices(model, stage.get("dropout", {}))
    for i, layer in enumerate(run.layers):
        if i in rates:
            layer["dropout"] = rates[i]
        else:
            layer.pop("dropout", None)


def prepare_stage(model, run, stage):
    """Applies a stage's pruning or clustering and makes its optimizer."""
    if stage["kind"] == "prune":
        run.masks = networks.magnitude_masks(run.layers, layer_indices(model, stage["sparsity"]))
        for i, mask in run.masks.items():
            run.layers[i]["weight"] = run.layers[i]["weight"] * mask
    elif stage["kind"] == "share":
        for i, bits in layer_indices(model, stage["bits"]).items():
            run.codebooks[i] = weight_sharing.share(run.layers[i]["weight"], bits)
            run.layers[i]["weight"] = weight_sharing.shared_weight(*run.codebooks[i])
    elif stage["kind"] != "train":
        raise ValueError(f"stage {stage['name']}: unknown kind {stage['kind']!r}, expected train, prune or share")
    run.optimizer = make_optimizer(stage, run)
    run.prepared = True


def error(layers, images, labels, input_shape):
    return round(1 - networks.accuracy(layers, images, labels, input_shape), 4)


def current_bits(recipe, stage_index):
    """The value bits of each layer after the stages up to stage_index (8 until shared)."""
    bits = {}
    for stage in recipe["stages"][:stage_index + 1]:
        bits.update(stage.get("bits", {}))
    return bits


def finish_stage(model, recipe, run, mnist, paths, input_shape, seconds):
    stage = recipe["stages"][run.stage]
    names = LAYER_NAMES[model]
    estimate = storage_estimate.network_estimate(run.layers, run.codebooks, current_bits(recipe, run.stage), names)
    onnx_model = onnx_export.export(model, run.layers, input_shape, names)
    test_images, test_labels = mnist["test"]
    test_inputs = test_images.reshape((-1,) + input_shape)
    numpy_logits = np.concatenate([networks.forward(run.layers, test_inputs[s:s + 1000]) for s in range(0, 10_000, 1000)])
    ort_logits = onnx_export.onnxruntime_logits(onnx_model, test_inputs)
    entry = {"stage": stage["name"], "kind": stage["kind"], "epochs": stage["epochs"], "seconds": round(seconds, 1),
             "valid_error": error(run.layers, *mnist["valid"], input_shape),
             "test_error": round(float(np.mean(numpy_logits.argmax(axis=1) != test_labels)), 4),
             "onnxruntime_test_error": round(float(np.mean(ort_logits.argmax(axis=1) != test_labels)), 4),
             "onnxruntime_max_abs_difference": float(np.abs(ort_logits - numpy_logits).max()),
             "int8_simulated_test_error": int8_simulation.int8_error(
                 run.layers, mnist["train"][0][:CALIBRATION_IMAGES].reshape((-1,) + input_shape), test_inputs, test_labels),
             "estimate": estimate}
    run.report.append(entry)
    onnx_path = paths["onnx"] / f"{run.stage}-{stage['name']}.onnx"
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.write_bytes(onnx_model.SerializeToString())
    layers = ", ".join(f"{n} {e['sparsity']:.1%}/{e['bits']}b/{e['distinct_values']}v" for n, e in estimate["layers"].items())
    log(f"{model} {stage['name']} done: valid {entry['valid_error']:.2%}, test {entry['test_error']:.2%} "
        f"(ORT {entry['onnxruntime_test_error']:.2%}, INT8 simulated {entry['int8_simulated_test_error']:.2%}); {layers}; estimate {estimate['huffman_bytes']} B Huffman "
        f"({estimate['huffman_ratio']}x), {estimate['fixed_bytes']} B fixed ({estimate['fixed_ratio']}x)")
    run.stage, run.epoch, run.prepared, run.optimizer = run.stage + 1, 0, False, None


def write_arrays(model, mnist, paths, input_shape):
    """Calibration, test and sample arrays; they depend on MNIST only, not on training."""
    train_images, _ = mnist["train"]
    test_images, test_labels = mnist["test"]
    arrays = {paths["work"] / "calibration.npy": train_images[:CALIBRATION_IMAGES].reshape((-1,) + input_shape),
              paths["work"] / "test_images.npy": test_images.reshape((-1,) + input_shape),
              paths["work"] / "test_labels.npy": test_labels,
              paths["samples"] / "inputs.npy": test_images[:SAMPLE_IMAGES].reshape((-1,) + input_shape),
              paths["samples"] / "labels.npy": test_labels[:SAMPLE_IMAGES]}
    for path, array in arrays.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as file:
            np.save(file, np.ascontiguousarray(array), allow_pickle=False)


def resume(model, recipe, paths):
    """The newest checkpoint that matches the recipe: the run in progress, else a finished stage."""
    architecture = ARCHITECTURES[recipe["architecture"]]
    snapshots = [p for p in paths["stages"].glob("*.npz") if not p.name.endswith(".partial.npz")]
    candidates = [paths["work"] / "state.npz"] + sorted(snapshots, key=lambda p: int(p.name.split("-")[0]), reverse=True)
    for path in candidates:
        run = checkpoint.load(path, recipe, architecture,
                              lambda run: make_optimizer(recipe["stages"][run.stage], run))
        if run is not None:
            log(f"{model}: resuming from {path.name} at stage {run.stage}, epoch {run.epoch}")
            return run
    rng = np.random.default_rng(recipe["seed"])
    log(f"{model}: starting from scratch (seed {recipe['seed']})")
    return checkpoint.Run(layers=architecture(rng), rng=rng)


def remove_later_stages(paths, first):
    """Snapshots and exports of stages from `first` on belong to an older recipe: they are redone."""
    for directory, suffix in ((paths["stages"], ".npz"), (paths["onnx"], ".onnx")):
        for path in directory.glob(f"*{suffix}"):
            if int(path.name.split("-")[0]) >= first:
                path.unlink()


def make(model, work_dir, mnist):
    recipe = RECIPES[model]
    input_shape = networks.INPUT_SHAPES[recipe["architecture"]]
    base = work_dir / model
    paths = {"work": base, "stages": base / "stages", "onnx": base / "onnx", "samples": MODELS_DIR / "samples" / model}
    write_arrays(model, mnist, paths, input_shape)
    run = resume(model, recipe, paths)
    remove_later_stages(paths, run.stage)
    train_images, train_labels = mnist["train"]
    train_inputs = train_images.reshape((-1,) + input_shape)
    stages = recipe["stages"]
    while run.stage < len(stages):
        stage = stages[run.stage]
        if not run.prepared:
            prepare_stage(model, run, stage)
            checkpoint.save(base / "state.npz", run, recipe)
        set_dropout(model, run, stage)
        started = time.monotonic()
        while run.epoch < stage["epochs"]:
            rate = stage["learning_rate"] * stage["decay"] ** run.epoch
            loss = networks.sgd_epoch(run.layers, train_inputs, train_labels, run.optimizer, rate=rate, rng=run.rng)
            run.epoch += 1
            checkpoint.save(base / "state.npz", run, recipe)
            log(f"{model} {stage['name']} epoch {run.epoch}/{stage['epochs']}: rate {rate:.5f}, loss {loss:.4f}, "
                f"valid error {error(run.layers, *mnist['valid'], input_shape):.2%}")
        finished = run.stage
        finish_stage(model, recipe, run, mnist, paths, input_shape, time.monotonic() - started)
        checkpoint.save(paths["stages"] / f"{finished}-{stage['name']}.npz", run, recipe)
        checkpoint.save(base / "state.npz", run, recipe)
        (base / "report.json").write_text(json.dumps(run.report, indent=1) + "\n")
    (base / "report.json").write_text(json.dumps(run.report, indent=1) + "\n")
    final = paths["onnx"] / f"{len(stages) - 1}-{stages[-1]['name']}.onnx"
    shutil.copyfile(final, MODELS_DIR / "onnx" / f"{model}.onnx")
    log(f"{model}: all stages done; {MODELS_DIR / 'onnx' / f'{model}.onnx'} ({final.stat().st_size} bytes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--work-dir", type=Path, default=MODELS_DIR / ".work")
    args = parser.parse_args()
    mnist = mnist_data.load(args.work_dir)
    (MODELS_DIR / "onnx").mkdir(parents=True, exist_ok=True)
    for model in args.models:
        make(model, args.work_dir, mnist)


if __name__ == "__main__":
    main()
