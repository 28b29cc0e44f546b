#!/usr/bin/env python3
"""Writes a small synthetic NVDLA loadable with the flatbuffers package's Builder.

Usage: make_synthetic_loadable.py OUTPUT

NVIDIA's regression loadables each fill a memory from one blob at offset 0 and bind at most one
input; this one covers what they do not: two content blobs at offsets in one memory, a bound
memory and an SRAM memory that name contents (the runtime does not fill either), two inputs
whose bind ids are not in memory order, relocations, an address inside a memory, fields left at
their defaults, and a buffer laid out by today's flatbuffers (NVIDIA's files come from 2017's).
NVDLALoadableTests/SyntheticLoadableTests states what each field must read as.
"""

import sys

import flatbuffers

ALLOC, SET, INPUT, OUTPUT = 1, 2, 4, 8
NONE, DLA1, EMU1 = 0, 1, 2


def version(b, major, minor, sub_minor):
    b.Prep(1, 3)
    b.PrependUint8(sub_minor)
    b.PrependUint8(minor)
    b.PrependUint8(major)
    return b.Offset()


def vector(b, element_size, values, prepend):
    b.StartVector(element_size, len(values), element_size)
    for value in reversed(values):
        prepend(value)
    return b.EndVector()


def table(b, fields):
    """fields: (slot, kind, value) with kind one of u8 u16 i16 u32 i32 u64 offset version."""
    b.StartObject(max(slot for slot, _, _ in fields) + 1)
    for slot, kind, value in fields:
        if kind == "version":
            b.PrependStructSlot(slot, version(b, *value), 0)
        elif kind == "offset":
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        else:
            prepend = {"u8": b.PrependUint8Slot, "u16": b.PrependUint16Slot, "i16": b.PrependInt16Slot,
                       "u32": b.PrependUint32Slot, "i32": b.PrependInt32Slot, "u64": b.PrependUint64Slot}[kind]
            prepend(slot, value, 0)
    return b.EndObject()


def main():
    b = flatbuffers.Builder(1024)
    u16s = lambda values: vector(b, 2, values, b.PrependUint16)
    u64s = lambda values: vector(b, 8, values, b.PrependUint64)
    offsets = lambda values: vector(b, 4, values, b.PrependUOffsetTRelative)
    strings = lambda values: offsets([b.CreateString(v) for v in values])

    blobs = [
        table(b, [(0, "offset", b.CreateString("a")), (1, "u64", 4), (5, "offset", b.CreateByteVector(bytes([1, 2, 3, 4])))]),
        table(b, [(0, "offset", b.CreateString("b")), (1, "u64", 3), (2, "u32", NONE), (4, "version", (0, 0, 1)),
                  (5, "offset", b.CreateByteVector(bytes([9, 8, 7])))]),
        table(b, [(0, "offset", b.CreateString("desc")), (1, "u64", 8), (2, "u32", DLA1), (3, "u32", 3),
                  (4, "version", (0, 12, 0)), (5, "offset", b.CreateByteVector(bytes(range(10, 18))))]),
    ]
    memory = lambda id, flags, size, contents=(), at=(), domain=0, bind=0, tensor=0: table(b, [
        (0, "u16", id), (1, "u8", domain), (2, "u16", flags), (3, "u64", size), (4, "u32", 256),
        (5, "offset", strings(list(contents))), (6, "offset", u64s(list(at))), (7, "u16", bind), (8, "u16", tensor)])
    memories = [
        memory(0, ALLOC | SET, 16, ["a", "b"], [0, 10]),
        memory(1, ALLOC | SET | INPUT, 8, ["a"], [4], bind=1, tensor=1),
        memory(2, ALLOC | INPUT, 8, bind=0, tensor=0),
        memory(3, ALLOC | SET, 4, ["a"], [0], domain=1),
        memory(4, ALLOC | OUTPUT, 32, bind=0, tensor=2),
        memory(5, ALLOC | SET, 8, ["desc"], [0]),
    ]
    address = lambda id, mem, offset, size: table(b, [(0, "u16", id), (1, "u16", mem), (2, "u64", offset), (3, "u64", size)])
    addresses = [address(i, i, 0, size) for i, size in enumerate([16, 8, 8, 4, 32, 8])] + [address(6, 0, 10, 3)]
    tasks = [
        table(b, [(0, "u16", 0), (1, "u32", DLA1), (2, "i16", -1), (3, "offset", u16s([5, 0, 6, 4])),
                  (4, "offset", u16s([])), (5, "offset", u16s([0]))]),
        table(b, [(0, "u16", 1), (1, "u32", EMU1), (3, "offset", u16s([1, 2])), (4, "offset", u16s([0]))]),
    ]
    events = [table(b, [(0, "u16", 0), (2, "u16", 2), (3, "u32", 7), (4, "u8", 1)])]
    tensor = lambda name, id, mem, size, fmt, dtype, pixel, dims, strides: table(b, [
        (0, "offset", b.CreateString(name)), (1, "u16", id), (2, "u16", mem), (3, "u64", size), (5, "u8", fmt),
        (6, "u8", dtype), (7, "u8", 2), (8, "u8", pixel)]
        + [(10 + i, "i32", d) for i, d in enumerate(dims)] + [(14 + i, "u32", s) for i, s in enumerate(strides)])
    tensors = [
        tensor("in0", 0, 2, 8, 1, 4, 37, [1, 8, 1, 1], [1, 8, 8]),
        tensor("in1", 1, 1, 8, 1, 4, 36, [1, 4, 1, 2], [1, 8, 8]),
        tensor("out", 2, 4, 32, 3, 2, 36, [1, 16, 1, 1], [2, 32, 32]),
    ]
    relocations = [table(b, [(0, "u16", 6), (1, "u16", 5), (2, "u64", 2), (3, "u32", DLA1), (4, "u32", 4), (5, "u8", 1)])]
    submits = [table(b, [(0, "u16", 0), (1, "offset", u16s([0]))]), table(b, [(0, "u16", 1), (1, "offset", u16s([1]))])]

    root = table(b, [(0, "version", (0, 7, 0)), (1, "offset", offsets(tasks)), (2, "offset", offsets(memories)),
                     (3, "offset", offsets(addresses)), (4, "offset", offsets(events)), (5, "offset", offsets(blobs)),
                     (6, "offset", offsets(tensors)), (7, "offset", offsets(relocations)), (8, "offset", offsets(submits))])
    b.Finish(root)
    with open(sys.argv[1], "wb") as f:
        f.write(b.Output())


if __name__ == "__main__":
    main()
