#!/usr/bin/env bash
# flotilla generate: help, flag errors, a small R-MAT run read back by `flotilla info --json`,
# and a small SBM folder. Kept to a few invocations: each pays the executable's start-up
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

echo "generate_test: all passed"
