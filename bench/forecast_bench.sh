#!/usr/bin/env bash
# Forecasting benchmark for issue #6 (dcrnn1, batch 64, --threads 1):
#   1. METR-LA week: median seconds per training step, index vs materialized batching;
#   2. generated traffic, N = 2,000 sensors, T = 30,000 steps, F = 2: peak RSS and step time of
#      index- vs materialized batching (target: index RSS <= 0.15 x materialized);
#   3. optional (FULL=1): PeMS scale 11,160 x 105,120 x 2 (9.4 GB fp32), index batching for
#      STEPS steps, then materialized (expected not to fit; what happens is printed).
# Usage: [REPS=3] [FULL=1] bench/forecast_bench.sh [WORKDIR] [STEPS=50]
# Each (data, batching) runs REPS times, alternating which goes first; the medians are compared.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$root/build/forecast-bench}"; steps="${2:-50}"
reps="${REPS:-3}"  # runs per (data, batching), alternating the order: one run's median step varies by ~5%
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
mkdir -p "$work"
js() { sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" "$1/summary.json"; }
declare -A secs rss
run() {  # name data batching epochs -> prints a row, records s/step and peak RSS
  local name="$1" data="$2" batching="$3" epochs="$4" out="$work/run-$1-$3"
  rm -rf "$out"
  /usr/bin/time -f "%M" -o "$work/time.txt" "$fl" train --task forecast --data "$data" --model dcrnn1 --batch-size 64 \
    --threads 1 --epochs "$epochs" --max-steps "$steps" --eval false --batching "$batching" --out "$out" -q > "$work/log.txt" 2>&1
  local rc=$?
  if [ $rc != 0 ]; then
    printf '%-22s %-13s failed (exit %s): %s\n' "$name" "$batching" "$rc" "$(tail -1 "$work/log.txt")"
    return
  fi
  local s m; s=$(js "$out" train_step_seconds); m=$(( $(cat "$work/time.txt") / 1024 ))
  secs[$name/$batching]+="$s "; rss[$name/$batching]=$m
  printf '%-22s %-13s %14.4f %14.0f\n' "$name" "$batching" "$s" "$m"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
compare() {  # name epochs data: REPS alternating pairs, then the medians and ratios
  local name="$1" data="$3" r
  for ((r = 0; r < reps; ++r)); do
    if (( r % 2 )); then run "$name" "$data" materialized "$2"; run "$name" "$data" index "$2"
    else run "$name" "$data" index "$2"; run "$name" "$data" materialized "$2"; fi
  done
  local si sm
  si=$(median <<<"${secs[$name/index]:-}"); sm=$(median <<<"${secs[$name/materialized]:-}")
  [ -n "$si" ] && [ -n "$sm" ] || return
  awk -v n="$name" -v si="$si" -v sm="$sm" -v ri="${rss[$name/index]}" -v rm="${rss[$name/materialized]}" -v k="$reps" 'BEGIN {
    printf "%-22s median of %d runs: index %.4f s/step, materialized %.4f s/step (index/materialized %.3f); peak RSS %d vs %d MiB (%.3f)\n",
      n, k, si, sm, si / sm, ri, rm, ri / rm }'
}
printf '%-22s %-13s %14s %14s\n' data batching "s/step (median)" "peak RSS MiB"
# The METR-LA week has 22 training steps per epoch: enough epochs for about STEPS steps.
compare metr-la-week $(( (steps + 21) / 22 )) "$root/datasets/embedded/metr-la-week"
g="$work/traffic-2000x30000"
[ -d "$g" ] || "$fl" generate traffic --sensors 2000 --steps 30000 --features 2 --seed 1 --out "$g" -q
sync  # the generated 458 MiB written back before anything is timed
compare n2000-t30000 1 "$g"
if [ "${FULL:-0}" = 1 ]; then
  p="$work/traffic-pems"
  [ -d "$p" ] || "$fl" generate traffic --sensors 11160 --steps 105120 --features 2 --seed 1 --out "$p" -q
  sync
  run pems-full "$p" index 1
  run pems-full "$p" materialized 1
fi
