"""Schemathesis hooks for tools/api-fuzz/run.sh (loaded through SCHEMATHESIS_HOOKS).

Random data almost never forms a valid 784-pixel LeNet input, so the infer operation gets a real
MNIST sample from the shipped firmware samples as its JSON example: the examples phase then also
drives the success path (200, its headers and body, a history row for the history routes).
"""

import ast
import math
import pathlib
import struct

import schemathesis

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "firmware-models" / "samples" / "lenet-300-100" / "inputs.npy"
MODEL = ROOT / "firmware-models" / "lenet-300-100-int8.dla"


def first_sample(path: pathlib.Path) -> list[float]:
    """The first row of a float32 C-order .npy file (format 1.0)."""
    data = path.read_bytes()
    if data[:6] != b"\x93NUMPY" or data[6] != 1:
        raise ValueError(f"{path}: not an .npy file of format 1.0")
    header_length = int.from_bytes(data[8:10], "little")
    header = ast.literal_eval(data[10:10 + header_length].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        raise ValueError(f"{path}: expected little-endian float32 in C order, got {header}")
    width = math.prod(header["shape"][1:])
    return [float(value) for value in struct.unpack_from(f"<{width}f", data, 10 + header_length)]


@schemathesis.hook
def before_load_schema(context, raw_schema):
    content = raw_schema["paths"]["/v1/models/{name}/infer"]["post"]["requestBody"]["content"]
    content["application/json"]["examples"] = {
        "mnist": {"summary": "One MNIST image for lenet-300-100", "value": {"inputs": [first_sample(SAMPLES)]}},
    }
    push = raw_schema["paths"]["/v1/models/{name}/versions"]["post"]["requestBody"]["content"]
    push["application/octet-stream"]["examples"] = {
        "firmware": {"summary": "The shipped LeNet-300-100 INT8 model", "value": MODEL.read_bytes()},
    }
