#!/usr/bin/env bash
# Issue 17 figures: GraphSAGE (defaults, 10 epochs, full-graph evaluation) on Facebook
# Page-Page (4 GREM parts), then flotilla predict in several layouts. Prints, per layout,
# the test accuracy beside the run's summary.json, whether predictions/probs equal the
# 1-rank --threads 1 output bit for bit, whether the activations went to disk, peak RSS
# (largest rank) and seconds.
# Usage: bench/predict_bench.sh [WORKDIR] [DATASET]   (default: build/predict-work facebook-pagepage)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$root/build/predict-work}"; d="${2:-facebook-pagepage}"
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { mpirun --oversubscribe --allow-run-as-root -np "$@"; }
mkdir -p "$work"
shards="$work/$d-shards"; run="$work/$d-run"
[ -d "$shards" ] || "$fl" partition -i "$root/../shared/data/nodeclass/$d" -k 4 -o "$shards" -q >/dev/null
[ -f "$run/summary.json" ] || "$fl" train --shards "$shards" --epochs 10 --out "$run" --overwrite -q >/dev/null
p() { local name="$1"; shift; "$@" --run "$run" --out "$work/$name" --probs --overwrite -q; }
p ref "$fl" predict --threads 1
p one-rank "$fl" predict
p two-ranks mpi 2 "$fl" predict
p two-ranks-t1 mpi 2 "$fl" predict --threads 1
p on-disk "$fl" predict --memory-budget 0
p loaders-1 mpi 3 "$fl" predict --threads 1 --loaders 1
p loaders-4-disk mpi 6 "$fl" predict --threads 1 --loaders 4 --memory-budget 1M
/usr/bin/python3 - "$work" "$run" <<'PY'
import json, sys
import numpy as np
w, run = sys.argv[1], json.load(open(sys.argv[2] + "/summary.json"))
print(f"run: eval_mode {run['eval_mode']}, test_accuracy {run['test_accuracy']:.10f}, training peak RSS "
      f"{run['peak_rss_bytes'] / 2**20:.0f} MiB, {run['seconds']:.1f} s")
ref = np.load(f"{w}/ref/probs.npy")
print(f"{'layout':16} {'ranks':>5} {'loaders':>7} {'test accuracy':>14} {'|diff|':>8} {'bitwise':>8} {'max|dp|':>9} {'disk':>5} {'peak RSS':>9} {'seconds':>7}")
for name in ("ref", "one-rank", "two-ranks", "two-ranks-t1", "on-disk", "loaders-1", "loaders-4-disk"):
    s = json.load(open(f"{w}/{name}/summary.json"))
    q = np.load(f"{w}/{name}/probs.npy")
    print(f"{name:16} {s['ranks']:5} {s['loaders']:7} {s['accuracy']['test']:14.10f} "
          f"{abs(s['accuracy']['test'] - run['test_accuracy']):8.1e} {str(bool((q == ref).all())):>8} "
          f"{np.abs(q - ref).max():9.1e} {str(s['activations_on_disk']):>5} {s['peak_rss_bytes'] / 2**20:7.0f}Mi {s['seconds']:7.2f}")
PY
