#!/usr/bin/env bash
# Scale benchmark for issue #3: GREM vs METIS (both through `flotilla partition`, shards not
# written: partitioning only) on a generated R-MAT graph, binary on disk. Prints edge cut,
# peak RSS and CPU time (user + sys) and the GREM/METIS ratios (targets: cut <= 0.8x,
# RSS <= 1/20, CPU <= 1/5).
# Usage: bench/partition_bench.sh [SCALE=22] [EDGE_FACTOR=16] [K=16] [WORKDIR] [-- extra grem flags]
#        bench/partition_bench.sh quality [ALGOS=grem,fennel10] [KS=8,32] [WORKDIR] [-- more
#                                 bench/partition_quality.py flags, e.g. --graphs 4elt,power]
# The quality mode runs bench/partition_quality.py (cut / METIS's reference cut on the shared
# graphs) three times, with the graphs in one chunk (default chunk size), with --chunks 16
# (16 chunks a pass) and with --chunks 16 --permute SEED (the same on randomly relabelled
# copies), and prints the geomean lines of the three side by side; each full output is kept in
# WORKDIR/quality-{1chunk,16chunks,16chunks-permuted}.txt.
# Environment:
#   FLOTILLA            the flotilla executable (default: FLOTILLA_BUILD_DIR/cli/flotilla)
#   FLOTILLA_BUILD_DIR  build directory holding cli/flotilla (default: build)
#   PERMUTE_SEED        seed of the quality mode's relabelling (default 1)
#   GRAPH               use this graph file instead of WORKDIR/rmat-sSCALE-eEF.bin
#   METIS_RESULT_DIR    reuse an earlier METIS run instead of running METIS again: the
#                       directory holds time-metis ("peakRSS_KB user_s sys_s wall_s", as
#                       /usr/bin/time -f "%M %U %S %e" writes it) and json-metis (the
#                       --json output), or time-metisSCALE and json-metisSCALE
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fl="${FLOTILLA:-${FLOTILLA_BUILD_DIR:-$root/build}/cli/flotilla}"

if [ "${1:-}" = quality ]; then
  shift
  algos="grem,fennel10"; ks="8,32"; work="$root/build/bench-work"
  [ $# -gt 0 ] && [ "$1" != "--" ] && { algos="$1"; shift; }
  [ $# -gt 0 ] && [ "$1" != "--" ] && { ks="$1"; shift; }
  [ $# -gt 0 ] && [ "$1" != "--" ] && { work="$1"; shift; }
  [ "${1:-}" = "--" ] && shift
  [ -x "$fl" ] || { echo "build first: scripts/build.sh (or set FLOTILLA=path)" >&2; exit 1; }
  mkdir -p "$work"
  names=(1chunk 16chunks 16chunks-permuted)
  modes=("" "--chunks 16" "--chunks 16 --permute ${PERMUTE_SEED:-1}")
  for i in 0 1 2; do
    read -r -a mflags <<< "${modes[$i]}"
    echo "== partition_quality.py --algos $algos --ks $ks ${modes[$i]} $* -> $work/quality-${names[$i]}.txt" >&2
    python3 "$root/bench/partition_quality.py" --flotilla "$fl" --algos "$algos" --ks "$ks" "${mflags[@]}" "$@" \
      > "$work/quality-${names[$i]}.txt"
  done
  # "geomean cut/METIS social   grem=1.015  fennel10=1.480" and "worst imbalance ...: 1.0300"
  awk -v algos="$algos" -v ks="$ks" '
    FNR == 1 { f++ }
    /^geomean cut\/METIS/ { for (i = 4; i <= NF; i++) { split($i, kv, "="); g[$3 SUBSEP kv[1], f] = kv[2] }; grp[$3] = 1 }
    /^worst imbalance/ { imb[f] = $NF }
    END {
      printf "%-28s %10s %10s %20s\n", "geomean cut/METIS, K=" ks, "1 chunk", "16 chunks", "16 chunks, permuted"
      na = split(algos, a, ",")
      split("social mesh", order, " ")
      for (j = 1; j <= na; j++) for (o = 1; o <= 2; o++) {
        key = order[o] SUBSEP a[j]
        if (!((key, 1) in g) && !((key, 2) in g) && !((key, 3) in g)) continue
        printf "%-28s %10s %10s %20s\n", a[j] " " order[o], \
          ((key, 1) in g ? g[key, 1] : "-"), ((key, 2) in g ? g[key, 2] : "-"), ((key, 3) in g ? g[key, 3] : "-")
      }
      printf "%-28s %10s %10s %20s\n", "worst imbalance (streaming)", imb[1], imb[2], imb[3]
    }' "$work/quality-1chunk.txt" "$work/quality-16chunks.txt" "$work/quality-16chunks-permuted.txt"
  exit 0
fi

scale="${1:-22}"; ef="${2:-16}"; k="${3:-16}"; work="${4:-$root/build/bench-work}"
shift $(( $# > 4 ? 4 : $# )) || true
[ "${1:-}" = "--" ] && shift
extra=("$@")
[ -x "$fl" ] || { echo "build first: scripts/build.sh (or set FLOTILLA=path)" >&2; exit 1; }
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
