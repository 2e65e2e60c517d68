#!/usr/bin/env bash
# First command of the README: installs dependencies, builds the two executables, and runs
# the main job on the embedded default data (datasets/embedded):
#   partition Cora into 4 shards with GREM (and METIS for comparison), train GraphSAGE on
#   them with 2 trainers + 1 sampler + 1 feature loader (mpirun -np 4), train a small DCRNN
#   with index-batching on the METR-LA week, plot everything (scripts/plot.py).
# Each stage's output goes to OUT/logs/; the script ends with one summary screen.
# Environment: FLOTILLA_BUILD_DIR (default build/), FLOTILLA_QUICKSTART_OUT (default
# quickstart-out/), FLOTILLA_SKIP_INSTALL=1 skips the apt step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${FLOTILLA_BUILD_DIR:-$root/build}"
out="${FLOTILLA_QUICKSTART_OUT:-$root/quickstart-out}"
fl="$build/cli/flotilla"
py=/usr/bin/python3
epochs_sage=30
epochs_dcrnn=5

now() { date +%s.%N; }
t_all=$(now)
stage_names=(); stage_secs=()
record() { stage_names+=("$1"); stage_secs+=("$(awk -v a="$2" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')"); }

# run_stage KEY WHAT LOG CMD...: runs CMD with its output in LOG, prints one line, stops on failure.
run_stage() {
  local key="$1" what="$2" log="$3"; shift 3
  local t; t=$(now)
  printf '  %-46s' "$what"
  if "$@" > "$log" 2>&1; then
    record "$key" "$t"
    printf '%6s s\n' "${stage_secs[-1]}"
  else
    local rc=$?
    printf 'FAILED (exit %d)\n' "$rc"
    echo "---- last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit "$rc"
  fi
}

echo "== Flotilla quickstart (build: $build, outputs: $out)"
t=$(now)
if [ "${FLOTILLA_SKIP_INSTALL:-0}" != 1 ]; then bash scripts/install-deps.sh; fi
record install "$t"

# Only the two executables the job needs (the test suite is built by scripts/run-tests.sh).
echo "== Building flotilla and flotilla-train ($(nproc) cores; a cold build takes a few minutes)"
t=$(now)
FLOTILLA_TARGETS="flotilla flotilla-train" bash scripts/build.sh "$build" Release
record "build" "$t"

rm -rf "$out" && mkdir -p "$out/logs"
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # quiet in containers without CMA
# LibTorch's OpenMP threads sleep instead of spinning while they wait: with more threads than
# free cores (4 ranks on 2 cores, or a busy machine) spinning made DCRNN steps 10x slower.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
mpi_flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)
cora=datasets/embedded/cora
metr=datasets/embedded/metr-la-week

echo "== Running (each stage's output in $out/logs/)"
describe() { "$fl" version && "$fl" info "$cora" && "$fl" info "$metr"; }
run_stage data "describe the embedded Cora and METR-LA week" "$out/logs/info.txt" describe
partition() {
  "$fl" partition -i "$cora" -k 4 -o "$out/cora-grem-k4" --algo grem &&
  "$fl" partition -i "$cora" -k 4 -o "$out/cora-metis-k4" --algo metis --no-shards --balance nodes,edges,train
}
run_stage partition "partition Cora, K=4: GREM (shards), METIS" "$out/logs/partition.txt" partition
run_stage graphsage "GraphSAGE: 2 trainers + 1 sampler + 1 loader" "$out/logs/train-sage.txt" \
  mpirun "${mpi_flags[@]}" -np 4 "$build/cli/flotilla-train" train --shards "$out/cora-grem-k4" \
    --samplers 1 --loaders 1 --epochs "$epochs_sage" --out "$out/cora-sage"
run_stage dcrnn "DCRNN 1x16 on METR-LA week, index-batching" "$out/logs/train-dcrnn.txt" \
  "$build/cli/flotilla-train" train --task forecast --data "$metr" --model dcrnn --hidden 16 --layers 1 \
    --epochs "$epochs_dcrnn" --batching index --out "$out/metr-la-dcrnn"
plots_ok=1
plot() {
  "$py" scripts/plot.py "$out/cora-sage" "$out/metr-la-dcrnn" "$out/cora-grem-k4" "$out/cora-metis-k4" \
    --out "$out/plots"
}
t=$(now)
printf '  %-46s' "plots (scripts/plot.py)"
if plot > "$out/logs/plots.txt" 2>&1; then
  record plots "$t"; printf '%6s s\n' "${stage_secs[-1]}"
else
  record plots "$t"; plots_ok=0; echo "failed (see $out/logs/plots.txt)"
fi
record total "$t_all"

# One summary screen, from the JSON files the stages wrote.
{
  for i in "${!stage_names[@]}"; do printf '%s\t%s\n' "${stage_names[$i]}" "${stage_secs[$i]}"; done
} > "$out/stage-seconds.tsv"
"$py" - "$out" "$epochs_sage" "$epochs_dcrnn" "$plots_ok" <<'EOF' | tee "$out/summary.txt"
import json, os, sys
out, ep_sage, ep_dcrnn, plots_ok = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
load = lambda p: json.load(open(os.path.join(out, p)))
g, m = load("cora-grem-k4/partition.json"), load("cora-metis-k4/partition.json")
s, f = load("cora-sage/summary.json"), load("metr-la-dcrnn/summary.json")
pct = lambda c, n: 100.0 * c / n if n else 0.0
print()
print("=" * 78)
print("Flotilla quickstart: summary")
print("=" * 78)
print(f"Partition   Cora ({g['num_nodes']} nodes, {g['num_edges']} edges) into K=4:")
for name, p in (("GREM ", g), ("METIS", m)):
    print(f"            {name} edge cut {p['edge_cut']:5d} ({pct(p['edge_cut'], p['num_edges']):.1f}% of edges), "
          f"imbalance {p['imbalance']:.3f}, parts {p['part_sizes']}")
tot = (s["wait_seconds"] or 0) + (s["compute_seconds"] or 0) + (s["allreduce_seconds"] or 0)
share = lambda k: pct(s[k] or 0, tot)
tr = s["traffic"]
print(f"GraphSAGE   Cora on the GREM shards, {s['trainers']} trainers + {s['samplers']} sampler + {s['loaders']} loader "
      f"(mpirun -np 4), {ep_sage} epochs:")
print(f"            test accuracy {s['test_accuracy']:.3f} at the best validation epoch {s['best_epoch']} "
      f"(valid {s['best_valid_accuracy']:.3f}); {s['seconds']:.1f} s")
print(f"            trainer time: compute {share('compute_seconds'):.0f}%, waiting for batches "
      f"{share('wait_seconds'):.0f}%, all-reduce {share('allreduce_seconds'):.0f}%; "
      f"loader sent {tr['loader']['bytes_sent'] / 1e6:.0f} MB of features")
print(f"DCRNN       METR-LA week (207 sensors), 1 layer x 16 units, {f['batching']}-batching, {ep_dcrnn} epochs, "
      f"{f['seconds']:.0f} s:")
h = lambda p: " / ".join(f"{f[p + k]:.2f}" for k in ("h3", "h6", "h12"))
print(f"            test MAE at 15 / 30 / 60 min   {h('test_mae_')} mph (best validation epoch {f['best_epoch']})")
print(f"            persistence baseline          {h('persistence_test_mae_')} mph")
print(f"            {f['train_step_seconds'] * 1000:.0f} ms per training step (median)")
stages = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "stage-seconds.tsv"))]
fmt = lambda t: f"{float(t):.0f}" if float(t) >= 10 else f"{float(t):.1f}"
print("Times (s)   " + ", ".join(f"{n} {fmt(t)}" for n, t in stages[:-1]) + f"; total {fmt(stages[-1][1])}")
print(f"Outputs     {out}/ (run folders, partition folders, logs/, summary.txt)")
if plots_ok:
    pngs = [l.strip() for l in open(os.path.join(out, "logs", "plots.txt")) if l.strip().endswith(".png")]
    print("Plots       " + ("\n            ".join(pngs) if pngs else "(none)"))
else:
    print(f"Plots       not made: {open(os.path.join(out, 'logs', 'plots.txt')).read().strip()}")
EOF
