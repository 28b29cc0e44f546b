"""Prints the per-stage results of the firmware models' pipeline (<work>/<model>/report.json) as
Markdown tables: errors, per-layer sparsity / bits / distinct values, and the size estimate."""
import argparse
import json
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1]


def table(model, entries):
    lines = [f"### {model}", "",
             "| stage | valid error | test error | ORT test error | INT8 simulated test error | per layer: sparsity / bits / distinct values "
             "| sparsity | estimate fixed (ratio) | estimate Huffman (ratio) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for entry in entries:
        estimate = entry["estimate"]
        simulated = f"{entry['int8_simulated_test_error']:.2%}" if "int8_simulated_test_error" in entry else "–"
        layers = ", ".join(f"{name} {layer['sparsity']:.1%} / {layer['bits']} / {layer['distinct_values']}"
                           for name, layer in estimate["layers"].items())
        lines.append(f"| {entry['stage']} | {entry['valid_error']:.2%} | {entry['test_error']:.2%} "
                     f"| {entry['onnxruntime_test_error']:.2%} | {simulated} | {layers} | {estimate['sparsity']:.1%} "
                     f"| {estimate['fixed_bytes']} B ({estimate['fixed_ratio']}×) "
                     f"| {estimate['huffman_bytes']} B ({estimate['huffman_ratio']}×) |")
    fp32 = entries[0]["estimate"]["fp32_bytes"] if entries else 0
    return "\n".join(lines + ["", f"FP32 weights and biases: {fp32} bytes.", ""])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work-dir", type=Path, default=MODELS_DIR / ".work")
    args = parser.parse_args()
    for report in sorted(args.work_dir.glob("*/report.json")):
        print(table(report.parent.name, json.loads(report.read_text())))


if __name__ == "__main__":
    main()
