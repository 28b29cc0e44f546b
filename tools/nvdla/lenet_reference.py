#!/usr/bin/env python3
"""Runs NVIDIA's MNIST loadable (NN_L0_0) in numpy, independently of Sources/NVDLARuntime.

Usage: lenet_reference.py LOADABLE [INPUT.pgm|INPUT.npy ...] [--dump] [--golden O.dimg]
                          [--compare-npy DIR] [--layout-variants]

Everything is decoded here from NVIDIA's own sources, not from dlad's Swift code:
- the loadable's blobs, memories and address list with the flatbuffers package (accessors from
  dump_loadables.py, which follows nvdla/sw `umd/core/src/common/loadable.fbs`);
- the EMU tasks (identity power, softmax) from nvdla/sw `umd/core/src/runtime/Emulator.cpp` and the
  16-byte operation / buffer descriptors the 2017 emulator interface used;
- the DLA task's network, dependency-graph, operation and surface descriptors from the first
  public `kmd/firmware/include/dla_interface.h` (nvdla/sw commit cce224d: 28-byte data cubes);
- feature data as NVDLA's feature format: 32-byte atoms of 16 FP16 channels, then line and
  surface strides from each data cube;
- direct-convolution weights in the order nvdla/sw's compiler writes them
  (`WeightTranslationUnit.h`, prepWtTrnsOpsForDC / execWtTrnsOpsForDC): kernel groups of
  atomic-K/2 kernels for 2-byte types (nv_full: 32/2 = 16), channel blocks of atomic-C (64),
  then kernel row, kernel column, kernel of the group, channel of the block.

The forward pass runs in float32 (convolution sums in float64): a convolution hands its fused SDP
the unrounded sums, every other unit's output is rounded to FP16, as NVDLA stores it.
With --dump it prints the decoded operations and each one's output; --golden compares the run
without input with NVIDIA's golden `.dimg`; --compare-npy DIR compares each input's softmax with
DIR/<input stem>.npy as `dlactl nvdla-run --output` writes it; --layout-variants classifies the
inputs (and checks the golden) under other readings of the weight bytes, to show which reading
the all-zero golden cannot tell apart from the compiler's.
"""

import os
import struct
import sys

import numpy as np
from flatbuffers import encode, packer
from flatbuffers.table import Table

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dump_loadables as fb  # noqa: E402

ATOM_BYTES = 32          # nv_full memory atom
ATOMIC_C = 64            # nv_full MAC atomic-C (channels per weight block)
ATOMIC_K_FP16 = 32 // 2  # nv_full atomic-K halved for 2-byte weights

OP_NAMES = {0: "BDMA", 1: "CONV", 2: "SDP", 3: "PDP", 4: "CDP", 5: "RUBIK"}


def read_loadable(path):
    buffer = bytearray(open(path, "rb").read())
    root = Table(buffer, encode.Get(packer.uoffset, buffer, 0))
    entry = fb.loadable(buffer)
    blobs = {}
    for t in fb.vector_of_tables(root, 5):
        blobs[fb.string(t, 0)] = fb.vector_of_bytes(t, 5)
    memories = {}
    for m in entry["memories"]:
        region = bytearray(m["size"])
        for name, offset in zip(m["contents"], m["offsets"]):
            data = blobs[name]
            region[offset:offset + len(data)] = data
        memories[m["id"]] = region
    addresses = {a["id"]: (a["memID"], a["offset"]) for a in entry["addresses"]}
    return entry, memories, addresses


class Memory:
    """The loadable's memories, reached through a task's address list (index → address → memory)."""

    def __init__(self, memories, addresses, address_list):
        self.memories, self.addresses, self.address_list = memories, addresses, address_list

    def region(self, index):
        memory_id, offset = self.addresses[self.address_list[index]]
        return self.memories[memory_id], offset


# --- DLA firmware descriptors (dla_interface.h at cce224d, packed little-endian) ---------------

CUBE = "<HhIHHHHIII"  # type, address, size, width, height, channel, reserved, line, surf, plane
CUBE_BYTES = struct.calcsize(CUBE)
assert CUBE_BYTES == 28


def cube(data, offset):
    t, address, size, w, h, c, _, line, surf, plane = struct.unpack_from(CUBE, data, offset)
    return dict(type=t, address=address, size=size, width=w, height=h, channel=c,
                line=line, surf=surf, plane=plane)


CVT = "<hBBi"
CONV_OP = ("<BBBBBBH" "BBH" "8x" "BBBB" "I" "BBH" "6H" "2H" "I" "4h" "B" "BB" "4B" "BB" "2x"
           "BBB" "h") + CVT[1:] + CVT[1:]
assert struct.calcsize(CONV_OP) == 92
CONV_FIELDS = ["conv_mode", "data_reuse", "weight_reuse", "skip_data_rls", "skip_weight_rls",
               "reserved0", "entry_per_slice", "data_format", "pixel_mapping", "fetch_grain",
               "batch", "weight_format", "data_bank", "weight_bank", "batch_stride",
               "post_extension", "pixel_override", "release",
               "input_width_csc", "input_height_csc", "input_channel_csc",
               "kernel_width_csc", "kernel_height_csc", "kernel_channel_csc",
               "input_width_cmac", "input_height_cmac", "bytes_per_kernel",
               "mean_ry", "mean_gu", "mean_bv", "mean_ax", "mean_format",
               "conv_stride_x", "conv_stride_y", "pad_x_left", "pad_x_right", "pad_y_top",
               "pad_y_bottom", "dilation_x", "dilation_y", "pra_truncate", "in_precision",
               "out_precision", "pad_val", "in_cvt_scale", "in_cvt_truncate", "in_cvt_enable",
               "in_cvt_offset", "out_cvt_scale", "out_cvt_truncate", "out_cvt_enable",
               "out_cvt_offset"]

SDP_STAGE = "<8Bii" + "hBBi" * 2
SDP_STAGE_FIELDS = ["enable", "alu_type", "type", "mode", "act", "shift_value", "truncate",
                    "precision", "alu_operand", "mul_operand",
                    "alu_cvt_scale", "alu_cvt_truncate", "alu_cvt_enable", "alu_cvt_offset",
                    "mul_cvt_scale", "mul_cvt_truncate", "mul_cvt_enable", "mul_cvt_offset"]
assert struct.calcsize(SDP_STAGE) == 32
SDP_HEAD = "<BBhhBBiBBHI"
SDP_HEAD_FIELDS = ["src_precision", "dst_precision", "lut_index", "out_cvt_scale",
                   "out_cvt_truncate", "out_cvt_enable", "out_cvt_offset", "conv_mode",
                   "batch_num", "reserved0", "batch_stride"]
assert struct.calcsize(SDP_HEAD) == 20

PDP_OP = "<6HBBBBBBBBBBBB7i"
PDP_FIELDS = ["partial_in_width_first", "partial_in_width_mid", "partial_in_width_last",
              "partial_width_first", "partial_width_mid", "partial_width_last", "split_num",
              "pool_mode", "pool_width", "pool_height", "stride_x", "stride_y", "pad_left",
              "pad_right", "pad_top", "pad_bottom", "precision", "reserved0"] + \
             [f"padding_value{i}" for i in range(7)]

OP_BYTES, SURFACE_BYTES, DEP_BYTES = 116, 644, 36


def decode_task(memory):
    network, base = memory.region(0)
    fields = struct.unpack_from("<8h6h4H", network, base)
    op_index, surface_index, dep_index = fields[0], fields[1], fields[2]
    num_ops = fields[15]
    ops_mem, ops_base = memory.region(op_index)
    surf_mem, surf_base = memory.region(surface_index)
    dep_mem, dep_base = memory.region(dep_index)
    ops = []
    for i in range(num_ops):
        index, roi, op_type, dependency_count = struct.unpack_from("<hbBB", dep_mem, dep_base + i * DEP_BYTES)
        consumers = [struct.unpack_from("<hBB", dep_mem, dep_base + i * DEP_BYTES + 8 + 4 * j)
                     for j in range(7)]
        o, s = ops_base + i * OP_BYTES, surf_base + i * SURFACE_BYTES
        op = dict(index=index, type=OP_NAMES[op_type], dependency_count=dependency_count,
                  consumers=[(c[0], c[1]) for c in consumers[:6] if c[0] >= 0],
                  fused_parent=consumers[6][0])
        if op_type == 1:
            op.update(zip(CONV_FIELDS, struct.unpack_from(CONV_OP, ops_mem, o)))
            for j, name in enumerate(["weight", "wmb", "wgs", "src", "dst"]):
                op[name] = cube(surf_mem, s + j * CUBE_BYTES)
        elif op_type == 2:
            op.update(zip(SDP_HEAD_FIELDS, struct.unpack_from(SDP_HEAD, ops_mem, o)))
            for j, stage in enumerate(["x1", "x2", "y"]):
                op[stage + "_op"] = dict(zip(SDP_STAGE_FIELDS,
                                             struct.unpack_from(SDP_STAGE, ops_mem, o + 20 + 32 * j)))
            for j, name in enumerate(["src", "x1", "x2", "y", "dst"]):
                op[name] = cube(surf_mem, s + j * CUBE_BYTES)
        elif op_type == 3:
            op.update(zip(PDP_FIELDS, struct.unpack_from(PDP_OP, ops_mem, o)))
            for j, name in enumerate(["src", "dst"]):
                op[name] = cube(surf_mem, s + j * CUBE_BYTES)
        else:
            raise SystemExit(f"op {i}: {OP_NAMES[op_type]} is not part of LeNet")
        ops.append(op)
    return ops


# --- feature data -------------------------------------------------------------------------------

def read_feature(memory, c):
    """A FP16 cube (C, H, W) in NVDLA's feature format: 16 channels per 32-byte atom."""
    data, base = memory.region(c["address"])
    per_atom = ATOM_BYTES // 2
    out = np.zeros((c["channel"], c["height"], c["width"]), dtype=np.float16)
    for ch in range(c["channel"]):
        for y in range(c["height"]):
            for x in range(c["width"]):
                offset = base + (ch // per_atom) * c["surf"] + y * c["line"] + x * ATOM_BYTES \
                    + (ch % per_atom) * 2
                out[ch, y, x] = np.frombuffer(data, dtype="<f2", count=1, offset=offset)[0]
    return out


def write_feature(memory, c, values):
    data, base = memory.region(c["address"])
    per_atom = ATOM_BYTES // 2
    values = values.astype(np.float16)
    for ch in range(c["channel"]):
        for y in range(c["height"]):
            for x in range(c["width"]):
                offset = base + (ch // per_atom) * c["surf"] + y * c["line"] + x * ATOM_BYTES \
                    + (ch % per_atom) * 2
                data[offset:offset + 2] = values[ch, y, x].tobytes()


DEFAULT_LAYOUT = dict(kernels_per_group=ATOMIC_K_FP16, channels_per_block=ATOMIC_C,
                      columns_first=False, first_layer_kernels_per_group=None)


def read_weights(memory, op, layout=DEFAULT_LAYOUT):
    """FP16 weights (K, C, R, S) in the compiler's direct-convolution order.

    `layout` exists to test other readings of the same bytes (--layout-variants): other kernel
    group or channel block sizes, kernel columns before rows, another group size in the first
    layer only (whose weights the all-zero golden cannot see).
    """
    k_total = op["dst"]["channel"]
    c_total = op["kernel_channel_csc"]
    r, s = op["kernel_height_csc"], op["kernel_width_csc"]
    group = layout["kernels_per_group"]
    if layout["first_layer_kernels_per_group"] and op["src"]["channel"] == 1:
        group = layout["first_layer_kernels_per_group"]
    block = layout["channels_per_block"]
    positions = [(y, x) for x in range(s) for y in range(r)] if layout["columns_first"] \
        else [(y, x) for y in range(r) for x in range(s)]
    data, base = memory.region(op["weight"]["address"])
    flat = np.frombuffer(data, dtype="<f2", count=k_total * c_total * r * s, offset=base)
    weights = np.zeros((k_total, c_total, r, s), dtype=np.float16)
    position = 0
    for group_start in range(0, k_total, group):
        kernels = range(group_start, min(group_start + group, k_total))
        for block_start in range(0, c_total, block):
            channels = range(block_start, min(block_start + block, c_total))
            for y, x in positions:
                for k in kernels:
                    for ch in channels:
                        weights[k, ch, y, x] = flat[position]
                        position += 1
    assert position == flat.size
    return weights


def read_operand(memory, c):
    """A per-kernel SDP operand: one FP16 per channel, as the cube lays it out."""
    data, base = memory.region(c["address"])
    return np.frombuffer(data, dtype="<f2", count=c["channel"], offset=base)


# --- units --------------------------------------------------------------------------------------

def convolution(x, w, op):
    sy, sx = op["conv_stride_y"], op["conv_stride_x"]
    x = np.pad(x.astype(np.float32), ((0, 0), (op["pad_y_top"], op["pad_y_bottom"]),
                                      (op["pad_x_left"], op["pad_x_right"])))
    k, c, r, s = w.shape
    out_h, out_w = op["dst"]["height"], op["dst"]["width"]
    out = np.zeros((k, out_h, out_w), dtype=np.float64)
    wf = w.astype(np.float64)
    for y in range(out_h):
        for xx in range(out_w):
            patch = x[:, y * sy:y * sy + r, xx * sx:xx * sx + s].astype(np.float64)
            out[:, y, xx] = np.tensordot(wf, patch, axes=([1, 2, 3], [0, 1, 2]))
    return out.astype(np.float32)


def sdp(x, op, memory):
    y = x.astype(np.float32)
    stage = op["x1_op"]
    if stage["enable"]:
        if stage["type"] in (2, 3):  # ADD or BOTH: ALU, per kernel from memory or per layer
            operand = read_operand(memory, op["x1"]).astype(np.float32) if stage["mode"] == 1 \
                else np.float32(np.frombuffer(struct.pack("<H", stage["alu_operand"] & 0xFFFF), "<f2")[0])
            y = y + (operand[:, None, None] if np.ndim(operand) else operand)
        if stage["type"] in (1, 3):
            raise SystemExit("SDP multiply is not part of LeNet")
        if stage["act"] == 1:
            y = np.maximum(y, 0)
        elif stage["act"] != 0:
            raise SystemExit(f"SDP activation {stage['act']} is not part of LeNet")
    for name in ("x2_op", "y_op"):
        if op[name]["enable"]:
            raise SystemExit(f"SDP {name} is not part of LeNet")
    return y


def pooling(x, op):
    if op["pool_mode"] != 1:
        raise SystemExit("only max pooling is part of LeNet")
    ph, pw = op["pool_height"] + 1, op["pool_width"] + 1
    sy, sx = op["stride_y"], op["stride_x"]
    out_h, out_w = op["dst"]["height"], op["dst"]["width"]
    out = np.zeros((x.shape[0], out_h, out_w), dtype=np.float32)
    for y in range(out_h):
        for xx in range(out_w):
            out[:, y, xx] = x[:, y * sy:y * sy + ph, xx * sx:xx * sx + pw].max(axis=(1, 2))
    return out


def run_dla(memory, ops, dump, layout):
    """Runs the ops in index order; a fused op (CONV→SDP, SDP→PDP) takes its parent's output."""
    outputs = {}
    for i, op in enumerate(ops):
        parent = op["fused_parent"]
        if op["type"] == "CONV":
            x = read_feature(memory, op["src"])
            w = read_weights(memory, op, layout)
            result = convolution(x, w, op)
        elif op["type"] == "SDP":
            x = outputs[parent] if parent >= 0 else read_feature(memory, op["src"])
            result = sdp(x, op, memory)
        else:
            x = outputs[parent] if parent >= 0 else read_feature(memory, op["src"])
            result = pooling(x, op)
        fused_child = any(other["fused_parent"] == i for other in ops)
        if fused_child and op["type"] == "CONV":
            outputs[i] = result  # CACC hands SDP its FP32 sums; only SDP's output converter rounds
        else:
            result = result.astype(np.float16)
            outputs[i] = result
        if not fused_child:
            write_feature(memory, op["dst"], result)
        if dump:
            print(f"  op {i} {op['type']}: {result.shape} min {result.min():.4g} max {result.max():.4g} "
                  f"mean {result.astype(np.float32).mean():.6g}")
    return outputs


# --- EMU tasks (Emulator.cpp) -------------------------------------------------------------------

# The 2017 emulator interface: emu_network_desc (operation and buffer descriptor indices), one
# 16-byte operation (op_type, then power's power, scale and shift as packed floats; softmax's
# axis), 256-byte buffer descriptors without addressIndexOffset, FP16 numbered 2.
EMU_BUFFER = "<hIHHHHII"
EMU_BUFFER_FIELDS = ["address", "size", "format", "width", "height", "channel", "line", "surf"]


def emu_buffers(memory):
    data, base = memory.region(0)
    ops_index, buffer_index = struct.unpack_from("<hh", data, base)
    ops, ops_base = memory.region(ops_index)
    buffers, buffers_base = memory.region(buffer_index)
    src, dst = (dict(zip(EMU_BUFFER_FIELDS, struct.unpack_from(EMU_BUFFER, buffers, buffers_base + i * 256)))
                for i in range(2))
    return ops[ops_base:ops_base + 16], src, dst


def run_emu(memory):
    op, src, dst = emu_buffers(memory)
    if op[0] == 0:  # power: y = (shift + scale x) ^ power
        power, scale, shift = struct.unpack_from("<3f", op, 1)
        x = read_feature(memory, src).astype(np.float32)
        write_feature(memory, dst, np.power(np.float32(shift) + np.float32(scale) * x, np.float32(power)))
        return None
    data, base = memory.region(src["address"])
    x = np.frombuffer(data, dtype="<f2", count=src["channel"], offset=base).astype(np.float32)
    e = np.exp(x - x.max())
    y = (e / e.sum()).astype(np.float16)
    out, out_base = memory.region(dst["address"])
    out[out_base:out_base + 2 * len(y)] = y.tobytes()
    return x, y


# --- input ----------------------------------------------------------------------------------------

def read_pgm(path):
    data = open(path, "rb").read()
    tokens, position = [], 0
    while len(tokens) < 4:
        while data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.index(b"\n", position)
            continue
        end = position
        while not data[end:end + 1].isspace():
            end += 1
        tokens.append(data[position:end])
        position = end
    assert tokens[0] == b"P5", "binary PGM only"
    width, height, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height, offset=position + 1)
    assert maxval < 256
    return pixels.reshape(height, width)


def read_input(path):
    """A .pgm's raw pixels (NVIDIA's runtime test: FP16 of the pixel, mean 0, normalization 1),
    or a .npy holding the input tensor's [1, 28, 28] or [28, 28] values (float32)."""
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32).reshape(28, 28)
    return read_pgm(path).astype(np.float32)


def run(path, image, dump=False, layout=DEFAULT_LAYOUT):
    entry, memories, addresses = read_loadable(path)
    tensors = {t["name"]: t for t in entry["tensors"]}
    data = tensors["data"]
    if image is not None:
        region = memories[data["memID"]]
        line = data["strides"][1]
        for y in range(data["dims"][2]):
            for x in range(data["dims"][3]):
                offset = data["offset"] + y * line + x * ATOM_BYTES
                region[offset:offset + 2] = np.float16(image[y, x]).tobytes()
    result = None
    for task in entry["tasks"]:
        memory = Memory(memories, addresses, task["addressList"])
        if task["interface"] == 1:
            ops = decode_task(memory)
            if dump:
                describe(ops)
            run_dla(memory, ops, dump, layout)
        else:
            result = run_emu(memory) or result
    return result


def describe(ops):
    for i, op in enumerate(ops):
        cubes = {k: (v["address"], v["channel"], v["height"], v["width"], v["line"], v["surf"], v["size"])
                 for k, v in op.items() if isinstance(v, dict) and "line" in v and v["size"]}
        extra = ""
        if op["type"] == "CONV":
            extra = (f"k{op['kernel_width_csc']}x{op['kernel_height_csc']}x{op['kernel_channel_csc']} "
                     f"stride {op['conv_stride_x']},{op['conv_stride_y']} pad {op['pad_x_left']} "
                     f"prec {op['in_precision']}->{op['out_precision']} fmt {op['data_format']} "
                     f"wfmt {op['weight_format']} mode {op['conv_mode']}")
        elif op["type"] == "SDP":
            extra = " ".join(f"{s}:{ {k: v for k, v in op[s].items() if v} }" for s in ("x1_op", "x2_op", "y_op")
                             if op[s]["enable"])
        elif op["type"] == "PDP":
            extra = (f"mode {op['pool_mode']} size {op['pool_width']},{op['pool_height']} stride "
                     f"{op['stride_x']},{op['stride_y']} pads {op['pad_left']},{op['pad_top']}")
        print(f"op {i} {op['type']} dep {op['dependency_count']} parent {op['fused_parent']} "
              f"consumers {op['consumers']} {extra}\n    cubes {cubes}")


def read_golden(path):
    """The 10 FP16 probabilities of a `.dimg` (36-byte header, then the 32-byte atom)."""
    return np.frombuffer(open(path, "rb").read(), dtype="<f2", count=10, offset=36)


DIGITS = {name: value for value, name in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])}

LAYOUT_VARIANTS = {
    "compiler order (default)": {},
    "kernel columns before rows": dict(columns_first=True),
    "first layer: groups of 32 kernels": dict(first_layer_kernels_per_group=32),
    "first layer: groups of 8 kernels": dict(first_layer_kernels_per_group=8),
    "groups of 32 kernels": dict(kernels_per_group=32),
    "channel blocks of 32": dict(channels_per_block=32),
}


def option(args, name):
    if name not in args:
        return None
    i = args.index(name)
    value = args[i + 1]
    del args[i:i + 2]
    return value


def main():
    args = sys.argv[1:]
    dump = "--dump" in args
    variants = "--layout-variants" in args
    args = [a for a in args if a not in ("--dump", "--layout-variants")]
    compare, golden = option(args, "--compare-npy"), option(args, "--golden")
    loadable, inputs = args[0], args[1:]
    if golden:
        _, prob = run(loadable, None)
        expected = read_golden(golden)
        same = int((prob.view(np.uint16) == expected.view(np.uint16)).sum())
        print(f"no input vs golden: {same}/10 bit-identical, max |diff| "
              f"{float(np.abs(prob.astype(np.float32) - expected.astype(np.float32)).max()):.3g}")
    if variants:
        names = [os.path.splitext(os.path.basename(p))[0] for p in inputs]
        for label, change in LAYOUT_VARIANTS.items():
            layout = dict(DEFAULT_LAYOUT, **change)
            line = f"{label:>34}:"
            if golden:
                _, prob = run(loadable, None, layout=layout)
                line += f" golden max|diff| {float(np.abs(prob.astype(np.float32) - read_golden(golden)).max()):.2g};"
            answers = [int(np.argmax(run(loadable, read_input(p), layout=layout)[1])) for p in inputs]
            right = sum(DIGITS.get(n) == a for n, a in zip(names, answers))
            print(line + " " + " ".join(f"{n}→{a}" for n, a in zip(names, answers)) + f" ({right} right)")
        return
    for path in inputs or [None]:
        name = os.path.splitext(os.path.basename(path))[0] if path else "(no input)"
        logits, prob = run(loadable, read_input(path) if path else None, dump)
        line = (f"{name:>12}: class {int(np.argmax(prob))} p {float(prob.max()):.4f} "
                f"logits {np.array2string(logits, precision=3, max_line_width=200)}")
        if compare and path:
            ours = np.load(os.path.join(compare, name + ".npy")).ravel()
            ulps = np.abs(prob.view(np.int16).astype(int) - ours.view(np.int16).astype(int))
            line += (f"\n{'':>14}dlad class {int(np.argmax(ours))} p {float(ours.max()):.4f}; "
                     f"max |diff| {float(np.abs(ours.astype(np.float32) - prob.astype(np.float32)).max()):.3g}, "
                     f"{int((ulps == 0).sum())}/10 bit-identical, max {int(ulps.max())} FP16 ulps")
        print(line)


if __name__ == "__main__":
    main()
