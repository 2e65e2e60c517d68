#!/usr/bin/env bash
# flotilla train --task forecast on the embedded METR-LA week (dcrnn1, a few steps):
# index- and materialized batching train identically; 2 ranks (distributed-index-batching)
# end with the parameters of 1 rank; --resume is exact; summary fields; bad input.
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
f=(--task forecast --data "$root/datasets/embedded/metr-la-week" --model dcrnn1 --max-steps 4 --threads 1 -q)

"$fl" train "${f[@]}" --epochs 2 --out "$work/index" >/dev/null
"$fl" train "${f[@]}" --epochs 2 --batching materialized --out "$work/mat" >/dev/null
"$diff_tool" "$work/index/checkpoint.pt" "$work/mat/checkpoint.pt" 0 || fail "index and materialized batching differ"
for k in test_mae_h3 test_mae_h6 test_mae_h12 test_rmse_h12 test_mape_h12 persistence_test_mae_h12 best_valid_mae train_step_seconds peak_rss_bytes; do
  grep -q "\"$k\"" "$work/index/summary.json" || fail "summary.json lacks $k"
done
[ "$(wc -l < "$work/index/metrics.jsonl")" = 2 ] || fail "metrics.jsonl should have 2 lines"
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

expect_exit 2 "--data DIR is required" "$fl" train --task forecast --out "$work/x"
expect_exit 2 "dcrnn, dcrnn1 or tgcn" "$fl" train --task forecast --data "$root/datasets/embedded/metr-la-week" --model sage --out "$work/x"
expect_exit 2 "index or materialized" "$fl" train "${f[@]}" --batching lazy --out "$work/x"
expect_exit 3 "shard-time" "$fl" train "${f[@]}" --shard-time --out "$work/x"
mkdir -p "$work/empty"
expect_exit 1 "empty" "$fl" train --task forecast --data "$work/empty" --out "$work/x"
"$fl" train --task forecast --data x --print-config | grep -q '^model: dcrnn$' || fail "forecast default model"
"$fl" train --task forecast --data x --print-config | grep -q '^batch-size: 64$' || fail "forecast default batch size"
echo "train_forecast_test: all checks passed"
