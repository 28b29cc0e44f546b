"""An estimate of the stored size of a pruned, shared network, before the compiler exists.

Counted as docs/FORMAT.md counts `parameterBytes`: per weights tensor the sparse, relative-index
form of EIE (each nonzero stored as a value code and the count of zeros before it; a run longer
than the gap field allows is bridged by filler entries holding the zero code), with the gap
width that costs least, either at fixed widths or Huffman coded (real Huffman code lengths,
plus one byte per symbol for each table), plus an 8-bit codebook and one (scale, zero point)
pair of 8 bytes; biases as int32. A layer that is not shared is counted with the 255 codes of
per-tensor symmetric INT8. The compiler's real encoder decides the final figure.
"""
import heapq
from collections import Counter

import numpy as np

GAP_WIDTHS = range(2, 10)
SCALE_PAIR_BYTES = 8
BIAS_BYTES = 4


def int8_codes(weight):
    """Per-tensor symmetric INT8 codes of a float weight, −1 where the code is 0."""
    scale = np.abs(weight).max() / 127 if np.any(weight) else 1.0
    codes = np.round(weight / scale).astype(np.int64)
    return np.where(codes == 0, -1, codes + 128)


def huffman_lengths(counts):
    """Code lengths (bits) of a Huffman code for symbol → count."""
    if len(counts) == 1:
        return {symbol: 1 for symbol in counts}
    heap = [(count, order, (symbol,)) for order, (symbol, count) in enumerate(sorted(counts.items()))]
    heapq.heapify(heap)
    lengths = Counter()
    order = len(heap)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for symbol in s1 + s2:
            lengths[symbol] += 1
        heapq.heappush(heap, (c1 + c2, order, s1 + s2))
        order += 1
    return lengths


def _huffman_bits(symbols):
    counts = Counter(symbols.tolist())
    lengths = huffman_lengths(counts)
    return sum(counts[s] * lengths[s] for s in counts), len(counts)


def sparse_entries(codes, gap_bits):
    """(value symbols, gap symbols) of the relative-index form; fillers carry the zero code −1."""
    flat = codes.ravel()
    positions = np.flatnonzero(flat >= 0)
    zeros_before = np.diff(np.concatenate([[-1], positions])) - 1
    longest = 2 ** gap_bits - 1
    fillers = zeros_before // (longest + 1)
    remainders = zeros_before - fillers * (longest + 1)
    values = np.repeat(np.stack([np.full(len(positions), -1), flat[positions]], axis=1).ravel(),
                       np.stack([fillers, np.ones_like(fillers)], axis=1).ravel())
    gaps = np.repeat(np.stack([np.full(len(positions), longest), remainders], axis=1).ravel(),
                     np.stack([fillers, np.ones_like(fillers)], axis=1).ravel())
    return values, gaps


def tensor_bytes(codes, bits, shared):
    """{"fixed": bytes, "huffman": bytes, "…_gap_bits": …} for one weights tensor's codes (−1 = zero);
    a shared tensor also stores its codebook (one byte per code)."""
    codebook = (2 ** bits if shared else 0) + SCALE_PAIR_BYTES
    best = {}
    for gap_bits in GAP_WIDTHS:
        values, gaps = sparse_entries(codes, gap_bits)
        fixed = len(values) * (bits + gap_bits) / 8 + codebook
        value_bits, value_symbols = _huffman_bits(values)
        gap_total, gap_symbols = _huffman_bits(gaps)
        huffman = (value_bits + gap_total) / 8 + value_symbols + gap_symbols + codebook
        if "fixed" not in best or fixed < best["fixed"]:
            best["fixed"], best["fixed_gap_bits"] = fixed, gap_bits
        if "huffman" not in best or huffman < best["huffman"]:
            best["huffman"], best["huffman_gap_bits"] = huffman, gap_bits
    return best


def network_estimate(layers, codebooks, bits, names):
    """Per layer and in total: elements, nonzeros, value bits and estimated bytes; the ratio is
    FP32 weights and biases ÷ estimated bytes. `codebooks` (layer index → (indices, centroids))
    may be empty: layers without one are counted as INT8."""
    result = {"layers": {}, "fp32_bytes": 0, "fixed_bytes": 0.0, "huffman_bytes": 0.0}
    for i, name in names.items():
        weight, bias = layers[i]["weight"], layers[i]["bias"]
        if i in codebooks:
            codes, layer_bits = codebooks[i][0].astype(np.int64), bits[name]
        else:
            codes, layer_bits = int8_codes(weight), 8
        sizes = tensor_bytes(codes, layer_bits, shared=i in codebooks)
        bias_bytes = BIAS_BYTES * bias.size
        entry = {"elements": int(weight.size), "nonzeros": int(np.count_nonzero(weight)),
                 "sparsity": round(1 - np.count_nonzero(weight) / weight.size, 4),
                 "distinct_values": int(len(np.unique(weight))), "bits": layer_bits,
                 "fixed_bytes": round(sizes["fixed"] + bias_bytes), "fixed_gap_bits": sizes["fixed_gap_bits"],
                 "huffman_bytes": round(sizes["huffman"] + bias_bytes), "huffman_gap_bits": sizes["huffman_gap_bits"]}
        result["layers"][name] = entry
        result["fp32_bytes"] += 4 * (weight.size + bias.size)
        result["fixed_bytes"] += sizes["fixed"] + bias_bytes
        result["huffman_bytes"] += sizes["huffman"] + bias_bytes
    result["fixed_bytes"] = round(result["fixed_bytes"])
    result["huffman_bytes"] = round(result["huffman_bytes"])
    result["fixed_ratio"] = round(result["fp32_bytes"] / result["fixed_bytes"], 2)
    result["huffman_ratio"] = round(result["fp32_bytes"] / result["huffman_bytes"], 2)
    total = sum(e["elements"] for e in result["layers"].values())
    result["sparsity"] = round(1 - sum(e["nonzeros"] for e in result["layers"].values()) / total, 4)
    return result
