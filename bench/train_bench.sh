#!/usr/bin/env bash
# Training benchmark for issue #4 on a generated SBM graph (class-correlated features).
# Default scale = ogbn-products (2,449,029 nodes, average degree 50 -> ~61M edges, 100
# features, 47 classes); pass a smaller node count on small machines.
#   1. co-located (1 trainer) vs disaggregated (mpirun: 2 trainers + 1 sampler + 1 loader):
#      step time and the per-role time split;
#   2. GREM vs hash partitions (2 trainers + 2 samplers + 2 loaders, seeds from each
#      trainer's home partitions): remote fraction of sampled edges and feature rows;
#   3. sampler throughput (sampled edges per busy second per sampler) and the trainers'
#      share of time waiting for batches.
# Usage: bench/train_bench.sh [NODES=2449029] [STEPS=200] [WORKDIR]
# Rerunnable: the graph and shards in WORKDIR are reused, run folders replaced (--overwrite).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes="${1:-2449029}"; steps="${2:-200}"; work="${3:-$root/build/train-bench}"
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { mpirun --oversubscribe --allow-run-as-root -np "$@"; }
mkdir -p "$work"
g="$work/sbm-$nodes"
[ -d "$g" ] || "$fl" generate sbm --nodes "$nodes" --classes 47 --avg-degree 50 --features 100 --separation 0.5 \
  --seed 1 --out "$g" -q
for algo in grem hash; do
  [ -d "$work/shards-$nodes-$algo" ] || /usr/bin/time -f "partition $algo: %e s, %M KB" \
    "$fl" partition -i "$g" -k 2 --algo "$algo" -o "$work/shards-$nodes-$algo" -q >/dev/null
done
"$fl" info "$g" 2>/dev/null | head -3
common=(--max-steps "$steps" --epochs 1 --eval false --overwrite -q)
js() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" "$1"; }
role() { sed -n "s/.*\"$2\":{\([^}]*\)}.*/\1/p" "$1/summary.json" | sed -n "s/.*\"$3\":\([-0-9.e]*\).*/\1/p"; }
report() {  # name run_dir
  local m="$1/metrics.jsonl"
  local train wait comp ar
  train=$(js "$m" train_seconds); wait=$(js "$m" wait_seconds); comp=$(js "$m" compute_seconds); ar=$(js "$m" allreduce_seconds)
  awk -v n="$2" -v t="$train" -v w="$wait" -v c="$comp" -v a="$ar" -v s="$steps" 'BEGIN{
    printf "%-34s %8.3f %9.1f%% %9.1f%% %9.1f%%\n", n, t/s, 100*w/t, 100*c/t, 100*a/t }'
}
echo
printf '%-34s %8s %10s %10s %10s\n' run "s/step" wait compute allreduce
"$fl" train --shards "$work/shards-$nodes-grem" "${common[@]}" --out "$work/colocated"
report "$work/colocated" "co-located, 1 trainer"
mpi 4 "$fl" train --shards "$work/shards-$nodes-grem" "${common[@]}" --samplers 1 --loaders 1 --out "$work/disagg"
report "$work/disagg" "2 trainers + 1 sampler + 1 loader"
for algo in grem hash; do
  mpi 6 "$fl" train --shards "$work/shards-$nodes-$algo" "${common[@]}" --samplers 2 --loaders 2 \
    --seed-assignment local --out "$work/local-$algo"
  report "$work/local-$algo" "2T+2S+2L, $algo, local seeds"
done
echo
printf '%-8s %22s %22s %28s\n' parts "remote sampled edges" "remote feature rows" "sampled edges/s/sampler"
for algo in grem hash; do
  d="$work/local-$algo"
  el=$(role "$d" sampler sampled_edges_local); er=$(role "$d" sampler sampled_edges_remote)
  fl_=$(role "$d" loader feature_rows_local); fr=$(role "$d" loader feature_rows_remote)
  tp=$(role "$d" sampler sampled_edges_per_sampling_second_per_sampler)
  awk -v a="$algo" -v el="$el" -v er="$er" -v fl="$fl_" -v fr="$fr" -v tp="$tp" 'BEGIN{
    printf "%-8s %21.1f%% %21.1f%% %28.0f\n", a, 100*er/(el+er), 100*fr/(fl+fr), tp }'
done
