#!/usr/bin/env python3
"""Dumps NVDLA loadables as JSON with the flatbuffers package's generic runtime.

Usage: dump_loadables.py REGRESSION_DIR OUTPUT.json

Every `*_fbuf` under REGRESSION_DIR/flatbufs is read with `flatbuffers.table.Table` and field
accessors written here from nvdla/sw `umd/core/src/common/loadable.fbs` (vtable slot = 4 + 2 x field
index, as flatc numbers them), independently of the Swift reader in Sources/NVDLALoadable. The
output is what NVDLALoadableTests compares its own parse with. Blob data and each memory's initial
contents (content blobs placed at their offsets, zero elsewhere, as nvdla/sw's runtime loads them)
are summarized by length and SHA-256 to keep the file small.
"""

import hashlib
import json
import os
import sys

from flatbuffers import encode, number_types as N, packer
from flatbuffers.table import Table


def slot(index):
    return 4 + 2 * index


def scalar(table, index, flags):
    offset = table.Offset(slot(index))
    return table.Get(flags, table.Pos + offset) if offset else 0


def string(table, index):
    offset = table.Offset(slot(index))
    return table.String(table.Pos + offset).decode("utf-8") if offset else None


def vector_of_scalars(table, index, flags):
    offset = table.Offset(slot(index))
    if not offset:
        return []
    start = table.Vector(offset)
    return [table.Get(flags, start + i * flags.bytewidth) for i in range(table.VectorLen(offset))]


def vector_of_bytes(table, index):
    offset = table.Offset(slot(index))
    if not offset:
        return b""
    start = table.Vector(offset)
    return bytes(table.Bytes[start:start + table.VectorLen(offset)])


def vector_of_strings(table, index):
    offset = table.Offset(slot(index))
    if not offset:
        return []
    start = table.Vector(offset)
    return [table.String(start + i * 4).decode("utf-8") for i in range(table.VectorLen(offset))]


def vector_of_tables(table, index):
    offset = table.Offset(slot(index))
    if not offset:
        return []
    start = table.Vector(offset)
    return [Table(table.Bytes, table.Indirect(start + i * 4)) for i in range(table.VectorLen(offset))]


def version_struct(table, index):
    offset = table.Offset(slot(index))
    if not offset:
        return None
    position = table.Pos + offset
    return [table.Get(N.Uint8Flags, position + i) for i in range(3)]


def blob(t):
    data = vector_of_bytes(t, 5)
    return {
        "name": string(t, 0),
        "size": scalar(t, 1, N.Uint64Flags),
        "interface": scalar(t, 2, N.Uint32Flags),
        "subInterface": scalar(t, 3, N.Uint32Flags),
        "version": version_struct(t, 4),
        "dataLength": len(data),
        "dataSHA256": hashlib.sha256(data).hexdigest(),
    }, data


def memory(t):
    return {
        "id": scalar(t, 0, N.Uint16Flags),
        "domain": scalar(t, 1, N.Uint8Flags),
        "flags": scalar(t, 2, N.Uint16Flags),
        "size": scalar(t, 3, N.Uint64Flags),
        "alignment": scalar(t, 4, N.Uint32Flags),
        "contents": vector_of_strings(t, 5),
        "offsets": vector_of_scalars(t, 6, N.Uint64Flags),
        "bindID": scalar(t, 7, N.Uint16Flags),
        "tensorDescID": scalar(t, 8, N.Uint16Flags),
    }


def initial_contents(entry, blob_data):
    """As nvdla/sw Runtime::loadMemory fills a memory: only ALLOC|SET, system-domain, unbound ones."""
    region = bytearray(entry["size"])
    flags = entry["flags"]
    if flags & 1 and flags & 2 and not flags & (4 | 8) and entry["domain"] == 0:
        for name, offset in zip(entry["contents"], entry["offsets"]):
            data = blob_data[name]
            region[offset:offset + len(data)] = data
    return region


def loadable(buffer):
    root = Table(buffer, encode.Get(packer.uoffset, buffer, 0))
    blobs, blob_data = [], {}
    for t in vector_of_tables(root, 5):
        summary, data = blob(t)
        blobs.append(summary)
        blob_data[summary["name"]] = data[:summary["size"]]
    memories = [memory(t) for t in vector_of_tables(root, 2)]
    for entry in memories:
        region = initial_contents(entry, blob_data)
        entry["initialSHA256"] = hashlib.sha256(region).hexdigest()
    return {
        "version": version_struct(root, 0),
        "tasks": [{
            "id": scalar(t, 0, N.Uint16Flags),
            "interface": scalar(t, 1, N.Uint32Flags),
            "instance": scalar(t, 2, N.Int16Flags),
            "addressList": vector_of_scalars(t, 3, N.Uint16Flags),
            "preActions": vector_of_scalars(t, 4, N.Uint16Flags),
            "postActions": vector_of_scalars(t, 5, N.Uint16Flags),
        } for t in vector_of_tables(root, 1)],
        "memories": memories,
        "addresses": [{
            "id": scalar(t, 0, N.Uint16Flags),
            "memID": scalar(t, 1, N.Uint16Flags),
            "offset": scalar(t, 2, N.Uint64Flags),
            "size": scalar(t, 3, N.Uint64Flags),
        } for t in vector_of_tables(root, 3)],
        "events": [{
            "id": scalar(t, 0, N.Uint16Flags),
            "type": scalar(t, 1, N.Uint8Flags),
            "target": scalar(t, 2, N.Uint16Flags),
            "val": scalar(t, 3, N.Uint32Flags),
            "op": scalar(t, 4, N.Uint8Flags),
        } for t in vector_of_tables(root, 4)],
        "blobs": blobs,
        "tensors": [{
            "name": string(t, 0),
            "id": scalar(t, 1, N.Uint16Flags),
            "memID": scalar(t, 2, N.Uint16Flags),
            "size": scalar(t, 3, N.Uint64Flags),
            "offset": scalar(t, 4, N.Uint64Flags),
            "dataFormat": scalar(t, 5, N.Uint8Flags),
            "dataType": scalar(t, 6, N.Uint8Flags),
            "dataCategory": scalar(t, 7, N.Uint8Flags),
            "pixelFormat": scalar(t, 8, N.Uint8Flags),
            "pixelMapping": scalar(t, 9, N.Uint8Flags),
            "dims": [scalar(t, i, N.Int32Flags) for i in range(10, 14)],
            "strides": [scalar(t, i, N.Uint32Flags) for i in range(14, 22)],
        } for t in vector_of_tables(root, 6)],
        "relocations": [{
            "addressID": scalar(t, 0, N.Uint16Flags),
            "writeID": scalar(t, 1, N.Uint16Flags),
            "offset": scalar(t, 2, N.Uint64Flags),
            "interface": scalar(t, 3, N.Uint32Flags),
            "subInterface": scalar(t, 4, N.Uint32Flags),
            "relocType": scalar(t, 5, N.Uint8Flags),
        } for t in vector_of_tables(root, 7)],
        "submits": [{
            "id": scalar(t, 0, N.Uint16Flags),
            "taskIDs": vector_of_scalars(t, 1, N.Uint16Flags),
        } for t in vector_of_tables(root, 8)],
    }


def main():
    regression, output = sys.argv[1], sys.argv[2]
    flatbufs = os.path.join(regression, "flatbufs")
    dump = {}
    for directory, _, files in sorted(os.walk(flatbufs)):
        for name in sorted(files):
            if name.endswith("_fbuf"):
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    buffer = bytearray(f.read())
                entry = loadable(buffer)
                entry["fileBytes"] = len(buffer)
                entry["fileSHA256"] = hashlib.sha256(buffer).hexdigest()
                dump[os.path.relpath(path, regression)] = entry
    with open(output, "w") as f:
        json.dump(dump, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
