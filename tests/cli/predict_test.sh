#!/usr/bin/env bash
# flotilla predict and full-graph evaluation (issue 17, items 1-2) on the embedded Cora:
# a run trained with --eval full (the default when it fits) -> predict with 1 and 2 ranks
# (mpirun) and with the activations spilled to disk: identical predictions and
# probabilities, test accuracy equal to the run's summary.json; sage, gcn, gat and sgc; outputs
# in original node order; bad input exits non-zero naming the flag or file.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; data="$2"; work="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
py=/usr/bin/python3
need_numpy

"$fl" partition -i "$root/datasets/embedded/cora" -k 2 -o "$work/shards" -q >/dev/null
small=(--shards "$work/shards" --batch-size 256 --hidden 16 --fanouts 5,5 --threads 1 --epochs 3 -q)

# Training: auto evaluates on the full graph when it fits the budget; sampled on request.
"$fl" train "${small[@]}" --out "$work/sage" >/dev/null
grep -q '"eval_mode":"full"' "$work/sage/summary.json" || fail "default eval_mode is not full"
grep -q '"peak_rss_bytes":[1-9]' "$work/sage/summary.json" || fail "train summary lacks peak_rss_bytes"
"$fl" train "${small[@]}" --epochs 1 --eval sampled --out "$work/sampled" >/dev/null
grep -q '"eval_mode":"sampled"' "$work/sampled/summary.json" || fail "--eval sampled"
"$fl" train "${small[@]}" --epochs 1 --memory-budget 1K --out "$work/auto-small" >/dev/null
grep -q '"eval_mode":"sampled"' "$work/auto-small/summary.json" || fail "auto over --memory-budget is not sampled"
# --eval full over the budget spills to RUN/.eval-activations (removed afterwards): same figures.
"$fl" train "${small[@]}" --eval full --memory-budget 0 --out "$work/spill" >/dev/null
grep -q '"eval_mode":"full"' "$work/spill/summary.json" || fail "--eval full --memory-budget 0"
[ ! -e "$work/spill/.eval-activations" ] || fail "training left .eval-activations behind"
"$py" - "$work/sage/metrics.jsonl" "$work/spill/metrics.jsonl" <<'PY' || fail "spilled full evaluation differs"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [(x["valid_accuracy"], x["test_accuracy"]) for x in a] == [(x["valid_accuracy"], x["test_accuracy"]) for x in b], (a, b)
PY
# With sampler and loader ranks each trainer loads the shards for full evaluation; the
# figures equal the co-located run's (same parameters, same layer-wise computation).
mpi 4 "$fl" train "${small[@]}" --samplers 1 --loaders 1 --out "$work/dist" >/dev/null
grep -q '"eval_mode":"full"' "$work/dist/summary.json" || fail "distributed eval_mode"

# Predict: 1 rank, 2 ranks, activations on disk (1 and 2 ranks), several block sizes.
"$fl" predict --run "$work/sage" --out "$work/p1" --probs --embeddings --threads 1 >"$work/p1.txt"
grep -q "test  accuracy" "$work/p1.txt" || { cat "$work/p1.txt"; fail "no accuracy summary printed"; }
mpi 2 "$fl" predict --run "$work/sage" --out "$work/p2" --probs --embeddings --threads 1 --block-size 700 -q
"$fl" predict --run "$work/sage" --out "$work/p3" --probs --threads 1 --block-size 700 --memory-budget 0 -q
mpi 2 "$fl" predict --run "$work/sage" --out "$work/p4" --probs --threads 1 --block-size 300 --memory-budget 0 -q
# Disaggregated: feature-loader ranks serve the features and keep each layer's rows (1
# loader for both parts; 2 loaders with activation shards on disk).
mpi 3 "$fl" predict --run "$work/sage" --out "$work/p5" --probs --threads 1 --block-size 700 --loaders 1 -q
mpi 4 "$fl" predict --run "$work/sage" --out "$work/p6" --probs --embeddings --threads 1 --block-size 300 --loaders 2 --memory-budget 0 -q
grep -q '"loaders":2' "$work/p6/summary.json" || fail "summary loaders"
grep -q '"activations_on_disk":true' "$work/p6/summary.json" || fail "loaders with --memory-budget 0 kept activations in memory"
grep -q '"rows_served":[1-9]' "$work/p6/summary.json" || fail "no loader traffic"
cmp "$work/p2/predictions.npy" "$work/p5/predictions.npy" || fail "loaders: predictions differ"
cmp "$work/p2/probs.npy" "$work/p5/probs.npy" || fail "loaders: probs differ (same block size and threads)"
cmp "$work/p4/probs.npy" "$work/p6/probs.npy" || fail "loaders on disk: probs differ"
expect_exit 2 "leave no trainer" mpi 2 "$fl" predict --run "$work/sage" --out "$work/x" --loaders 2
expect_exit 2 "more loaders than the shards' 2 parts" mpi 4 "$fl" predict --run "$work/sage" --out "$work/x" --loaders 3
grep -q '"activations_on_disk":true' "$work/p4/summary.json" || fail "--memory-budget 0 kept activations in memory"
grep -q '"ranks":2' "$work/p4/summary.json" || fail "summary ranks"
ls -a "$work" | grep -q 'tmp-' && fail "temp folders left behind: $(ls -a "$work")"
"$py" - "$work" "$root/datasets/embedded/cora" <<'PY' || fail "predict outputs"
import glob, gzip, json, sys
import numpy as np
w, cora = sys.argv[1], sys.argv[2]
run = json.load(open(f"{w}/sage/summary.json"))
ref = {k: np.load(f"{w}/p1/{k}.npy") for k in ("predictions", "probs", "embeddings")}
n = 2708
assert ref["predictions"].dtype == np.int64 and ref["predictions"].shape == (n,)
assert ref["probs"].dtype == np.float32 and ref["probs"].shape == (n, 7)
assert ref["embeddings"].dtype == np.float32 and ref["embeddings"].shape == (n, 16)
assert np.allclose(ref["probs"].sum(1), 1, atol=1e-5)
assert (ref["probs"].argmax(1) == ref["predictions"]).all()
assert (ref["embeddings"] >= 0).all()  # after ReLU
for d in ("p2", "p3", "p4", "p5", "p6"):
    p = np.load(f"{w}/{d}/predictions.npy"); q = np.load(f"{w}/{d}/probs.npy")
    assert (p == ref["predictions"]).all(), d
    assert np.abs(q - ref["probs"]).max() <= 1e-6, (d, np.abs(q - ref["probs"]).max())
for d in ("p2", "p6"):
    e = np.load(f"{w}/{d}/embeddings.npy")
    assert e.shape == ref["embeddings"].shape and np.abs(e - ref["embeddings"]).max() <= 1e-5, d
# Original node order: the test accuracy recomputed from the raw labels and split files.
labels = np.loadtxt(gzip.open(f"{cora}/raw/node-label.csv.gz"), dtype=np.int64).reshape(-1)
test = np.loadtxt(gzip.open(glob.glob(f"{cora}/split/**/test.csv.gz", recursive=True)[0]), dtype=np.int64).reshape(-1)
acc = float((ref["predictions"][test] == labels[test]).mean())
s = json.load(open(f"{w}/p1/summary.json"))
assert abs(acc - s["accuracy"]["test"]) < 1e-9, (acc, s["accuracy"])
assert abs(s["accuracy"]["test"] - run["test_accuracy"]) <= 1e-6, (s["accuracy"], run["test_accuracy"])
assert s["peak_rss_bytes"] > 0 and s["labelled"]["test"] == 1000
dist = json.load(open(f"{w}/dist/summary.json"))
assert abs(dist["test_accuracy"] - run["test_accuracy"]) <= 1e-6, (dist["test_accuracy"], run["test_accuracy"])
PY

# Every node-classification model: the run's full-graph test accuracy is predict's.
for model in gcn gat sgc; do
  "$fl" train "${small[@]}" --model "$model" --heads 2 --out "$work/$model" >/dev/null
  "$fl" predict --run "$work/$model" --out "$work/p-$model" --threads 1 -q
  "$py" - "$work/$model/summary.json" "$work/p-$model/summary.json" <<'PY' || fail "$model: predict's test accuracy differs from the run's"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["eval_mode"] == "full" and abs(a["test_accuracy"] - b["accuracy"]["test"]) <= 1e-6, (a["test_accuracy"], b["accuracy"])
PY
done
expect_exit 2 "sgc model has no hidden layer" "$fl" predict --run "$work/sgc" --out "$work/x" --embeddings
# sgc with 3 hops (--fanouts has 3 entries) through 2 ranks: the run's accuracy again.
"$fl" train "${small[@]}" --model sgc --fanouts 5,5,5 --out "$work/sgc3" >/dev/null
mpi 2 "$fl" predict --run "$work/sgc3" --out "$work/p-sgc3" --threads 1 -q
"$py" - "$work/sgc3/summary.json" "$work/p-sgc3/summary.json" <<'PY' || fail "sgc 3 hops: predict's test accuracy differs from the run's"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert abs(a["test_accuracy"] - b["accuracy"]["test"]) <= 1e-6, (a["test_accuracy"], b["accuracy"])
PY

# --full-batch: one step per epoch over the whole graph, evaluated on the full graph; predict
# agrees; refused with sampler/loader ranks, several ranks or --eval sampled.
"$fl" train "${small[@]}" --full-batch --model gcn --out "$work/full" >/dev/null
"$py" - "$work/full/summary.json" "$work/full/metrics.jsonl" <<'PY' || fail "--full-batch summary"
import json, sys
s = json.load(open(sys.argv[1]))
m = [json.loads(l) for l in open(sys.argv[2])]
assert s["full_batch"] is True and s["eval_mode"] == "full", s
assert len(m) == 3 and all(e["steps"] == 1 for e in m), m
assert 0.3 < s["test_accuracy"] <= 1, s
PY
"$fl" predict --run "$work/full" --out "$work/p-full" --threads 1 -q
"$py" - "$work/full/summary.json" "$work/p-full/summary.json" <<'PY' || fail "--full-batch: predict differs"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert abs(a["test_accuracy"] - b["accuracy"]["test"]) <= 1e-6, (a["test_accuracy"], b["accuracy"])
PY
expect_exit 2 "--full-batch trains one process" "$fl" train "${small[@]}" --full-batch --samplers 1 --loaders 1 --out "$work/x"
expect_exit 2 "'sampled' does not apply to --full-batch" "$fl" train "${small[@]}" --full-batch --eval sampled --out "$work/x"
expect_exit 2 "--full-batch trains in one process" mpi 2 "$fl" train "${small[@]}" --full-batch --out "$work/x"
rm -rf "$work/x"

# --checkpoint: the last epoch's parameters from checkpoint.pt (its folder is the run).
"$fl" predict --checkpoint "$work/sage/checkpoint.pt" --out "$work/p-last" --threads 1 -q
[ -f "$work/p-last/predictions.npy" ] || fail "--checkpoint"

# Outputs are never overwritten silently; --overwrite replaces only a predict output.
expect_exit 1 "exists and is not empty" "$fl" predict --run "$work/sage" --out "$work/p1" -q
"$fl" predict --run "$work/sage" --out "$work/p1" --overwrite -q
[ ! -f "$work/p1/probs.npy" ] || fail "--overwrite kept the old probs.npy"
expect_exit 1 "which flotilla predict did not write" "$fl" predict --run "$work/sage" --out "$work/sage" --overwrite -q
[ -f "$work/sage/best_model.pt" ] || fail "--overwrite touched a run folder"
# Bad input: the flag or file is named, exit 2 for flags and 1 for files.
expect_exit 2 "--block-size: 0 is out of range" "$fl" predict --run "$work/sage" --out "$work/x" --block-size 0
expect_exit 2 "--memory-budget: 'lots' is not a byte count" "$fl" predict --run "$work/sage" --out "$work/x" --memory-budget lots
expect_exit 2 "--threads: '-1' is not a whole number" "$fl" predict --run "$work/sage" --out "$work/x" --threads -1
expect_exit 2 "--out OUTDIR is required" "$fl" predict --run "$work/sage"
expect_exit 2 "--run RUNDIR" "$fl" predict --out "$work/x"
expect_exit 1 "no config.yaml" "$fl" predict --run "$work/shards" --out "$work/x"
expect_exit 1 "no such parameters file" "$fl" predict --run "$work/sage" --checkpoint "$work/nope.pt" --out "$work/x"
# A graph of another feature width than the model was trained on.
"$fl" partition -i "$data/nodeclass/citeseer" -k 1 -o "$work/citeseer" -q >/dev/null
expect_exit 1 "3703 features per node, but the model" "$fl" predict --run "$work/sage" --shards "$work/citeseer" --out "$work/x"
expect_exit 2 "--eval: 'maybe' is not one of" "$fl" train "${small[@]}" --eval maybe --out "$work/x"
expect_exit 2 "--memory-budget" "$fl" train "${small[@]}" --memory-budget 12Q --out "$work/x"
[ ! -e "$work/x" ] || fail "a refused command left $work/x"
echo "predict_test: OK"
