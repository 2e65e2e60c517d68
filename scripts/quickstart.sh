#!/usr/bin/env bash
# First command of the README: installs dependencies, builds, and runs the main job on the
# embedded default data (datasets/embedded). Output goes to quickstart-out/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh "$root/build" Release
fl="$root/build/cli/flotilla"
out="$root/quickstart-out"
rm -rf "$out" && mkdir -p "$out"

echo "== flotilla version"
"$fl" version
echo
echo "== Embedded Cora (OGB raw layout)"
"$fl" info datasets/embedded/cora | tee "$out/cora-info.txt"
echo
echo "== Embedded METR-LA week (traffic folder)"
"$fl" info datasets/embedded/metr-la-week | tee "$out/metr-la-info.txt"
echo
echo "== Partition the embedded Cora graph into 4 shards with GREM, and with METIS for comparison"
"$fl" partition -i datasets/embedded/cora -k 4 -o "$out/cora-grem-k4" --algo grem | tee "$out/cora-grem-k4.txt"
"$fl" partition -i datasets/embedded/cora -k 4 -o "$out/cora-metis-k4" --algo metis --no-shards | tee "$out/cora-metis-k4.txt"
echo
echo "== Generated R-MAT graph (scale 16, edge factor 16), streamed to disk"
"$fl" generate rmat --scale 16 --edge-factor 16 --seed 1 --out "$out/rmat16.bin"
"$fl" info "$out/rmat16.bin" | tee "$out/rmat16-info.txt"
echo
echo "== Train GraphSAGE on Cora: mpirun -np 4 = 2 trainers + 1 sampler rank + 1 feature-loader rank"
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # quiet in containers without CMA
mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train --shards "$out/cora-grem-k4" --samplers 1 --loaders 1 \
  --epochs 30 --out "$out/cora-sage"
echo
echo "== Forecast traffic on the embedded METR-LA week: a small DCRNN (1 layer x 16 units) with index-batching"
"$fl" train --task forecast --data datasets/embedded/metr-la-week --model dcrnn --hidden 16 --layers 1 --epochs 5 \
  --out "$out/metr-la-dcrnn"
echo
grem_cut=$(sed -n 's/.*"edge_cut":\([0-9]*\).*/\1/p' "$out/cora-grem-k4/partition.json")
metis_cut=$(sed -n 's/.*"edge_cut":\([0-9]*\).*/\1/p' "$out/cora-metis-k4/partition.json")
echo "== Summary"
echo "  Cora, K=4: GREM edge cut $grem_cut, METIS edge cut $metis_cut (shards in $out/cora-grem-k4)"
acc=$(sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p' "$out/cora-sage/summary.json")
secs=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$out/cora-sage/summary.json" | head -1)
echo "  GraphSAGE on Cora (2 trainers + 1 sampler + 1 loader, 30 epochs): test accuracy $acc in ${secs%.*} s"
echo "    (metrics per epoch: $out/cora-sage/metrics.jsonl; summary: $out/cora-sage/summary.json)"
fc="$out/metr-la-dcrnn/summary.json"
num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$fc"; }
echo "  DCRNN 1x16 on the METR-LA week (index-batching, 5 epochs): test MAE 15/30/60 min $(num test_mae_h3) / $(num test_mae_h6) / $(num test_mae_h12)"
echo "    persistence baseline: $(num persistence_test_mae_h3) / $(num persistence_test_mae_h6) / $(num persistence_test_mae_h12); $(num train_step_seconds) s per step"
echo "Quickstart done. Outputs in $out"
