"""The interchange dlad's engine reads: Benchmarks/.work/models/<model>/model.json plus .npy arrays.

Described field by field in Benchmarks/README.md ("Interchange for dlad's engine").
Scales are float32 values written as the decimal of their exact double, so parsing them as
either Float or Double and rounding to Float gives the float32 back bit for bit.
"""
import json

import numpy as np

FORMAT = "dlad-peer-interchange"
VERSION = 1


def _float32(value):
    return float(np.float32(value))


def write(directory, model, training_report, onnx_bytes, tflite_bytes, reference_codes):
    directory.mkdir(parents=True, exist_ok=True)
    layers = []
    for index, layer in enumerate(model["layers"]):
        name = f"layer{index}_{layer['type']}"
        entry = {"name": name, "type": layer["type"],
                 "input_shape": layer["input_shape"], "output_shape": layer["output_shape"],
                 "input_scale": _float32(layer["input_scale"]), "input_zero_point": int(layer["input_zero_point"]),
                 "output_scale": _float32(layer["output_scale"]), "output_zero_point": int(layer["output_zero_point"])}
        if layer["type"] in ("fc", "conv"):
            np.save(directory / f"{name}_weight.npy", layer["weight"].astype(np.int8))
            np.save(directory / f"{name}_weight_scales.npy", layer["weight_scales"].astype(np.float32))
            np.save(directory / f"{name}_bias.npy", layer["bias"].astype(np.int32))
            entry.update(weight=f"{name}_weight.npy", weight_shape=list(layer["weight"].shape),
                         weight_scales=f"{name}_weight_scales.npy", bias=f"{name}_bias.npy",
                         relu=layer["relu"], weight_zero_fraction=float(np.mean(layer["weight"] == 0)))
            if layer["type"] == "conv":
                entry.update(stride=int(layer["stride"]), padding=int(layer["padding"]), dilation=1, groups=1)
        elif layer["type"] == "maxpool":
            entry.update(kernel=int(layer["kernel"]), stride=int(layer["stride"]), padding=0)
        layers.append(entry)
    (directory / "model.onnx").write_bytes(onnx_bytes)
    (directory / "model.tflite").write_bytes(tflite_bytes)
    np.save(directory / "reference_output_codes.npy", reference_codes.astype(np.int8))
    document = {
        "format": FORMAT, "version": VERSION, "name": model["name"], "layout": "NCHW",
        "input": {"shape": model["input_shape"], "dtype": "float32", "quantized_dtype": "int8",
                  "scale": _float32(model["input_scale"]), "zero_point": int(model["input_zero_point"])},
        "output": {"shape": model["output_shape"], "dtype": "float32", "quantized_dtype": "int8",
                   "scale": _float32(model["output_scale"]), "zero_point": int(model["output_zero_point"])},
        "layers": layers,
        "reference": {"images": "../../mnist/test_images.npy", "labels": "../../mnist/test_labels.npy",
                      "output_codes": "reference_output_codes.npy"},
        "peers": {"onnx": "model.onnx", "litert": "model.tflite"},
        "training": dict(sorted(training_report.items())),
    }
    temporary = directory / "model.json.partial"
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(directory / "model.json")


def read(directory):
    """Loads model.json and its arrays back into the dict form of quantization.quantize_network."""
    document = json.loads((directory / "model.json").read_text())
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ValueError(f"{directory}/model.json: expected {FORMAT} version {VERSION}, "
                         f"found {document.get('format')} version {document.get('version')}")
    layers = []
    for entry in document["layers"]:
        layer = dict(entry)
        for key in ("input_scale", "output_scale"):
            layer[key] = np.float32(entry[key])
        if entry["type"] in ("fc", "conv"):
            layer["weight"] = np.load(directory / entry["weight"])
            layer["weight_scales"] = np.load(directory / entry["weight_scales"])
            layer["bias"] = np.load(directory / entry["bias"])
            layer["bias_scales"] = (layer["input_scale"] * layer["weight_scales"]).astype(np.float32)
        layers.append(layer)
    return {"name": document["name"], "input_shape": document["input"]["shape"],
            "input_scale": np.float32(document["input"]["scale"]), "input_zero_point": document["input"]["zero_point"],
            "output_shape": document["output"]["shape"], "output_scale": np.float32(document["output"]["scale"]),
            "output_zero_point": document["output"]["zero_point"], "layers": layers, "document": document}
