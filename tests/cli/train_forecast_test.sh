#!/usr/bin/env bash
# flotilla train --task forecast on the embedded METR-LA week (dcrnn1, a few steps):
# index- and materialized batching train identically; 2 ranks (distributed-index-batching)
# end with the parameters of 1 rank; --resume is exact; summary fields; --shard-time (each
# rank holds only its time blocks) evaluates exactly like the unsharded run, holds less, and
# resumes exactly; bad input.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR CHECKPOINT_DIFF_BINARY
set -euo pipefail
fl="$1"; data="$2"; work="$3"; diff_tool="$4"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none
expect_exit() {  # code, grep pattern, command...
  local want="$1" pat="$2"; shift 2
  set +e; "$@" >"$work/out.txt" 2>&1; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/out.txt" >&2; fail "exit $got (want $want): $*"; }
  grep -q -- "$pat" "$work/out.txt" || { cat "$work/out.txt" >&2; fail "no '$pat' in output of: $*"; }
}
fv=(--task forecast --data "$root/datasets/embedded/metr-la-week" --model dcrnn1 --max-steps 4 --threads 1)
f=("${fv[@]}" -q)

"$fl" train "${f[@]}" --epochs 2 --out "$work/index" >/dev/null
"$fl" train "${f[@]}" --epochs 2 --batching materialized --out "$work/mat" >/dev/null
"$diff_tool" "$work/index/checkpoint.pt" "$work/mat/checkpoint.pt" 0 || fail "index and materialized batching differ"
for k in test_mae_h3 test_mae_h6 test_mae_h12 test_rmse_h12 test_mape_h12 persistence_test_mae_h12 best_valid_mae train_step_seconds peak_rss_bytes; do
  grep -q "\"$k\"" "$work/index/summary.json" || fail "summary.json lacks $k"
done
[ "$(wc -l < "$work/index/metrics.jsonl")" = 2 ] || fail "metrics.jsonl should have 2 lines"
# The run folder records the configuration, the command line and the software versions.
for k in libtorch mpi blas compiler; do grep -q "\"$k\":" "$work/index/versions.json" || fail "versions.json lacks $k"; done
grep -q -- "--max-steps 4" "$work/index/command.txt" || fail "command.txt"
# --log-level debug prints every step; error prints nothing on success.
"$fl" train "${fv[@]}" --epochs 1 --max-steps 2 --eval false --log-level debug --out "$work/dbg" > "$work/dbg.txt"
[ "$(grep -c '^epoch 0 step' "$work/dbg.txt")" = 2 ] || { cat "$work/dbg.txt"; fail "--log-level debug: per-step lines"; }
"$fl" train "${fv[@]}" --epochs 1 --max-steps 2 --eval false --log-level error --out "$work/err" > "$work/err.txt" 2>&1
[ ! -s "$work/err.txt" ] || { cat "$work/err.txt"; fail "--log-level error should print nothing"; }
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 2 "$fl" train "${f[@]}" --epochs 2 --out "$work/two" >/dev/null
"$diff_tool" "$work/index/checkpoint.pt" "$work/two/checkpoint.pt" 1e-5 || fail "2 ranks differ from 1"
"$fl" train "${f[@]}" --epochs 1 --out "$work/resumed" >/dev/null
"$fl" train --resume "$work/resumed" --epochs 2 -q >/dev/null
"$diff_tool" "$work/index/checkpoint.pt" "$work/resumed/checkpoint.pt" 0 || fail "resumed run differs"
# tgcn and dcrnn run a step.
for m in tgcn dcrnn; do
  "$fl" train "${f[@]/dcrnn1/$m}" --epochs 1 --max-steps 1 --hidden 8 --batch-size 8 --out "$work/$m" >/dev/null
  grep -q '"test_mae_h12"' "$work/$m/summary.json" || fail "$m run"
done

# Early stopping: with parameters that cannot move (lr 1e-30) no epoch beats epoch 0, so
# --patience 1 ends training after epoch 1 of 6.
"$fl" train "${f[@]}" --max-steps 1 --lr 1e-30 --epochs 6 --patience 1 --out "$work/es" >/dev/null
grep -q '"best_epoch":0,.*"stopped_early":true,"last_epoch":1,' "$work/es/summary.json" || { cat "$work/es/summary.json"; fail "forecast early stop"; }
[ "$(wc -l < "$work/es/metrics.jsonl")" = 2 ] || fail "early-stopped forecast: metrics.jsonl should have 2 lines"

expect_exit 2 "--data DIR is required" "$fl" train --task forecast --out "$work/x"
expect_exit 2 "dcrnn, dcrnn1 or tgcn" "$fl" train --task forecast --data "$root/datasets/embedded/metr-la-week" --model sage --out "$work/x"
expect_exit 2 "index or materialized" "$fl" train "${f[@]}" --batching lazy --out "$work/x"
expect_exit 2 "not one of error, warn, info or debug" "$fl" train "${f[@]}" --log-level loud --out "$work/x"

# --shard-time: with a learning rate too small to move any parameter, 2 time-sharded ranks
# must evaluate the validation and test windows exactly like 1 rank holding everything (the
# scaler comes from all-reduced partial sums), while holding less of the signal.
tiny_lr=(--epochs 1 --max-steps 2 --lr 1e-30)
"$fl" train "${f[@]}" "${tiny_lr[@]}" --out "$work/st1" >/dev/null
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 2 "$fl" train "${f[@]}" "${tiny_lr[@]}" --shard-time --out "$work/st2" >/dev/null
/usr/bin/python3 - "$work/st1" "$work/st2" <<'PY' || fail "--shard-time evaluation differs from the unsharded run"
import json, sys
a, b = (json.loads(open(d + "/metrics.jsonl").readlines()[-1]) for d in sys.argv[1:])
sa, sb = (json.load(open(d + "/summary.json")) for d in sys.argv[1:])
for k in ["valid_mae", "valid_mae_h3", "valid_rmse_h12", "test_mae_h3", "test_mae_h12", "test_mape_h6"]:
    assert abs(a[k] - b[k]) <= 1e-9 * abs(a[k]), (k, a[k], b[k])
for k in ["persistence_test_mae_h3", "persistence_test_mae_h12", "persistence_test_rmse_h6"]:
    assert abs(sa[k] - sb[k]) <= 1e-9 * abs(sa[k]), (k, sa[k], sb[k])
assert sb["shard_time"] is True and sa["shard_time"] is False
assert sb["data_bytes_held"] < 0.6 * sa["data_bytes_held"], (sb["data_bytes_held"], sa["data_bytes_held"])
PY
# Time-sharded training: index and materialized agree; --resume is exact.
shard=(--epochs 2 --shard-time)
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 2 "$fl" train "${f[@]}" "${shard[@]}" --out "$work/sti" >/dev/null
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 2 "$fl" train "${f[@]}" "${shard[@]}" --batching materialized --out "$work/stm" >/dev/null
"$diff_tool" "$work/sti/checkpoint.pt" "$work/stm/checkpoint.pt" 0 || fail "--shard-time: index and materialized differ"
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 2 "$fl" train "${f[@]}" --epochs 1 --shard-time --out "$work/str" >/dev/null
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 2 "$fl" train --resume "$work/str" --epochs 2 -q >/dev/null
"$diff_tool" "$work/sti/checkpoint.pt" "$work/str/checkpoint.pt" 0 || fail "--shard-time: resumed run differs"
grep -q '^shard-time: true$' "$work/str/config.yaml" || fail "--shard-time not kept in config.yaml"
# More ranks than training windows: a clear error naming the data, not a hang.
mkdir -p "$work/tiny"
printf 'timestamp,a,b\n' > "$work/tiny/speed.csv"
for t in 0 1 2 3 4 5 6 7 8; do printf '2012-03-01 00:%02d:00,%d,%d\n' $((t * 5)) $((50 + t)) $((60 - t)) >> "$work/tiny/speed.csv"; done
printf 'from,to,weight\na,b,1\n' > "$work/tiny/adj.csv"
expect_exit 1 "at least one training window per rank (4 windows, 5 ranks)" timeout 120 mpirun --oversubscribe --allow-run-as-root -np 5 \
  "$fl" train --task forecast --data "$work/tiny" --model dcrnn1 --horizon 2 --threads 1 --shard-time --out "$work/x"
expect_exit 2 "applies to --task forecast" "$fl" train --shards "$work/x" --shard-time --out "$work/x"
mkdir -p "$work/empty"
expect_exit 1 "empty" "$fl" train --task forecast --data "$work/empty" --out "$work/x"
"$fl" train --task forecast --data x --print-config | grep -q '^model: dcrnn$' || fail "forecast default model"
"$fl" train --task forecast --data x --print-config | grep -q '^batch-size: 64$' || fail "forecast default batch size"
echo "train_forecast_test: all checks passed"
