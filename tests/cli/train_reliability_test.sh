#!/usr/bin/env bash
# Issue 16, the trainer's part: run folders are never overwritten or shared by two jobs (3),
# a number given as 0 is a value and out-of-range values are errors naming the flag or
# file:line (4), metrics over no labelled node / unmasked entry are null and never the best
# epoch (5), labels are checked at load (8), error messages name the file or flag (10b, 10c).
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR CHECKPOINT_DIFF_BINARY
set -euo pipefail
fl="$1"; data="$2"; work="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mpi() { timeout 120 mpirun --oversubscribe --allow-run-as-root -np "$@"; }
cora="$root/datasets/embedded/cora"
metr="$root/datasets/embedded/metr-la-week"
"$fl" partition -i "$cora" -k 2 -o "$work/shards" -q >/dev/null
small=(--shards "$work/shards" --batch-size 256 --hidden 16 --fanouts 5,5 --max-steps 2 --threads 1 -q)

# ---- 3. run folders -------------------------------------------------------------------------
"$fl" train "${small[@]}" --epochs 1 --out "$work/run1" >/dev/null
sum_before=$(cat "$work/run1/checkpoint.pt" "$work/run1/metrics.jsonl" | md5sum)
expect_exit 1 "$work/run1: holds an earlier run" "$fl" train "${small[@]}" --epochs 1 --out "$work/run1"
grep -qF -- "pass --overwrite to replace that run, --resume $work/run1 to continue it, or choose another --out" "$work/out.txt" ||
  fail "refusal does not say what to do"
[ "$(cat "$work/run1/checkpoint.pt" "$work/run1/metrics.jsonl" | md5sum)" = "$sum_before" ] || fail "refused run changed run1"
# Under mpirun too: every rank ends, non-zero, with one message.
mpi 2 "$fl" train "${small[@]}" --epochs 1 --out "$work/run1" >"$work/out.txt" 2>&1 && fail "mpirun: reused run folder accepted"
[ "$(grep -c 'holds an earlier run' "$work/out.txt")" = 1 ] || { cat "$work/out.txt"; fail "mpirun refusal not printed once"; }
mkdir -p "$work/notes" && echo keep > "$work/notes/mine.txt"
expect_exit 1 "$work/notes: is not empty (mine.txt)" "$fl" train "${small[@]}" --epochs 1 --out "$work/notes"
"$fl" train "${small[@]}" --epochs 1 --out "$work/notes" --overwrite >/dev/null || fail "--overwrite on a non-empty folder"
[ -f "$work/notes/mine.txt" ] && [ -f "$work/notes/summary.json" ] || fail "--overwrite: other files kept, run written"
"$fl" train "${small[@]}" --epochs 1 --out "$work/run1" --overwrite >/dev/null || fail "--overwrite of a run"
expect_exit 2 "--overwrite and --resume exclude each other" "$fl" train --resume "$work/run1" --overwrite
# A folder locked by another process (this shell, through flock(1) on fd 9): refused at once,
# naming the folder, by every rank.
exec 9>>"$work/run1/.flotilla.lock"
flock -n 9 || fail "cannot take the test lock"
start=$(date +%s)
set +e; mpi 3 "$fl" train "${small[@]}" --epochs 1 --out "$work/run1" --overwrite >"$work/out.txt" 2>&1; rc=$?; set -e
took=$(( $(date +%s) - start ))
exec 9>&-
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$work/out.txt"; fail "locked folder: exit $rc"; }
[ "$took" -le 30 ] || fail "locked folder: took $took s"
grep -qF "$work/run1: run folder in use by another flotilla train job" "$work/out.txt" || { cat "$work/out.txt"; fail "locked folder message"; }
# Two real jobs on one folder: the second is refused while the first runs, and names it.
"$fl" train --shards "$work/shards" --batch-size 16 --hidden 16 --epochs 1000 --threads 1 -q --out "$work/busy" >/dev/null 2>&1 &
first=$!
for _ in $(seq 1 300); do [ -f "$work/busy/metrics.jsonl" ] && break; sleep 0.1; done
[ -f "$work/busy/metrics.jsonl" ] || { kill "$first"; fail "the first job did not start"; }
expect_exit 1 "$work/busy: run folder in use by another flotilla train job (pid $first on" \
  "$fl" train "${small[@]}" --epochs 1 --out "$work/busy" --overwrite
expect_exit 1 "run folder in use" "$fl" train --resume "$work/busy" --epochs 2000
kill "$first"; wait "$first" 2>/dev/null || true
"$fl" train "${small[@]}" --epochs 1 --out "$work/busy" --overwrite >/dev/null || fail "the lock outlived the killed job"
# A job that fails before writing leaves no folder behind.
expect_exit 1 "part-0.shard" "$fl" train --shards "$work/nope" --out "$work/never"
[ ! -e "$work/never" ] || fail "a failed start left $work/never"

# ---- 4. zero is a value; ranges name the flag or file:line ----------------------------------------
expect_exit 2 "--epochs: 0 is out of range (valid: 1 to 2147483647)" "$fl" train "${small[@]}" --epochs 0 --out "$work/z"
expect_exit 2 "--hidden: 0 is out of range (valid: 1 to 1048576)" "$fl" train "${small[@]}" --hidden 0 --out "$work/z"
expect_exit 2 "--lr: 0 is out of range (valid: a finite number > 0)" "$fl" train "${small[@]}" --lr 0 --out "$work/z"
expect_exit 2 "--batch-size: 0 is out of range (valid: 1 or more)" "$fl" train "${small[@]}" --batch-size 0 --out "$work/z"
expect_exit 2 "--weight-decay: -1 is out of range (valid: a finite number >= 0)" "$fl" train "${small[@]}" --weight-decay -1 --out "$work/z"
expect_exit 2 "--epochs: 0 is out of range" "$fl" train --task forecast --data "$metr" --epochs 0 --out "$work/z"
printf 'shards: %s\n# epochs\nepochs: 0\n' "$work/shards" > "$work/zero.yaml"
expect_exit 1 "zero.yaml:3: epochs: 0 is out of range (valid: 1 to 2147483647)" "$fl" train --config "$work/zero.yaml" --out "$work/z"
[ ! -e "$work/z" ] || fail "a rejected configuration wrote its run folder"
"$fl" train "${small[@]}" --weight-decay 0 --max-grad-norm 0 --print-config > "$work/printed.yaml"
grep -q '^weight-decay: 0$' "$work/printed.yaml" || fail "--weight-decay 0 became the default"
# 10c: an enum value of a config file names file and line; a model of the other task too.
printf 'shards: %s\nmodel: sagee\n' "$work/shards" > "$work/enum.yaml"
expect_exit 1 "enum.yaml:2: model: 'sagee' is not one of" "$fl" train --config "$work/enum.yaml" --out "$work/z"
printf 'shards: %s\n\nmodel: dcrnn\n' "$work/shards" > "$work/enum2.yaml"
expect_exit 1 "enum2.yaml:3: model: 'dcrnn' is not a node-classification model (sage, gcn, gat or sgc)" \
  "$fl" train --config "$work/enum2.yaml" --out "$work/z"

# ---- 8. labels ---------------------------------------------------------------------------------
# OGB copies of Cora with edited labels (planetoid split: train = nodes 0-139, valid 140-639).
cora_with_labels() {  # NAME AWK-PROGRAM (on node-label.csv lines; NR-1 = node id)
  mkdir -p "$work/$1/raw"
  cp -r "$cora/split" "$work/$1/"
  cp "$cora"/raw/* "$work/$1/raw/"
  rm "$work/$1/raw/node-label.csv.gz"
  zcat "$cora/raw/node-label.csv.gz" | awk "$2" > "$work/$1/raw/node-label.csv"
  "$fl" partition -i "$work/$1" -k 2 -o "$work/$1-shards" -q >/dev/null
}
cora_with_labels huge 'NR == 6 { print 134217728; next } { print }'  # node 5: a label of 2^27
start=$(date +%s)
expect_exit 1 "/huge-shards/part-" "$fl" train --shards "$work/huge-shards" --epochs 1 --out "$work/huge-run"
grep -qF "original id 5): label 134217728 is out of range: labels are -1 (unlabeled) or 0 to 2707" "$work/out.txt" ||
  { cat "$work/out.txt"; fail "huge label message"; }
set +e; mpi 4 "$fl" train --shards "$work/huge-shards" --samplers 1 --loaders 1 --epochs 1 --out "$work/huge-run" >"$work/out.txt" 2>&1; rc=$?; set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "label 134217728 is out of range" "$work/out.txt" || { cat "$work/out.txt"; fail "huge label under mpirun: exit $rc"; }
[ $(( $(date +%s) - start )) -le 60 ] || fail "huge label: too slow to fail"
cora_with_labels notrain 'NR <= 140 { print -1; next } { print }'
expect_exit 1 "none of the 140 training nodes has a label (all -1): nothing to train on" \
  "$fl" train --shards "$work/notrain-shards" --epochs 1 --out "$work/notrain-run"
cora_with_labels sometrain 'NR <= 10 { print -1; next } { print }'
"$fl" train --shards "$work/sometrain-shards" --batch-size 256 --hidden 16 --epochs 1 --threads 1 -q \
  --out "$work/sometrain-run" 2>"$work/err.txt" >/dev/null || { cat "$work/err.txt"; fail "10 unlabeled training nodes"; }
grep -qF "warning: 10 of 140 training nodes" "$work/err.txt" || { cat "$work/err.txt"; fail "no warning for unlabeled training nodes"; }
grep -q '"unlabeled_train_nodes":10,' "$work/sometrain-run/summary.json" || fail "summary lacks unlabeled_train_nodes 10"

# ---- 5. empty metrics are null and never the best epoch -----------------------------------------
# Node classification: no validation node has a label.
cora_with_labels novalid 'NR > 140 && NR <= 640 { print -1; next } { print }'
"$fl" train --shards "$work/novalid-shards" --batch-size 256 --hidden 16 --epochs 2 --threads 1 -q \
  --out "$work/novalid-run" >/dev/null
/usr/bin/python3 - "$work/novalid-run" <<'PY' || fail "node classification: empty validation metric"
import json, os, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert len(lines) == 2 and all(l["valid_accuracy"] is None for l in lines), lines
assert all(isinstance(l["test_accuracy"], float) for l in lines), lines
s = json.load(open(d + "/summary.json"))
assert s["best_epoch"] is None and s["best_valid_accuracy"] is None and s["test_accuracy"] is None, s
assert s["unlabeled_valid_nodes"] == 500, s
assert not os.path.exists(d + "/best_model.pt")
PY
# Forecasting: every validation target is 0 (masked): steps 1407-1617 of the week zeroed
# (12-step windows: validation windows start at 1395..1593, their targets are 1407..1617).
mkdir -p "$work/metr-zero" && cp "$metr"/* "$work/metr-zero/"
awk -F, -v OFS=, 'NR >= 1409 && NR <= 1619 { for (i = 2; i <= NF; i++) $i = 0 } { print }' "$metr/speed.csv" > "$work/metr-zero/speed.csv"
fc=(--task forecast --model dcrnn1 --hidden 8 --max-steps 2 --threads 1 -q)
"$fl" train "${fc[@]}" --data "$work/metr-zero" --epochs 1 --out "$work/fc-zero" >/dev/null
/usr/bin/python3 - "$work/fc-zero" <<'PY' || fail "forecast: empty validation metric"
import json, os, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert len(lines) == 1, lines
for l in lines:
    assert l["valid_mae"] is None and l["valid_mae_h12"] is None and l["valid_rmse_h3"] is None, l
    assert isinstance(l["test_mae_h12"], float) and l["test_mae_h12"] > 0, l
s = json.load(open(d + "/summary.json"))
assert s["best_epoch"] is None and s["best_valid_mae"] is None and s["test_mae_h12"] is None, s
assert isinstance(s["persistence_test_mae_h12"], float), s
assert not os.path.exists(d + "/best_model.pt")
PY

# ---- 10b. too few steps names the signal file and the flag -----------------------------------------
mkdir -p "$work/short"
cp "$metr"/* "$work/short/" && head -6 "$metr/speed.csv" > "$work/short/speed.csv"
expect_exit 1 "short/speed.csv: 5 steps are fewer than one window of 2 x --horizon 12 = 24 steps" \
  "$fl" train "${fc[@]}" --data "$work/short" --out "$work/short-run"
expect_exit 1 "short/speed.csv: 5 steps are fewer than one window of 2 x --horizon 12" \
  mpi 2 "$fl" train "${fc[@]}" --data "$work/short" --shard-time --out "$work/short-run"
echo "train_reliability_test: all checks passed"
