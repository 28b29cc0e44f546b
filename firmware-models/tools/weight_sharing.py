"""Trained quantization by weight sharing (Deep Compression, Han, Mao & Dally, ICLR 2016, §3).

A layer's nonzero weights are clustered by k-means with linear initialization (centroids evenly
spaced between the smallest and the largest nonzero weight: the paper found it keeps the rare
large weights, which matter most). Every weight then refers to one centroid; pruned weights
refer to none and stay exactly 0. Fine-tuning moves the centroids by the sum of the gradients
of the weights that share them, so the layer keeps at most 2^bits − 1 nonzero values (plus 0).
"""
import numpy as np

PRUNED = -1  # the index of a pruned (zero) weight: it shares no centroid


def nonzero_centroid_count(bits):
    """2^bits codes, one of which is the zero that pruned weights and gap fillers need."""
    return 2 ** bits - 1


def linear_kmeans(values, clusters, iterations=50):
    """1-D k-means with linearly spaced initial centroids. Returns (centroids float32 [k],
    assignment int [len(values)]); a cluster that empties keeps its last centroid."""
    values = values.astype(np.float64)
    centroids = np.linspace(values.min(), values.max(), clusters)
    assignment = None
    for _ in range(iterations):
        order = np.argsort(centroids, kind="stable")
        boundaries = (centroids[order][1:] + centroids[order][:-1]) / 2
        new_assignment = order[np.searchsorted(boundaries, values)]
        if assignment is not None and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        sums = np.bincount(assignment, weights=values, minlength=clusters)
        counts = np.bincount(assignment, minlength=clusters)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled]
    return centroids.astype(np.float32), assignment


def share(weight, bits):
    """Clusters the nonzero entries of `weight`. Returns (indices int16 shaped as weight, PRUNED
    where the weight is 0; centroids float32 [2^bits − 1])."""
    nonzero = weight != 0
    centroids, assignment = linear_kmeans(weight[nonzero], nonzero_centroid_count(bits))
    indices = np.full(weight.shape, PRUNED, np.int16)
    indices[nonzero] = assignment
    return indices, centroids


def shared_weight(indices, centroids):
    """The dense float weight that the indices and centroids stand for."""
    weight = np.zeros(indices.shape, np.float32)
    member = indices != PRUNED
    weight[member] = centroids[indices[member]]
    return weight


class SharedWeightSGD:
    """Momentum SGD on the centroids (each moved by the summed gradient of its weights) and on
    the biases; the weights are rebuilt from the centroids after every step. `codebooks` maps a
    trainable layer index to (indices, centroids); the centroids are updated in place."""

    def __init__(self, layers, codebooks, momentum=0.9):
        self.codebooks, self.momentum = codebooks, momentum
        self.members = {i: np.flatnonzero(indices.ravel() != PRUNED) for i, (indices, _) in codebooks.items()}
        self.velocity = {i: (np.zeros_like(centroids), np.zeros_like(layers[i]["bias"]))
                         for i, (_, centroids) in codebooks.items()}

    def step(self, layers, grads, rate):
        for i, (v_c, v_b) in self.velocity.items():
            indices, centroids = self.codebooks[i]
            g_w, g_b = grads[i]
            members = self.members[i]
            g_c = np.bincount(indices.ravel()[members], weights=g_w.ravel()[members], minlength=len(centroids))
            v_c *= self.momentum
            v_c -= (rate * g_c).astype(np.float32)
            centroids += v_c
            v_b *= self.momentum
            v_b -= rate * g_b
            layers[i]["bias"] += v_b
            layers[i]["weight"] = shared_weight(indices, centroids)
