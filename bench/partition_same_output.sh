#!/usr/bin/env bash
# Do two flotilla builds give the same partitions? Runs `flotilla partition --algo grem` with
# each binary on every graph of ../shared/data/graphs (or GRAPHS), at each K of KS, in one
# chunk and in 16 chunks (--chunk-edges ceil(m/16)), under each --balance of BALANCES, and
# compares the .part files byte for byte. Prints one line per differing case and a summary;
# exits 1 if any case differs. For changes meant to keep the output (speed, memory): the
# quality tables then hold for the new build without rerunning them.
#
# Usage: bench/partition_same_output.sh BINARY_A BINARY_B
# Environment: GRAPHS (folder of .graph files; default ../shared/data/graphs beside the
#   repository), KS (default "8 32"), BALANCES (default "nodes nodes,edges"), TMPDIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 2 ] || { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2; }
a="$1"; b="$2"
for x in "$a" "$b"; do [ -x "$x" ] || { echo "partition_same_output: $x is not executable" >&2; exit 2; }; done
graphs="${GRAPHS:-$root/../shared/data/graphs}"
[ -d "$graphs" ] || { echo "partition_same_output: no graph folder $graphs (set GRAPHS)" >&2; exit 2; }
read -r -a ks <<< "${KS:-8 32}"
read -r -a balances <<< "${BALANCES:-nodes nodes,edges}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/same-output-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cases=0; differ=0
for g in "$graphs"/*.graph; do
  name="$(basename "$g" .graph)"
  m="$(awk '!/^%/ {print $2; exit}' "$g")"
  for k in "${ks[@]}"; do
    for chunks in 1 16; do
      flags=()
      [ "$chunks" = 1 ] || flags=(--chunk-edges $(( (m + 15) / 16 )))
      for bal in "${balances[@]}"; do
        for x in a b; do
          bin="$a"; [ "$x" = a ] || bin="$b"
          rm -rf "$tmp/$x"
          "$bin" partition -i "$g" -k "$k" -o "$tmp/$x" --algo grem --no-shards --balance "$bal" "${flags[@]}" \
            >/dev/null 2>"$tmp/$x.err" || { echo "partition_same_output: $bin failed on $name k=$k:" >&2; tail -3 "$tmp/$x.err" >&2; exit 2; }
        done
        cases=$((cases + 1))
        if ! cmp -s "$tmp/a/$name.part.$k" "$tmp/b/$name.part.$k"; then
          differ=$((differ + 1))
          echo "differs: $name k=$k chunks=$chunks balance=$bal"
        fi
      done
    done
  done
done
echo "$cases cases, $differ differ ($a vs $b)"
[ "$differ" -eq 0 ]
