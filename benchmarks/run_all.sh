#!/usr/bin/env bash
# Run every benchmark in sequence (never in parallel: they measure speed) and update RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/leak_images.py
python benchmarks/speed.py --variants '[{"tracking": false, "detect_every": 1}, {"detect_every": 1}, {"detect_every": 2}, {}]'
python benchmarks/moving.py
python benchmarks/memory.py
