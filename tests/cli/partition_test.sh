#!/usr/bin/env bash
# flotilla partition end to end: output files, JSON fields, --evaluate agreeing with the run
# and with gpmetis's own report, atomic/non-clobbering output, exit codes.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; data="$2"; work="$3"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
num() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }

g="$data/graphs/4elt.graph"
"$fl" partition -i "$g" -k 8 -o "$work/p" -q >/dev/null
[ -f "$work/p/partition.json" ] || fail "no partition.json"
[ -f "$work/p/4elt.part.8" ] || fail "no 4elt.part.8"
[ "$(wc -l < "$work/p/4elt.part.8")" = 15606 ] || fail "part file lines"
js=$(cat "$work/p/partition.json")
for key in format_version num_parts num_nodes num_edges edge_cut imbalance seconds peak_rss_bytes part_sizes halo_sizes; do
  grep -q "\"$key\"" <<<"$js" || fail "partition.json lacks $key"
done
[ "$(ls "$work/p"/part-*.shard | wc -l)" = 8 ] || fail "expected 8 shards"
[ -f "$work/p/old_to_new.bin" ] || fail "no old_to_new.bin"
grep -q '"part-7.shard":{"bytes":[0-9]*,"crc32":[0-9]*}' <<<"$js" || fail "partition.json lacks shard checksums"
"$fl" partition -i "$g" -k 4 -o "$work/ns" -q --no-shards >/dev/null
ls "$work/ns"/*.shard >/dev/null 2>&1 && fail "--no-shards wrote shards"
cut=$(num "$js" edge_cut)
ev=$("$fl" partition --evaluate "$work/p/4elt.part.8" -i "$g" --json)
[ "$(num "$ev" edge_cut)" = "$cut" ] || fail "--evaluate cut $(num "$ev" edge_cut) != run cut $cut"
imb=$(num "$js" imbalance)
awk -v x="$imb" 'BEGIN{exit !(x <= 1.03)}' || fail "imbalance $imb > 1.03"

# gpmetis's own .part file scores as gpmetis reports it.
if command -v gpmetis >/dev/null; then
  cp "$g" "$work/4elt.graph"
  mcut=$(cd "$work" && gpmetis -seed=1 4elt.graph 8 | sed -n 's/.*Edgecut: *\([0-9]*\).*/\1/p')
  ev=$("$fl" partition --evaluate "$work/4elt.graph.part.8" -i "$g" --json)
  [ "$(num "$ev" edge_cut)" = "$mcut" ] || fail "gpmetis cut $mcut, evaluated $(num "$ev" edge_cut)"
  echo "gpmetis part file: cut $mcut evaluated identically"
fi

# OGB input (embedded Cora) and every baseline.
for algo in grem fennel ldg hash metis; do
  "$fl" partition -i "$data/nodeclass/cora" -k 4 -a "$algo" -o "$work/cora-$algo" -q >/dev/null || fail "cora $algo"
done
[ -f "$work/cora-grem/cora.part.4" ] || fail "cora part file"

# Refuses a non-empty output folder; leaves no temp folder behind; bad flags exit 2.
set +e
"$fl" partition -i "$g" -k 8 -o "$work/p" -q >/dev/null 2>&1; c1=$?
"$fl" partition -i "$g" -k 0 -o "$work/q" -q >/dev/null 2>&1; c2=$?
"$fl" partition -i "$g" -k 8 -o "$work/q" -a nope >/dev/null 2>&1; c3=$?
"$fl" partition -i "$work/none.graph" -k 8 -o "$work/q" >/dev/null 2>&1; c4=$?
printf '0\n9\n' > "$work/bad.part"
msg=$("$fl" partition --evaluate "$work/bad.part" -i "$g" 2>&1); c5=$?
set -e
[ "$c1" = 1 ] || fail "non-empty out: exit $c1"
[ "$c2" = 2 ] || fail "-k 0: exit $c2"
[ "$c3" = 2 ] || fail "bad algo: exit $c3"
[ "$c4" = 1 ] || fail "missing input: exit $c4"
[ "$c5" = 1 ] || fail "bad part file: exit $c5"
grep -q "bad.part" <<<"$msg" || fail "bad part file message: $msg"
ls "$work" | grep -q "tmp-" && fail "temp folder left behind"
echo "partition_test: ok"
