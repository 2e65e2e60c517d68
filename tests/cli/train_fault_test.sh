#!/usr/bin/env bash
# Faults in a distributed training job (mpirun -np 4: 2 trainers + 1 sampler + 1 loader):
# a sampler, a loader or a trainer killed (SIGKILL) or exiting mid-epoch, and a corrupt
# shard, each end the whole job within 30 s, non-zero, naming the rank; --resume after a
# killed run finishes with the same parameters as an uninterrupted run.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR CHECKPOINT_DIFF_BINARY
set -euo pipefail
fl="$1"; data="$2"; work="$3"; diff_tool="$4"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none
"$fl" partition -i "$root/datasets/embedded/cora" -k 2 -o "$work/shards" -q >/dev/null
args=(--shards "$work/shards" --samplers 1 --loaders 1 --batch-size 32 --hidden 32 --epochs 4 -q)

# fault spec | rank that must be named in mpirun's report
for case in "sampler:0:5|rank 2" "loader:0:5|rank 3" "trainer:1:7|rank 1" "sampler:0:9:exit|Exit code:    3"; do
  spec="${case%%|*}"; want="${case#*|}"
  start=$(date +%s)
  set +e
  FLOTILLA_FAULT="$spec" timeout 60 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train "${args[@]}" \
    --out "$work/run-${spec//:/-}" > "$work/out.txt" 2>&1  # a fresh folder each: a used one is refused
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  [ "$rc" != 0 ] || fail "$spec: job exited 0"
  [ "$rc" != 124 ] || fail "$spec: job hung (killed by timeout after 60 s)"
  [ "$took" -le 30 ] || fail "$spec: job took $took s to end"
  grep -q "FLOTILLA_FAULT" "$work/out.txt" || fail "$spec: fault not injected"
  grep -q "$want" "$work/out.txt" || { cat "$work/out.txt"; fail "$spec: report does not name '$want'"; }
  echo "$spec: ended in $took s, exit $rc, names '$want'"
done

# Kill a trainer in epoch 3 (after 2 checkpoints), resume, compare with an uninterrupted run.
timeout 120 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train "${args[@]}" --out "$work/whole" >/dev/null
steps=$(sed -n 's/.*"steps":\([0-9]*\).*/\1/p' "$work/whole/metrics.jsonl" | head -1)
set +e
FLOTILLA_FAULT="trainer:0:$(( 2 * steps + 2 ))" timeout 60 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train \
  "${args[@]}" --out "$work/killed" > "$work/out.txt" 2>&1
set -e
[ "$(wc -l < "$work/killed/metrics.jsonl")" = 2 ] || fail "killed run should have completed 2 epochs"
timeout 120 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train --resume "$work/killed" -q >/dev/null
"$diff_tool" "$work/whole/checkpoint.pt" "$work/killed/checkpoint.pt" 0 || fail "resumed run differs from the uninterrupted one"

# A shard failing its checksum: the job ends naming the file.
cp -r "$work/shards" "$work/bad"
printf '\xff' | dd of="$work/bad/part-1.shard" bs=1 seek=300 conv=notrunc status=none
set +e
timeout 60 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train "${args[@]/$work\/shards/$work/bad}" \
  --out "$work/badrun" > "$work/out.txt" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "corrupt shard: exit $rc"
grep -q "part-1.shard.*checksum" "$work/out.txt" || { cat "$work/out.txt"; fail "corrupt shard not named"; }
grep -q "rank [0-9]* (" "$work/out.txt" || { cat "$work/out.txt"; fail "corrupt shard: rank not named"; }
echo "train_fault_test: all checks passed"
