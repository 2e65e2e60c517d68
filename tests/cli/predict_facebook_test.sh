#!/usr/bin/env bash
# Issue 17 acceptance on the Facebook page-page graph (22,470 nodes, 128 features, 4 classes):
# a run trained with full-graph evaluation, then flotilla predict with 1 and 2 ranks and
# with the activations on disk: predictions for every node, test accuracy equal (1e-6) to
# the run's summary.json, identical predictions across rank counts (bitwise with equal
# --threads; also with 2 feature-loader ranks keeping activation shards on disk), peak RSS
# in the summary. Slow label: ~2 minutes on 2 cores.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; data="$2"; work="$3"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MPI_TIMEOUT=600
py=/usr/bin/python3
need_numpy
fb="$data/nodeclass/facebook-pagepage"
[ -d "$fb" ] || { echo "SKIP: no $fb"; exit 77; }

"$fl" partition -i "$fb" -k 2 -o "$work/shards" -q >/dev/null
"$fl" train --shards "$work/shards" --epochs 4 --hidden 64 --out "$work/run" -q >/dev/null
grep -q '"eval_mode":"full"' "$work/run/summary.json" || fail "eval_mode is not full"
"$fl" predict --run "$work/run" --out "$work/p1" --probs --threads 1 -q
mpi 2 "$fl" predict --run "$work/run" --out "$work/p2" --probs --threads 1 -q
mpi 2 "$fl" predict --run "$work/run" --out "$work/p2-disk" --probs --threads 1 --memory-budget 1M -q
"$fl" predict --run "$work/run" --out "$work/p-default" --probs -q   # default threads (2 on 2 cores)
mpi 4 "$fl" predict --run "$work/run" --out "$work/p-loaders" --probs --threads 1 --loaders 2 --memory-budget 1M -q
cmp "$work/p1/predictions.npy" "$work/p2/predictions.npy" || fail "1 and 2 ranks: predictions differ"
cmp "$work/p1/probs.npy" "$work/p2/probs.npy" || fail "1 and 2 ranks (--threads 1): probs differ"
cmp "$work/p1/probs.npy" "$work/p2-disk/probs.npy" || fail "activations on disk: probs differ"
cmp "$work/p1/probs.npy" "$work/p-loaders/probs.npy" || fail "feature loaders: probs differ"
grep -q '"activations_on_disk":true' "$work/p-loaders/summary.json" || fail "loaders kept the activations in memory"
"$py" - "$work" <<'PY' || fail "facebook predict"
import json, sys
import numpy as np
w = sys.argv[1]
run = json.load(open(f"{w}/run/summary.json"))
for d in ("p1", "p2", "p2-disk", "p-default", "p-loaders"):
    s = json.load(open(f"{w}/{d}/summary.json"))
    p = np.load(f"{w}/{d}/predictions.npy")
    assert p.shape == (22470,) and p.min() >= 0 and p.max() < 4, d
    assert abs(s["accuracy"]["test"] - run["test_accuracy"]) <= 1e-6, (d, s["accuracy"], run["test_accuracy"])
    assert s["peak_rss_bytes"] > 0, d
    print(d, "test accuracy", s["accuracy"]["test"], "run", run["test_accuracy"], "peak RSS MiB", s["peak_rss_bytes"] / 2**20,
          "on disk" if s["activations_on_disk"] else "in memory")
a, b = np.load(f"{w}/p1/probs.npy"), np.load(f"{w}/p-default/probs.npy")
assert np.abs(a - b).max() <= 1e-6 and (a.argmax(1) == b.argmax(1)).all(), np.abs(a - b).max()
PY
echo "predict_facebook_test: OK"
