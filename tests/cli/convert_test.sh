#!/usr/bin/env bash
# flotilla convert: METIS -> binary -> text edge list -> METIS keeps the graph; the binary
# file is checksummed (a flipped payload byte is reported).
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; data="$2"; work="$3"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
json_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }
src="$data/graphs/add20.graph"
"$fl" convert "$src" "$work/g.bin" >/dev/null
"$fl" convert "$work/g.bin" "$work/g.txt" --to edgelist >/dev/null
"$fl" convert "$work/g.txt" "$work/g.graph" --to metis >/dev/null
for f in "$src" "$work/g.bin" "$work/g.txt" "$work/g.graph"; do
  out=$("$fl" info --json "$f")
  [ "$(json_field "$out" num_nodes)" = 2395 ] || fail "$f nodes"
  [ "$(json_field "$out" num_edges)" = 7462 ] || fail "$f edges"
done
# Same adjacency, line by line, after sorting each line.
# (perl: Debian's default awk, mawk, has no asort; a failing awk here compared two empty outputs)
norm() { tail -n +2 "$1" | perl -lane 'print join " ", sort { $a <=> $b } @F'; }
[ "$(norm "$src" | wc -l)" = 2395 ] && [ -n "$(norm "$src" | head -n 1)" ] || fail "norm() is broken"
cmp -s <(norm "$src") <(norm "$work/g.graph") || fail "round trip changed the adjacency"
# Corrupt one payload byte: checksum error, exit 1.
cp "$work/g.bin" "$work/bad.bin"
printf '\x05' | dd of="$work/bad.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
set +e
msg=$("$fl" info "$work/bad.bin" 2>&1); code=$?
set -e
[ "$code" = 1 ] || fail "corrupt binary exit code $code"
grep -qi "checksum\|out of range" <<<"$msg" || fail "corrupt binary message: $msg"
# Issue 16 item 2: convert writes OUT.tmp-PID (unique to the run), never the shared OUT.tmp,
# and a run that fails midway (a truncated METIS file is noticed at its end, after edges were
# written) leaves no temp file behind.
printf 'another run' >"$work/u.bin.tmp"
"$fl" convert "$src" "$work/u.bin" >/dev/null
[ "$(cat "$work/u.bin.tmp")" = "another run" ] || fail "convert overwrote or moved u.bin.tmp"
cmp -s "$work/u.bin" "$work/g.bin" || fail "u.bin differs from g.bin"
for to in binary edgelist metis; do
  head -n 2000 "$src" >"$work/trunc.graph"
  set +e
  msg=$("$fl" convert "$work/trunc.graph" "$work/t.out" --to $to --chunk-edges 64 2>&1); code=$?
  set -e
  [ "$code" = 1 ] || fail "truncated METIS to $to: exit $code"
  grep -q "trunc.graph:.*truncated file" <<<"$msg" || fail "truncated METIS to $to: $msg"
  left=$(cd "$work" && ls | grep '^t\.out' || true)
  [ -z "$left" ] || fail "failed convert to $to left $left"
done
# Issue 16 item 7: an asymmetric METIS file (1 lists 2 but 2 does not list 1; 4 lists 3 but 3
# does not list 4; the entry count 2 = 2m hides it) is refused by convert and partition, naming
# the first offending line, unless --symmetrize (then: edges 1-2 and 3-4).
printf '4 1\n2\n\n\n3\n' >"$work/asym.graph"
want="asym.graph:2: adjacency is not symmetric: vertex 1 lists neighbour 2, but vertex 2's line (line 3) does not list 1"
for cmd in convert partition; do
  set +e
  if [ $cmd = convert ]; then msg=$("$fl" convert "$work/asym.graph" "$work/a.bin" 2>&1); code=$?
  else msg=$("$fl" partition -i "$work/asym.graph" -k 2 -o "$work/ap" -q 2>&1); code=$?; fi
  set -e
  [ "$code" = 1 ] || fail "asymmetric METIS, $cmd: exit $code ($msg)"
  grep -qF "$want" <<<"$msg" || fail "asymmetric METIS, $cmd: $msg"
  grep -qF -- "--symmetrize" <<<"$msg" || fail "asymmetric METIS, $cmd: the error does not name --symmetrize"
done
left=$(cd "$work" && ls | grep -E '^(a\.bin|ap)' || true)
[ -z "$left" ] || fail "refused asymmetric input left $left"
"$fl" convert --symmetrize "$work/asym.graph" "$work/sym.graph" --to metis >/dev/null
[ "$(cat "$work/sym.graph")" = "$(printf '4 2\n2\n1\n4\n3')" ] || fail "--symmetrize wrote: $(cat "$work/sym.graph")"
out=$("$fl" partition --symmetrize -i "$work/asym.graph" -k 2 -a hash -o "$work/ap" -q --json)
[ "$(json_field "$out" num_edges)" = 2 ] || fail "partition --symmetrize: $out"
"$fl" convert --help | grep -q -- "--symmetrize" || fail "convert --help lacks --symmetrize"
"$fl" partition --help | grep -q -- "--symmetrize" || fail "partition --help lacks --symmetrize"
# Repeated neighbours (graphchk refuses them too) and a wrong m (10e).
printf '3 2\n2 2\n1 1\n\n' >"$work/rep.graph"
set +e; msg=$("$fl" convert "$work/rep.graph" "$work/r.bin" 2>&1); code=$?; set -e
[ "$code" = 1 ] && grep -qF "rep.graph:2: vertex 1 lists neighbour 2 more than once" <<<"$msg" || fail "repeat: $code $msg"
printf '3 1\n2 3\n1 3\n1 2\n' >"$work/m.graph"
set +e; msg=$("$fl" convert "$work/m.graph" "$work/r.bin" 2>&1); code=$?; set -e
[ "$code" = 1 ] && grep -qF "m.graph:1: the header says m = 1 edges but the adjacency lists hold 6 entries, 3 edges" <<<"$msg" ||
  fail "wrong m: $code $msg"
# OGB: raw/num-edge-list must match the lines of raw/edge.csv in convert/partition/info too.
mkdir -p "$work/ogb/raw"
printf '0,1\n1,2\n' >"$work/ogb/raw/edge.csv"; echo 3 >"$work/ogb/raw/num-node-list.csv"; echo 5 >"$work/ogb/raw/num-edge-list.csv"
printf '0\n1\n0\n' >"$work/ogb/raw/node-label.csv"
for cmd in convert info; do
  set +e
  if [ $cmd = convert ]; then msg=$("$fl" convert "$work/ogb" "$work/o.bin" 2>&1); code=$?; else msg=$("$fl" info "$work/ogb" 2>&1); code=$?; fi
  set -e
  [ "$code" = 1 ] && grep -qF "raw/edge.csv: has 2 edge lines, but $work/ogb/raw/num-edge-list.csv says 5 edges" <<<"$msg" ||
    fail "OGB edge count, $cmd: $code $msg"
done
echo "convert_test: ok"
