"""Compares an engine's outputs with the interchange's integer reference, e.g. dlad's
`dlactl run --output Y.npy` on Benchmarks/.work/mnist/test_images.npy.

  Benchmarks/.venv/bin/python Benchmarks/peers/compare.py --model lenet-5 --outputs Y.npy

Y is float32 [N, 10] dequantized logits (or int8 codes) for the first N test images. Prints how
many logits are bit-identical to the reference, the largest difference in output LSBs, and top-1.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

import interchange
import quantization


def compare(model_dir, outputs_path):
    model = interchange.read(model_dir)
    reference_codes = np.load(model_dir / "reference_output_codes.npy")
    labels = np.load(model_dir / model["document"]["reference"]["labels"])
    outputs = np.load(outputs_path)
    count = len(outputs)
    if outputs.ndim != 2 or outputs.shape[1] != reference_codes.shape[1] or count > len(reference_codes):
        raise ValueError(f"{outputs_path}: expected [N <= {len(reference_codes)}, {reference_codes.shape[1]}], "
                         f"found {list(outputs.shape)}")
    reference_codes = reference_codes[:count]
    if outputs.dtype == np.int8:
        codes = outputs.astype(np.int64)
    else:
        codes = np.rint(outputs.astype(np.float64) / float(model["output_scale"])) + model["output_zero_point"]
    difference = np.abs(codes - reference_codes.astype(np.int64))
    accuracy = float(np.mean(outputs.argmax(axis=1) == labels[:count]))
    print(f"{model['name']}: {count} images, logits identical to the reference {np.mean(difference == 0):.2%}, "
          f"largest difference {int(difference.max())} LSB, top-1 {accuracy:.4f} "
          f"(reference {np.mean(reference_codes.argmax(axis=1) == labels[:count]):.4f})")
    return int(difference.max())


def main():
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a directory name under Benchmarks/.work/models")
    parser.add_argument("--outputs", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, default=here.parent / ".work")
    arguments = parser.parse_args()
    return 0 if compare(arguments.work_dir / "models" / arguments.model, arguments.outputs) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
