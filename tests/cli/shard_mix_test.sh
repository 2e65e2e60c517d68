#!/usr/bin/env bash
# Issue 16 item 6: shard files of two partition runs in one folder. Every shard carries its
# partition run's id; `flotilla train` (before any rank loads a shard, under mpirun too) and
# `flotilla info` refuse a folder that mixes runs, naming two files, and exit 1.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; work="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cora="$root/datasets/embedded/cora"
# Two runs of the same graph and K: GREM and hash.
"$fl" partition -i "$cora" -k 2 -o "$work/a" -q >/dev/null
"$fl" partition -i "$cora" -k 2 --algo hash -o "$work/b" -q >/dev/null
small=(--batch-size 256 --hidden 16 --fanouts 5,5 --max-steps 2 --threads 1 --epochs 1 -q)
# A consistent folder trains, and info shows its run id.
"$fl" train --shards "$work/a" "${small[@]}" --out "$work/run-a" >/dev/null || fail "a consistent folder did not train"
"$fl" info "$work/a" >"$work/info.txt" || fail "info on a shard folder"
grep -q "^run id      [0-9a-f]\{16\}$" "$work/info.txt" || { cat "$work/info.txt"; fail "info shows no run id"; }
"$fl" info "$work/a" --json | grep -q '"num_parts":2' || fail "info --json on a shard folder"

# One shard of run b copied into a copy of run a.
cp -r "$work/a" "$work/mixed"
cp "$work/b/part-1.shard" "$work/mixed/part-1.shard"
want="$work/mixed/part-1.shard: comes from another partition run than $work/mixed/part-0.shard"
expect_exit 1 "$want" "$fl" train --shards "$work/mixed" "${small[@]}" --out "$work/run-mixed"
grep -qF "re-partition" "$work/out.txt" || fail "the message does not say what to do"
[ ! -e "$work/run-mixed" ] || fail "a refused start left its run folder"
# Under mpirun with sampler and loader ranks: one message, non-zero.
set +e
timeout 120 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train --shards "$work/mixed" --samplers 1 --loaders 1 \
  "${small[@]}" --out "$work/run-mixed-mpi" >"$work/out.txt" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$work/out.txt"; fail "mpirun: exit $rc"; }
[ "$(grep -c "comes from another partition run" "$work/out.txt")" = 1 ] || { cat "$work/out.txt"; fail "mpirun: not one message"; }
expect_exit 1 "$want" "$fl" info "$work/mixed"

# partition.json of another run beside run a's shards.
cp -r "$work/a" "$work/json"
cp "$work/b/partition.json" "$work/json/partition.json"
cp "$work/a/part-1.shard" "$work/json/part-1.shard"
# (its shard sizes differ; with a run id in partition.json, that differs too)
expect_exit 1 "$work/json/partition.json" "$fl" train --shards "$work/json" "${small[@]}" --out "$work/run-json"
echo "shard_mix_test: all checks passed"
