"""Where a model's training stands, saved after every epoch so that a run can stop at any time
and resume in a later session with the same bits (weights, masks, codebooks, optimizer
velocities and the random generator's state are all restored).

A checkpoint records the recipe stages it has started; it is reused only while those stages
are unchanged, so editing a later stage in recipes.py reuses the work before it.
"""
import json
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Run:
    layers: list
    rng: np.random.Generator
    stage: int = 0            # index of the stage in progress (len(stages) when all are done)
    epoch: int = 0            # epochs of that stage already trained
    prepared: bool = False    # the stage's pruning or clustering has been applied
    masks: dict | None = None
    codebooks: dict = field(default_factory=dict)   # layer index → (indices int16, centroids float32)
    optimizer: object = None  # MomentumSGD or SharedWeightSGD: anything with velocity {layer: (array, array)}
    report: list = field(default_factory=list)      # one entry per finished stage

    def recipe_prefix(self, recipe):
        """The part of the recipe this run depends on: the header and every started stage."""
        started = self.stage + (1 if self.prepared else 0)
        return {"architecture": recipe["architecture"], "seed": recipe["seed"], "stages": recipe["stages"][:started]}


def save(path, run, recipe):
    arrays = {f"layer{i}.{key}": layer[key] for i, layer in enumerate(run.layers) for key in ("weight", "bias")
              if key in layer}
    if run.masks is not None:
        arrays.update({f"mask{i}": mask for i, mask in run.masks.items()})
    for i, (indices, centroids) in run.codebooks.items():
        arrays[f"indices{i}"], arrays[f"centroids{i}"] = indices, centroids
    if run.optimizer is not None:
        for i, (v_first, v_bias) in run.optimizer.velocity.items():
            arrays[f"velocity{i}.first"], arrays[f"velocity{i}.bias"] = v_first, v_bias
    meta = {"recipe": run.recipe_prefix(recipe), "stage": run.stage, "epoch": run.epoch, "prepared": run.prepared,
            "rng": run.rng.bit_generator.state, "report": run.report, "has_masks": run.masks is not None,
            "optimizer": type(run.optimizer).__name__ if run.optimizer is not None else None}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial.npz")
    np.savez(temporary, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    temporary.replace(path)


def load(path, recipe, architecture, make_optimizer):
    """The saved run, or None if there is none or it was made with different stages.
    `make_optimizer(run)` rebuilds the optimizer of the stage in progress; its velocities are restored."""
    if not path.exists():
        return None
    with np.load(path) as saved:
        meta = json.loads(str(saved["meta"]))
        prefix = meta["recipe"]
        current = {"architecture": recipe["architecture"], "seed": recipe["seed"],
                   "stages": recipe["stages"][:len(prefix["stages"])]}
        if json.dumps(prefix, sort_keys=True) != json.dumps(current, sort_keys=True):
            return None
        layers = architecture(np.random.default_rng(0))
        for i, layer in enumerate(layers):
            for key in ("weight", "bias"):
                if key in layer:
                    layer[key] = saved[f"layer{i}.{key}"]
        trainable = [i for i, layer in enumerate(layers) if "weight" in layer]
        masks = {i: saved[f"mask{i}"] for i in trainable} if meta["has_masks"] else None
        codebooks = {i: (saved[f"indices{i}"], saved[f"centroids{i}"]) for i in trainable if f"indices{i}" in saved}
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng"]
        run = Run(layers=layers, rng=rng, stage=meta["stage"], epoch=meta["epoch"], prepared=meta["prepared"],
                  masks=masks, codebooks=codebooks, report=meta["report"])
        if meta["optimizer"] is not None:
            run.optimizer = make_optimizer(run)
            if type(run.optimizer).__name__ != meta["optimizer"]:
                raise ValueError(f"{path}: saved with a {meta['optimizer']}, the stage now makes a "
                                 f"{type(run.optimizer).__name__}")
            for i in run.optimizer.velocity:
                run.optimizer.velocity[i] = (saved[f"velocity{i}.first"], saved[f"velocity{i}.bias"])
        return run

