"""How each firmware model is made: its network, its seed and its stages, in order.

Stages (each trains `epochs` epochs of minibatch SGD, the rate multiplied by `decay` each epoch):
  train  — from the current weights (random at first; after pruning the zeros stay pinned);
  prune  — first zeroes the smallest-magnitude weights of each layer to the given per-layer
           sparsity (Han et al., NIPS 2015), then retrains with the zeros pinned; sparsities
           grow stage by stage (iterative pruning);
  A stage may set "dropout" {layer: rate} on a layer's output while it trains; for retraining a
  pruned layer the rate shrinks with the square root of the connections kept (Han et al. 2015, §3.5).
  share  — k-means weight sharing with `bits` per layer (2^bits − 1 nonzero centroids plus 0),
           then fine-tunes the centroids (Deep Compression, ICLR 2016).
A changed stage invalidates it and every later one; the stages before it are reused.
The per-layer sparsities follow Deep Compression's Table 2 / 3 and go a little further
where the error allowed it.
"""

LAYER_NAMES = {
    "lenet-300-100": {0: "fc1", 1: "fc2", 2: "fc3"},
    "lenet-5": {0: "conv1", 2: "conv2", 5: "fc1", 6: "fc2"},
}


def _pruning(final, fractions, epochs, learning_rate, decay, dropout=None):
    """Iterative pruning: stage k prunes each layer to fractions[k] × its final sparsity."""
    stages = []
    for k, f in enumerate(fractions):
        sparsity = {layer: round(s * f, 4) for layer, s in final.items()}
        stage = {"name": f"prune{k + 1}", "kind": "prune", "epochs": epochs, "learning_rate": learning_rate,
                 "decay": decay, "sparsity": sparsity}
        if dropout:
            stage["dropout"] = {layer: round(rate * (1 - sparsity[layer]) ** 0.5, 4) for layer, rate in dropout.items()}
        stages.append(stage)
    return stages


RECIPES = {
    "lenet-300-100": {
        "architecture": "lenet-300-100", "seed": 300100,
        "stages": [
            {"name": "dense", "kind": "train", "epochs": 40, "learning_rate": 0.05, "decay": 0.93,
             "dropout": {"fc1": 0.3, "fc2": 0.3}},
            *_pruning({"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}, (0.5, 0.75, 0.88, 0.95, 1.0),
                      epochs=8, learning_rate=0.01, decay=0.8, dropout={"fc1": 0.3, "fc2": 0.3}),
            {"name": "share", "kind": "share", "bits": {"fc1": 5, "fc2": 5, "fc3": 5},
             "epochs": 4, "learning_rate": 0.0005, "decay": 0.7},
        ],
    },
    "lenet-5": {
        "architecture": "lenet-5", "seed": 5,
        "stages": [
            {"name": "dense", "kind": "train", "epochs": 30, "learning_rate": 0.02, "decay": 0.9,
             "dropout": {"fc1": 0.5}},
            *_pruning({"conv1": 0.34, "conv2": 0.88, "fc1": 0.92, "fc2": 0.81}, (0.6, 0.85, 1.0),
                      epochs=3, learning_rate=0.005, decay=0.7, dropout={"fc1": 0.5}),
            {"name": "retrain", "kind": "train", "epochs": 8, "learning_rate": 0.01, "decay": 0.8,
             "dropout": {"fc1": 0.1414}},
            {"name": "prune4", "kind": "prune", "epochs": 6, "learning_rate": 0.005, "decay": 0.8,
             "sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.94, "fc2": 0.81}, "dropout": {"fc1": 0.1225}},
            {"name": "share", "kind": "share", "bits": {"conv1": 8, "conv2": 8, "fc1": 5, "fc2": 5},
             "epochs": 2, "learning_rate": 0.0002, "decay": 0.7},
        ],
    },
}
