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
echo "convert_test: ok"
