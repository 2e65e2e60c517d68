#!/usr/bin/env bash
# flotilla generate: help, flag errors, a small R-MAT run read back by `flotilla info --json`,
# a small SBM folder, RGG and graph-only SBM binary edge lists, and on those two an edge cut
# computed by brute force (Python over the file's pairs) that must equal the one `flotilla
# partition` streams (--evaluate of a fixed hash assignment, and --algo hash's own run). Kept to a few invocations: each pays the executable's start-up
# (~0.6 s loading LibTorch); determinism and read-back details are in the unit tests.
# Usage: generate_test.sh FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail

FLOTILLA=${1:?usage: generate_test.sh FLOTILLA SHARED_DATA WORK}
WORK=${3:?usage: generate_test.sh FLOTILLA SHARED_DATA WORK}
rm -rf "$WORK"
mkdir -p "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs a command, expects exit code $1, keeps stdout/stderr in $WORK/out, $WORK/err.
expect_code() {
  local want=$1; shift
  local got=0
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  if [[ $got -ne $want ]]; then
    echo "--- stdout" >&2; cat "$WORK/out" >&2
    echo "--- stderr" >&2; cat "$WORK/err" >&2
    fail "expected exit $want, got $got: $*"
  fi
}

# Help.
expect_code 0 "$FLOTILLA" generate --help
grep -q rmat "$WORK/out" || fail "generate --help does not list rmat"
expect_code 0 "$FLOTILLA" generate rmat --help
grep -q -- "--edge-factor" "$WORK/out" || fail "generate rmat --help does not mention --edge-factor"

# Usage errors: exit 2 with a message.
expect_code 2 "$FLOTILLA" generate rmat --scale 8 --bogus-flag --out "$WORK/x.bin"
grep -q bogus "$WORK/err" || fail "unknown flag not named in the error"
expect_code 2 "$FLOTILLA" generate rmat --scale 40 --out "$WORK/x.bin"     # scale out of range
grep -q scale "$WORK/err" || fail "bad scale not explained"
[[ ! -e "$WORK/x.bin" ]] || fail "a failed run left $WORK/x.bin"

# Small R-MAT, read back.
expect_code 0 "$FLOTILLA" generate rmat --scale 10 --edge-factor 8 --seed 3 --threads 2 -q --out "$WORK/g.bin"
grep -q "edges *8192" "$WORK/out" || fail "summary does not report 8192 edges: $(cat "$WORK/out")"
[[ $(stat -c %s "$WORK/g.bin") -eq $((64 + 8192 * 8)) ]] || fail "rmat file has the wrong size"
expect_code 0 "$FLOTILLA" info --json "$WORK/g.bin"
n=$(sed -n 's/.*"num_nodes": *\([0-9]*\).*/\1/p' "$WORK/out")
[[ "$n" == 1024 ]] || fail "info --json num_nodes is '$n', expected 1024: $(cat "$WORK/out")"

# Small SBM folder, read back; refusing a non-empty output folder.
expect_code 0 "$FLOTILLA" generate sbm --nodes 2000 --classes 4 --avg-degree 6 --intra 0.8 --features 4 \
  --seed 2 -q --out "$WORK/sbm"
for f in raw/edge.csv.gz raw/node-feat.csv.gz raw/node-label.csv.gz raw/num-node-list.csv.gz \
         raw/num-edge-list.csv.gz split/random/train.csv.gz split/random/valid.csv.gz split/random/test.csv.gz; do
  [[ -s "$WORK/sbm/$f" ]] || fail "sbm output lacks $f"
done
[[ $(gzip -dc "$WORK/sbm/raw/node-feat.csv.gz" | wc -l) -eq 2000 ]] || fail "node-feat does not have 2000 rows"
expect_code 1 "$FLOTILLA" generate sbm --nodes 2000 --classes 4 --features 4 -q --out "$WORK/sbm"
grep -q "not empty" "$WORK/err" || fail "non-empty output folder not explained: $(cat "$WORK/err")"

# RGG: help, a bad --dim, small 2D and 3D runs.
expect_code 0 "$FLOTILLA" generate --help
grep -q rgg "$WORK/out" || fail "generate --help does not list rgg"
expect_code 0 "$FLOTILLA" generate rgg --help
grep -q -- "--permute" "$WORK/out" || fail "generate rgg --help does not mention --permute"
expect_code 2 "$FLOTILLA" generate rgg --dim 4 --scale 8 --out "$WORK/x.bin"
grep -q dim "$WORK/err" || fail "bad --dim not explained"
[[ ! -e "$WORK/x.bin" ]] || fail "a failed rgg run left $WORK/x.bin"
expect_code 0 "$FLOTILLA" generate rgg --dim 2 --scale 12 --seed 4 --threads 2 -q --out "$WORK/rgg2.bin"
grep -q "nodes *4096" "$WORK/out" || fail "rgg summary does not report 4096 nodes: $(cat "$WORK/out")"
grep -q "radius" "$WORK/out" || fail "rgg summary does not report the radius"
expect_code 0 "$FLOTILLA" generate rgg --dim 3 --scale 12 --seed 4 --permute -q --out "$WORK/rgg3.bin"

# SBM, the graph alone: .bin needs --features 0 (else exit 2); same edge count as the folder.
expect_code 2 "$FLOTILLA" generate sbm --nodes 2000 --classes 4 --features 4 -q --out "$WORK/sbm.bin"
grep -q -- "--features 0" "$WORK/err" || fail "sbm .bin with features not explained: $(cat "$WORK/err")"
[[ ! -e "$WORK/sbm.bin" ]] || fail "a refused sbm run left $WORK/sbm.bin"
expect_code 0 "$FLOTILLA" generate sbm --nodes 2000 --classes 4 --avg-degree 6 --intra 0.8 --features 0 \
  --seed 2 -q --out "$WORK/sbm.bin"
folder_edges=$(gzip -dc "$WORK/sbm/raw/num-edge-list.csv.gz")
grep -q "edges *$folder_edges\$" "$WORK/out" || fail "sbm .bin edges differ from the folder's $folder_edges: $(cat "$WORK/out")"
[[ $(stat -c %s "$WORK/sbm.bin") -eq $((64 + folder_edges * 8)) ]] || fail "sbm .bin has the wrong size"

# Edge cut by brute force == the streamed one, on both new outputs.
cut_check() {  # GRAPH.bin
  local g=$1 name
  name=$(basename "$g" .bin)
  # A fixed assignment: the top 2 bits of a multiplicative hash of the vertex id.
  /usr/bin/python3 - "$g" "$WORK/$name.hash.part" <<'PY' || fail "writing the hash assignment for $g"
import struct, sys
n = struct.unpack_from("<Q", open(sys.argv[1], "rb").read(64), 16)[0]
with open(sys.argv[2], "w") as f:
    f.writelines(f"{((v * 2654435761) % 2**32) >> 30}\n" for v in range(n))
PY
  expect_code 0 "$FLOTILLA" partition -i "$g" --evaluate "$WORK/$name.hash.part" --json
  cp "$WORK/out" "$WORK/$name.evaluate.json"
  expect_code 0 "$FLOTILLA" partition -i "$g" --algo hash -k 4 --no-shards -q -o "$WORK/$name.p"
  /usr/bin/python3 - "$g" "$WORK/$name.hash.part" "$WORK/$name.evaluate.json" "$WORK/$name.p" <<'PY' \
    || fail "brute-force edge cut differs from flotilla partition's on $g"
import json, os, struct, sys
from array import array
path, part_path, eval_json, pdir = sys.argv[1:5]
data = open(path, "rb").read()
magic, version, id_bytes, n, m, flags = struct.unpack_from("<8sIIQQI", data, 0)
assert flags & 1, "each-edge-once flag not set"
ids = array("I" if id_bytes == 4 else "Q")
ids.frombytes(data[64:])
assert len(ids) == 2 * m, (len(ids), m)
def cut(part):
    edges = c = 0
    for i in range(0, 2 * m, 2):
        u, v = ids[i], ids[i + 1]
        if u == v:
            continue
        edges += 1
        c += part[u] != part[v]
    return edges, c
def read_part(p):
    part = [int(x) for x in open(p)]
    assert len(part) == n, (p, len(part), n)
    return part
ok = True
edges, c = cut(read_part(part_path))
ev = json.load(open(eval_json))
print(f"{os.path.basename(path)}: {edges} edges, hash-assignment cut {c} (brute force), {ev['edge_cut']} (--evaluate)")
ok &= ev["edge_cut"] == c and ev["num_edges"] == edges and 0 < c < edges
pj = json.load(open(os.path.join(pdir, "partition.json")))
edges, c = cut(read_part(os.path.join(pdir, pj["part_file"])))
print(f"{os.path.basename(path)}: --algo hash cut {c} (brute force), {pj['edge_cut']} (partition.json)")
ok &= pj["edge_cut"] == c and pj["num_edges"] == edges and 0 < c < edges
sys.exit(0 if ok else 1)
PY
}
cut_check "$WORK/rgg2.bin"
cut_check "$WORK/rgg3.bin"
cut_check "$WORK/sbm.bin"

# Issue 16 item 2: each run writes its own temp file OUT.tmp-PID beside OUT and renames it, so
# runs to the same output never share (and splice) a temp file: OUT is one run's complete file.
# Temp files of killed runs (PID not running) are removed; others' are left alone.
"$FLOTILLA" generate rmat --scale 17 --seed 1 -q --out "$WORK/ref1.bin" >/dev/null
"$FLOTILLA" generate rmat --scale 17 --seed 2 -q --out "$WORK/ref2.bin" >/dev/null
printf 'another run' >"$WORK/same.bin.tmp"            # the old shared name: not ours to touch
sleep 120 & alive=$!
printf 'running' >"$WORK/same.bin.tmp-$alive"         # a running process's temp file
(exit 0) & dead=$!; wait $dead                         # a PID that no longer runs
printf 'killed run' >"$WORK/same.bin.tmp-$dead"
for round in 1 2 3; do
  "$FLOTILLA" generate rmat --scale 17 --seed 1 -q --out "$WORK/same.bin" >/dev/null 2>"$WORK/c1.err" & p1=$!
  "$FLOTILLA" generate rmat --scale 17 --seed 2 -q --out "$WORK/same.bin" >/dev/null 2>"$WORK/c2.err" & p2=$!
  wait $p1 || { cat "$WORK/c1.err" >&2; fail "concurrent run 1 failed (round $round)"; }
  wait $p2 || { cat "$WORK/c2.err" >&2; fail "concurrent run 2 failed (round $round)"; }
  cmp -s "$WORK/same.bin" "$WORK/ref1.bin" || cmp -s "$WORK/same.bin" "$WORK/ref2.bin" ||
    fail "two runs writing the same --out produced a file equal to neither (round $round)"
  [[ $round != 1 ]] || cat "$WORK/c1.err" "$WORK/c2.err" >"$WORK/round1.err"
done
kill "$alive" 2>/dev/null; wait "$alive" 2>/dev/null || true
[[ "$(cat "$WORK/same.bin.tmp")" == "another run" ]] || fail "a run overwrote or moved same.bin.tmp"
[[ "$(cat "$WORK/same.bin.tmp-$alive")" == running ]] || fail "a run touched a running process's temp file"
[[ ! -e "$WORK/same.bin.tmp-$dead" ]] || fail "the killed run's temp file same.bin.tmp-$dead was not removed"
grep -q "removed stale temporary file .*same.bin.tmp-$dead (process $dead is not running)" "$WORK/round1.err" ||
  fail "removal of the stale temp file not reported: $(cat "$WORK/round1.err")"
leftover=$(cd "$WORK" && ls | grep -E '^same\.bin\.tmp-' | grep -vx "same.bin.tmp-$alive" || true)
[[ -z $leftover ]] || fail "temp files left behind: $leftover"
rm -f "$WORK"/same.bin* "$WORK"/ref[12].bin

# --threads 0 is a value, not "unset": refused naming the flag (exit 2), nothing written.
for g in "rmat --scale 5" "rgg --scale 5" "sbm --nodes 100 --features 0" ; do
  set +e
  msg=$("$FLOTILLA" generate $g --threads 0 --out "$WORK/t0.bin" 2>&1); c=$?
  set -e
  [[ $c == 2 ]] || fail "generate $g --threads 0: exit $c"
  grep -q -- "--threads must be in \[1, 1024\]" <<<"$msg" || fail "generate $g --threads 0: $msg"
  [[ ! -e $WORK/t0.bin ]] || fail "generate $g --threads 0 wrote a file"
done

echo "generate_test: all passed"
