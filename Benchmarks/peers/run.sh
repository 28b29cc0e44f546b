#!/usr/bin/env bash
# Peer benchmarks (ONNX Runtime QDQ, LiteRT): sets up the venv, prepares MNIST, the trained
# and quantized models and dlad's interchange under Benchmarks/.work, then measures and writes
# Benchmarks/results/peers.json. Extra arguments go to measure.py (e.g. --min-seconds 0.5).
set -euo pipefail

peers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench_dir="$(dirname "$peers_dir")"
python="$bench_dir/.venv/bin/python"

"$peers_dir/setup.sh"
# One BLAS thread: deterministic training, and the peers are measured on one thread anyway.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
"$python" "$peers_dir/prepare.py" --work-dir "$bench_dir/.work"
"$python" "$peers_dir/measure.py" --work-dir "$bench_dir/.work" --output "$bench_dir/results/peers.json" "$@"
