#!/usr/bin/env bash
# flotilla info --json on every METIS graph of the shared data must report the n and m of
# gpmetis_cuts.tsv; OGB folders the counts of the data README; bad input exits non-zero
# with a message naming the file.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; data="$2"; work="$3"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
json_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

checked=0
while read -r graph n m _; do
  [ "$graph" = graph ] && continue
  seen="$work/seen-$graph"; [ -f "$seen" ] && continue; touch "$seen"
  out=$("$fl" info --json "$data/graphs/$graph.graph")
  [ "$(json_field "$out" num_nodes)" = "$n" ] || fail "$graph: num_nodes $(json_field "$out" num_nodes) != $n"
  [ "$(json_field "$out" num_edges)" = "$m" ] || fail "$graph: num_edges $(json_field "$out" num_edges) != $m"
  checked=$((checked + 1))
done < "$data/graphs/gpmetis_cuts.tsv"
[ "$checked" -ge 20 ] || fail "only $checked graphs checked"
echo "metis graphs: $checked match gpmetis_cuts.tsv"

for spec in cora:2708:5278 citeseer:3327:4552 facebook-pagepage:22470:170823; do
  IFS=: read -r name n m <<<"$spec"
  out=$("$fl" info --json "$data/nodeclass/$name")
  [ "$(json_field "$out" num_nodes)" = "$n" ] || fail "$name: num_nodes $(json_field "$out" num_nodes) != $n"
  [ "$(json_field "$out" num_edges)" = "$m" ] || fail "$name: num_edges $(json_field "$out" num_edges) != $m"
done
echo "ogb folders: counts match the data README"

# SNAP edge list equals its METIS twin.
a=$("$fl" info --json "$data/graphs/facebook_combined.txt")
[ "$(json_field "$a" num_edges)" = 88234 ] || fail "facebook_combined.txt edges"

# Bad input: message names the file (and line), exit code 1; bad flags exit 2.
printf '3 2\n2\n1 x\n' > "$work/bad.graph"
set +e
msg=$("$fl" info "$work/bad.graph" 2>&1); code=$?
set -e
[ "$code" = 1 ] || fail "bad.graph exit code $code"
grep -q "bad.graph:3:" <<<"$msg" || fail "bad.graph message lacks file:line: $msg"
set +e
"$fl" info "$work/missing.graph" >/dev/null 2>&1; code=$?
"$fl" info --no-such-flag x >/dev/null 2>&1; code2=$?
"$fl" nonsense >/dev/null 2>&1; code3=$?
set -e
[ "$code" = 1 ] || fail "missing file exit code $code"
[ "$code2" = 2 ] || fail "bad flag exit code $code2"
[ "$code3" = 2 ] || fail "unknown command exit code $code3"
# An asymmetric METIS adjacency is refused naming the line; --symmetrize reads every entry as an edge.
printf '3 3\n2\n1 3\n1 2\n' >"$work/asym.graph"
set +e; msg=$("$fl" info "$work/asym.graph" 2>&1); code=$?; set -e
[ "$code" = 1 ] && grep -q "asym.graph:4: adjacency is not symmetric" <<<"$msg" || fail "asymmetric METIS: exit $code: $msg"
"$fl" info "$work/asym.graph" --symmetrize | grep -q "^edges       3 undirected" || fail "info --symmetrize"
"$fl" --help >/dev/null || fail "--help"
for c in info generate convert partition train version; do
  "$fl" "$c" --help >/dev/null || fail "$c --help"
done
echo "info_test: ok"
