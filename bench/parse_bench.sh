#!/usr/bin/env bash
# Parse throughput of the graph readers (issue #2 acceptance: text edge list >= 150 MB/s per
# core, binary >= 1 GB/s) on a generated R-MAT graph of ~100M edges (scale 22, edge factor 24).
# Usage: bench/parse_bench.sh [SCALE] [EDGE_FACTOR] [WORKDIR]
# Figures are warm page cache (the files were just written); single thread.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scale="${1:-22}"; ef="${2:-24}"; work="${3:-$root/build/bench-work}"
build="${FLOTILLA_BUILD_DIR:-$root/build}"
fl="$build/cli/flotilla"; bp="$build/bench/bench_parse"
[ -x "$fl" ] && [ -x "$bp" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
mkdir -p "$work"
bin="$work/rmat-s$scale-e$ef.bin"; txt="$work/rmat-s$scale-e$ef.txt"
[ -f "$bin" ] || "$fl" generate rmat --scale "$scale" --edge-factor "$ef" --seed 1 --out "$bin"
[ -f "$txt" ] || "$fl" convert "$bin" "$txt" --to edgelist
# A plain SNAP-style file: without convert's "# flotilla edge list: N nodes" header the
# reader must discover the id set itself (the first pass) and compact ids.
plain="$work/rmat-s$scale-e$ef.plain.txt"
[ -f "$plain" ] || tail -n +2 "$txt" > "$plain"
cat "$bin" "$txt" "$plain" > /dev/null  # warm the page cache
echo "== text edge list with flotilla header (n known, ids kept)"
"$bp" "$txt" --passes 2
echo "== plain SNAP edge list, --keep-ids (n = max id + 1)"
"$bp" "$plain" --keep-ids --passes 2
echo "== plain SNAP edge list, compacting ids"
"$bp" "$plain" --passes 2
echo "== Flotilla binary edge list (uint32, crc32 verified)"
"$bp" "$bin" --passes 3
