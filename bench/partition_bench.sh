#!/usr/bin/env bash
# Scale benchmark for issue #3: GREM vs METIS (both through `flotilla partition`, shards not
# written: partitioning only) on a generated R-MAT graph, binary on disk. Prints edge cut,
# peak RSS and CPU time (user + sys) and the GREM/METIS ratios (targets: cut <= 0.8x,
# RSS <= 1/20, CPU <= 1/5).
# Usage: bench/partition_bench.sh [SCALE=22] [EDGE_FACTOR=16] [K=16] [WORKDIR] [-- extra grem flags]
# Environment:
#   FLOTILLA_BUILD_DIR  build directory holding cli/flotilla (default: build)
#   GRAPH               use this graph file instead of WORKDIR/rmat-sSCALE-eEF.bin
#   METIS_RESULT_DIR    reuse an earlier METIS run instead of running METIS again: the
#                       directory holds time-metis ("peakRSS_KB user_s sys_s wall_s", as
#                       /usr/bin/time -f "%M %U %S %e" writes it) and json-metis (the
#                       --json output), or time-metisSCALE and json-metisSCALE
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scale="${1:-22}"; ef="${2:-16}"; k="${3:-16}"; work="${4:-$root/build/bench-work}"
shift $(( $# > 4 ? 4 : $# )) || true
[ "${1:-}" = "--" ] && shift
extra=("$@")
fl="${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla"
[ -x "$fl" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
mkdir -p "$work"
graph="${GRAPH:-$work/rmat-s$scale-e$ef.bin}"
[ -f "$graph" ] || "$fl" generate rmat --scale "$scale" --edge-factor "$ef" --seed 1 --out "$graph" -q

summarize() {  # json_file time_file: prints "cut rss_kb cpu_s wall_s imbalance"
  local cut; cut=$(sed -n 's/.*"edge_cut":\([0-9]*\).*/\1/p' "$1")
  local imb; imb=$(sed -n 's/.*"imbalance":\([0-9.]*\).*/\1/p' "$1" | tail -1)
  local rss user sys wall
  read -r rss user sys wall < "$2"
  echo "$cut $rss $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $wall $imb"
}
run() {  # name, flags...: prints "cut rss_kb cpu_s wall_s imbalance"
  local name="$1"; shift
  local out="$work/part-$name-s$scale-k$k"
  rm -rf "$out"
  /usr/bin/time -f "%M %U %S %e" -o "$work/time-$name" "$fl" partition -i "$graph" -k "$k" -o "$out" -q --json \
    --no-shards "$@" > "$work/json-$name"
  summarize "$work/json-$name" "$work/time-$name"
}
echo "R-MAT scale $scale, edge factor $ef, K = $k: $graph"
read -r gcut grss gcpu gwall gimb < <(run grem --algo grem "${extra[@]}")
if [ -n "${METIS_RESULT_DIR:-}" ]; then
  d="$METIS_RESULT_DIR"
  if [ -s "$d/time-metis" ] && [ -s "$d/json-metis" ]; then mt="$d/time-metis"; mj="$d/json-metis"
  elif [ -s "$d/time-metis$scale" ] && [ -s "$d/json-metis$scale" ]; then mt="$d/time-metis$scale"; mj="$d/json-metis$scale"
  else echo "METIS_RESULT_DIR=$d holds no time-metis/json-metis result" >&2; exit 1; fi
  echo "METIS: reusing $mt and $mj"
  read -r mcut mrss mcpu mwall mimb < <(summarize "$mj" "$mt")
else
  read -r mcut mrss mcpu mwall mimb < <(run metis --algo metis)
fi
printf '%-6s %14s %12s %10s %10s %9s\n' algo edge_cut peak_RSS_MiB cpu_s wall_s imbalance
printf '%-6s %14s %12.0f %10.1f %10.1f %9s\n' grem "$gcut" "$((grss / 1024))" "$gcpu" "$gwall" "$gimb"
printf '%-6s %14s %12.0f %10.1f %10.1f %9s\n' metis "$mcut" "$((mrss / 1024))" "$mcpu" "$mwall" "$mimb"
awk -v gc="$gcut" -v mc="$mcut" -v gr="$grss" -v mr="$mrss" -v gt="$gcpu" -v mt="$mcpu" 'BEGIN{
  printf "GREM/METIS: cut %.3f (target <= 0.8), peak RSS %.3f (target <= 0.05), CPU %.3f (target <= 0.2)\n", gc/mc, gr/mr, gt/mt }'
