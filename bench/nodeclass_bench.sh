#!/usr/bin/env bash
# Node-classification accuracy of every model (sage, gcn, gat, sgc) on every shared dataset
# (issue 17 item 3): test accuracy, mean +- sample std over seeds, of
#   reference  --full-batch (one process, one step per epoch over the whole graph)
#   default    the default flags, sampled mini-batches, in the disaggregated layout:
#              mpirun -np 5 = 1 trainer + 2 samplers + 2 loaders, 2 partitions
# printed side by side with their difference (points). Test accuracy is summary.json's
# test_accuracy: the test accuracy at the epoch of best validation accuracy.
# Usage: bench/nodeclass_bench.sh [WORKDIR] [DATASETS...]   (default: cora citeseer facebook-pagepage)
# Environment: MODELS="sage gcn gat sgc", SEEDS="1 2 3", THREADS=1 (LibTorch threads per
#   trainer), REF_FLAGS (default "--epochs 200": full batch takes one step per epoch) /
#   DEFAULT_FLAGS (default none) extra flags for either column (e.g. "--epochs 2" for a
#   smoke run), SETUPS="reference default" (drop one to run the other only).
# Writes WORKDIR/nodeclass_bench.tsv (dataset model setup seed test_accuracy best_epoch
# seconds) and prints the table. Rerunnable: shard folders are reused, run folders replaced.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$root/build/nodeclass-bench}"; shift || true
datasets=("$@"); [ ${#datasets[@]} -gt 0 ] || datasets=(cora citeseer facebook-pagepage)
read -r -a models <<< "${MODELS:-sage gcn gat sgc}"
read -r -a seeds <<< "${SEEDS:-1 2 3}"
read -r -a setups <<< "${SETUPS:-reference default}"
read -r -a ref_flags <<< "${REF_FLAGS---epochs 200 --patience off}"  # one step per epoch, every one of the 200
read -r -a def_flags <<< "${DEFAULT_FLAGS:-}"
threads="${THREADS:-1}"
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
data="$root/../shared/data/nodeclass"
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # containers forbid CMA
mkdir -p "$work"
tsv="$work/nodeclass_bench.tsv"
printf 'dataset\tmodel\tsetup\tseed\ttest_accuracy\tbest_epoch\tseconds\n' > "$tsv"
field() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" "$1/summary.json"; }
stats() { awk '{s+=$1; q+=$1*$1; n++} END{m=s/n; v=n>1?(q-n*m*m)/(n-1):0; if(v<0)v=0; printf "%.4f %.4f", m, sqrt(v)}'; }
for d in "${datasets[@]}"; do
  shards="$work/$d-shards"
  [ -d "$shards" ] || "$fl" partition -i "$data/$d" -k 2 -o "$shards" -q >/dev/null
  for model in "${models[@]}"; do
    for setup in "${setups[@]}"; do
      for seed in "${seeds[@]}"; do
        out="$work/$d-$model-$setup-$seed"
        start=$(date +%s.%N)
        if [ "$setup" = reference ]; then
          "$fl" train --shards "$shards" --model "$model" --seed "$seed" --threads "$threads" --full-batch \
            "${ref_flags[@]}" --out "$out" --overwrite -q >/dev/null
        else
          mpirun --oversubscribe --allow-run-as-root -np 5 "$fl" train --shards "$shards" --model "$model" --seed "$seed" \
            --threads "$threads" --samplers 2 --loaders 2 "${def_flags[@]}" --out "$out" --overwrite -q >/dev/null
        fi
        secs=$(echo "$(date +%s.%N) - $start" | bc)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%.1f\n' "$d" "$model" "$setup" "$seed" "$(field "$out" test_accuracy)" \
          "$(field "$out" best_epoch)" "$secs" >> "$tsv"
      done
    done
  done
done
# The table: mean +- std per (dataset, model, setup), the default minus the reference.
printf '%-18s %-5s %-18s %-18s %s\n' dataset model "reference (full)" "default (2s+2l)" "default - ref (points)"
for d in "${datasets[@]}"; do
  for model in "${models[@]}"; do
    ref=$(awk -F'\t' -v d="$d" -v m="$model" '$1==d && $2==m && $3=="reference" {print $5}' "$tsv" | { grep . || true; })
    def=$(awk -F'\t' -v d="$d" -v m="$model" '$1==d && $2==m && $3=="default" {print $5}' "$tsv" | { grep . || true; })
    r="-"; dd="-"; diff="-"
    [ -n "$ref" ] && r=$(echo "$ref" | stats)
    [ -n "$def" ] && dd=$(echo "$def" | stats)
    [ -n "$ref" ] && [ -n "$def" ] && diff=$(echo "${dd%% *} ${r%% *}" | awk '{printf "%+.2f", 100*($1-$2)}')
    fmt() { [ "$1" = "-" ] && echo "-" || echo "$1" | awk '{printf "%.4f +- %.4f", $1, $2}'; }
    printf '%-18s %-5s %-18s %-18s %s\n' "$d" "$model" "$(fmt "$r")" "$(fmt "$dd")" "$diff"
  done
done
echo "runs: $tsv"
