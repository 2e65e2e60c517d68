#!/usr/bin/env bash
# Accuracy acceptance for issue #4: GraphSAGE with default hyper-parameters on Cora and
# CiteSeer (Planetoid splits) and Facebook Page-Page (random split), 3 seeds each, with 1
# co-located trainer and with mpirun -np 4 (2 trainers + 1 sampler + 1 loader, 2 partitions);
# then GCN and GAT on Cora (co-located). Prints test accuracy per run and the median.
# Usage: bench/nodeclass_accuracy.sh [WORKDIR] [DATASETS...]   (default: cora citeseer facebook-pagepage)
# Rerunnable: shard folders in WORKDIR are reused, run folders replaced (--overwrite).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$root/build/accuracy-work}"; shift || true
datasets=("$@"); [ ${#datasets[@]} -gt 0 ] || datasets=(cora citeseer facebook-pagepage)
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
data="$root/../shared/data/nodeclass"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mkdir -p "$work"
acc() { sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p' "$1/summary.json"; }
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
printf '%-18s %-6s %-22s %-26s %s\n' dataset model setup "test accuracy (seeds 1,2,3)" median
for d in "${datasets[@]}"; do
  shards="$work/$d-shards"
  [ -d "$shards" ] || "$fl" partition -i "$data/$d" -k 2 -o "$shards" -q >/dev/null
  models=(sage); [ "$d" = cora ] && models=(sage gcn gat)
  for model in "${models[@]}"; do
    setups=(colocated); [ "$model" = sage ] && setups=(colocated "mpirun-4")
    for setup in "${setups[@]}"; do
      accs=()
      for seed in 1 2 3; do
        out="$work/$d-$model-$setup-$seed"
        if [ "$setup" = colocated ]; then
          "$fl" train --shards "$shards" --model "$model" --seed "$seed" --out "$out" --overwrite -q >/dev/null
        else
          mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train --shards "$shards" --model "$model" --seed "$seed" \
            --samplers 1 --loaders 1 --out "$out" --overwrite -q >/dev/null
        fi
        accs+=("$(acc "$out")")
      done
      printf '%-18s %-6s %-22s %-26s %s\n' "$d" "$model" "$setup" "${accs[*]}" "$(echo "${accs[*]}" | median)"
    done
  done
done
