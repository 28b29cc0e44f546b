"""Trains the MNIST networks once and caches their float weights in <work dir>/weights.

A cache file carries the recipe it was trained with; a changed recipe retrains.
Fixed seeds and OPENBLAS_NUM_THREADS=1 make a retrain reproduce the same weights.
"""
import json
import time

import numpy as np

from mnistlib import networks

RECIPES = {
    "lenet-300-100": {"architecture": "lenet-300-100", "seed": 1, "epochs": 12, "learning_rate": 0.05, "decay": 0.8},
    "lenet-300-100-pruned90": {"architecture": "lenet-300-100", "start_from": "lenet-300-100",
                               "sparsity": 0.9, "seed": 2, "epochs": 8, "learning_rate": 0.02, "decay": 0.8},
    "lenet-5": {"architecture": "lenet-5", "seed": 3, "epochs": 2, "learning_rate": 0.01},
    "lenet-5-small": {"architecture": "lenet-5-small", "seed": 4, "epochs": 3, "learning_rate": 0.02, "decay": 0.7},
}
ARCHITECTURES = {"lenet-300-100": networks.lenet_300_100, "lenet-5": networks.lenet_5,
                 "lenet-5-small": networks.lenet_5_small}


def _save(path, layers, recipe, report):
    arrays = {f"layer{i}.{key}": layer[key] for i, layer in enumerate(layers) for key in ("weight", "bias") if key in layer}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial.npz")
    np.savez(temporary, recipe=np.array(json.dumps(recipe, sort_keys=True)),
             report=np.array(json.dumps(report, sort_keys=True)), **arrays)
    temporary.replace(path)


def _load(path, recipe):
    if not path.exists():
        return None
    with np.load(path) as saved:
        if str(saved["recipe"]) != json.dumps(recipe, sort_keys=True):
            return None
        layers = ARCHITECTURES[recipe["architecture"]](np.random.default_rng(0))
        for i, layer in enumerate(layers):
            for key in ("weight", "bias"):
                if key in layer:
                    layer[key] = saved[f"layer{i}.{key}"]
        return layers, json.loads(str(saved["report"]))


def load_or_train(name, work_dir, mnist, log=print):
    """Returns (float layers, training report) for one of RECIPES."""
    recipe = RECIPES[name]
    path = work_dir / "weights" / f"{name}.npz"
    cached = _load(path, recipe)
    if cached is not None:
        return cached
    input_shape = networks.INPUT_SHAPES[recipe["architecture"]]
    train_images, train_labels = mnist["train"]
    train_images = train_images.reshape((-1,) + input_shape)
    rng = np.random.default_rng(recipe["seed"])
    started = time.monotonic()
    masks = None
    if "start_from" in recipe:
        layers, _ = load_or_train(recipe["start_from"], work_dir, mnist, log)
        layers = [{key: value.copy() if isinstance(value, np.ndarray) else value for key, value in layer.items()}
                  for layer in layers]
        masks = networks.magnitude_masks(layers, recipe["sparsity"])
        for i, mask in masks.items():
            layers[i]["weight"] = layers[i]["weight"] * mask
        log(f"{name}: pruned {recipe['sparsity']:.0%} of each layer's weights by magnitude, retraining with the mask")
    else:
        layers = ARCHITECTURES[recipe["architecture"]](rng)
        log(f"{name}: training from scratch")
    networks.train(layers, train_images, train_labels, epochs=recipe["epochs"], learning_rate=recipe["learning_rate"],
                   decay=recipe.get("decay", 0.5), rng=rng, masks=masks, log=log, name=name)
    report = {"training_seconds": round(time.monotonic() - started, 1)}
    for split in ("valid", "test"):
        report[f"float_{split}_accuracy"] = networks.accuracy(layers, *mnist[split], input_shape)
    report["weight_sparsity"] = float(np.mean([np.mean(l["weight"] == 0) for l in layers if "weight" in l]))
    log(f"{name}: float accuracy valid {report['float_valid_accuracy']:.4f}, test {report['float_test_accuracy']:.4f} "
        f"({report['training_seconds']} s)")
    _save(path, layers, recipe, report)
    return layers, report
