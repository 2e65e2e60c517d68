#!/usr/bin/env bash
# A/B of two (or more) flotilla builds on one graph: runs `flotilla partition` with each binary
# in turn, ROUNDS times (interleaved, so a change in the machine's load hits every binary
# alike), and prints one line per run: edge cut, CPU (user + sys) and wall seconds and peak RSS
# of the whole process (/usr/bin/time), and partition.json's CPU seconds per phase (input,
# coarsen, initial, refine). Then the mean CPU per binary. The partition itself is not kept.
#
# Usage: bench/partition_ab.sh GRAPH K "FLAGS" BINARY_A BINARY_B [BINARY...]
#   e.g. bench/partition_ab.sh rgg-d2-s23-perm.bin 16 "--threads 1" old/flotilla build/cli/flotilla
# Environment: ROUNDS (default 2), TMPDIR (where each run's output goes).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
graph="$1"; k="$2"; read -r -a flags <<< "$3"; shift 3
rounds="${ROUNDS:-2}"
[ -f "$graph" ] || { echo "partition_ab: no graph file $graph" >&2; exit 1; }
for b in "$@"; do [ -x "$b" ] || { echo "partition_ab: $b is not executable" >&2; exit 1; }; done
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for ((r = 1; r <= rounds; ++r)); do
  for b in "$@"; do
    o=$(mktemp -d "${TMPDIR:-/tmp}/partition_ab-XXXXXX")
    if ! /usr/bin/time -f "%U %S %e %M" -o "$o/time" "$b" partition -i "$graph" -k "$k" -o "$o/out" --no-shards \
        "${flags[@]}" -q > "$o/log" 2>&1; then
      echo "partition_ab: $b failed:" >&2; tail -5 "$o/log" >&2; rm -rf "$o"; exit 1
    fi
    python3 - "$o" "$b" "$r" <<'PY' | tee -a "$rows"
import json, sys
o, b, r = sys.argv[1:4]
d = json.load(open(o + "/out/partition.json"))
u, s, e, m = open(o + "/time").read().split()
pc = d.get("phase_cpu_seconds", {})
print(f"{b}\tround {r}\tcut {d['edge_cut']}\tcpu {float(u) + float(s):.1f}\twall {float(e):.1f}\trss {int(m) // 1024}M\t"
      + " ".join(f"{k}={v:.1f}" for k, v in pc.items()))
PY
    rm -rf "$o"
  done
done
echo "mean CPU seconds per binary over $rounds rounds:"
awk -F'\t' '{split($4, c, " "); s[$1] += c[2]; n[$1]++} END {for (b in s) printf "  %.1f  %s\n", s[b] / n[b], b}' "$rows"
