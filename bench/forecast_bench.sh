#!/usr/bin/env bash
# Forecasting benchmark for issue #6 (dcrnn1, batch 64, --threads 1):
#   1. METR-LA week: median seconds per training step, index vs materialized batching;
#   2. generated traffic, N = 2,000 sensors, T = 30,000 steps, F = 2: peak RSS and step time of
#      index- vs materialized batching (target: index RSS <= 0.15 x materialized);
#   3. optional (FULL=1): PeMS scale 11,160 x 105,120 x 2 (9.4 GB fp32), index batching for
#      STEPS steps, then materialized (expected not to fit; what happens is printed).
# Usage: bench/forecast_bench.sh [WORKDIR] [STEPS=50]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$root/build/forecast-bench}"; steps="${2:-50}"
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
mkdir -p "$work"
js() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" "$1/summary.json"; }
run() {  # name data batching -> prints a row
  local name="$1" data="$2" batching="$3" out="$work/run-$1-$3"
  rm -rf "$out"
  /usr/bin/time -f "%M" -o "$work/time.txt" "$fl" train --task forecast --data "$data" --model dcrnn1 --batch-size 64 \
    --threads 1 --epochs 1 --max-steps "$steps" --eval false --batching "$batching" --out "$out" -q > "$work/log.txt" 2>&1
  local rc=$?
  if [ $rc != 0 ]; then
    printf '%-22s %-13s failed (exit %s): %s\n' "$name" "$batching" "$rc" "$(tail -1 "$work/log.txt")"
    return
  fi
  printf '%-22s %-13s %14.4f %14.0f\n' "$name" "$batching" "$(js "$out" train_step_seconds)" "$(( $(cat "$work/time.txt") / 1024 ))"
}
printf '%-22s %-13s %14s %14s\n' data batching "s/step (median)" "peak RSS MiB"
run metr-la-week "$root/datasets/embedded/metr-la-week" index
run metr-la-week "$root/datasets/embedded/metr-la-week" materialized
g="$work/traffic-2000x30000"
[ -d "$g" ] || "$fl" generate traffic --sensors 2000 --steps 30000 --features 2 --seed 1 --out "$g" -q
run n2000-t30000 "$g" index
run n2000-t30000 "$g" materialized
if [ "${FULL:-0}" = 1 ]; then
  p="$work/traffic-pems"
  [ -d "$p" ] || "$fl" generate traffic --sensors 11160 --steps 105120 --features 2 --seed 1 --out "$p" -q
  run pems-full "$p" index
  run pems-full "$p" materialized
fi
