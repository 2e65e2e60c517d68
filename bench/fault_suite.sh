#!/usr/bin/env bash
# Issue 16's fault suite: every case of items 1-10 (each sub-case) against the built
# binaries, one row per case: the input, the expected outcome, the exit code observed, the
# first line of the message, the seconds it took and PASS/FAIL. Exits 1 if any row fails.
# The regression tests behind each item are tests/cli/reliability_test.sh (1, 2),
# train_reliability_test.sh (3, 4, 5, 8, 10b, 10c), train_fault_test.sh (killed ranks),
# shard_mix_test.sh (6), train_stall_test.sh (9) and the unit tests; this script is the
# one-page report of the same cases (inputs built the same way, small: embedded Cora and
# METR-LA week, hand-made files), about 2 minutes on 2 cores. Column s: seconds the case took
# (9a: from the SIGSTOP to the end of the job).
# Usage: bench/fault_suite.sh [WORKDIR]   (FLOTILLA=path/to/flotilla, default build/cli/flotilla;
#        ONLY="6 9" runs only the rows whose case id starts with one of these)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fl="${FLOTILLA:-$root/build/cli/flotilla}"
work="${1:-$root/build/fault-suite}"
[ -x "$fl" ] || { echo "fault_suite: no executable $fl (build first, or set FLOTILLA=)" >&2; exit 2; }
rm -rf "$work" && mkdir -p "$work" && work="$(cd "$work" && pwd)"
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { timeout 120 mpirun --oversubscribe --allow-run-as-root -np "$@"; }
cora="$root/datasets/embedded/cora"
metr="$root/datasets/embedded/metr-la-week"
failed=0

# ---- the report ---------------------------------------------------------------------------------
# First line of a message: the first "flotilla ..." line of the output (under mpirun OpenMPI's
# boxes come after it), else the first non-empty line; paths relative to the work folder.
first_line() {
  { grep -m1 '^flotilla' "$1" || grep -m1 -v '^[[:space:]]*$' "$1" || true; } |
    sed "s#$work/##g; s#$root/##g; s/|/\\\\|/g" | cut -c1-220
}
row() {  # ID INPUT EXPECTED OK(0/1) EXIT SECONDS OUTPUT_FILE
  local result=PASS
  [ "$4" = 1 ] || { result=FAIL; failed=1; }
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$5" "$(first_line "$7")" "$6" "$result"
}
want() { [ -z "${ONLY:-}" ] && return 0; local x; for x in $ONLY; do [[ "$1" == "$x"* ]] && return 0; done; return 1; }
# case ID INPUT EXPECTED WANT_EXIT PATTERN -- COMMAND...: runs the command (output to a file),
# passes when the exit code is WANT_EXIT ("nonzero" = any but 0 and 124) and the output
# contains PATTERN (fixed string; empty = anything).
case_() {
  local id="$1" input="$2" expected="$3" want_exit="$4" pat="$5"; shift 6
  want "$id" || return 0
  local out="$work/out-$id.txt" start rc ok=1
  start=$(date +%s.%N)
  "$@" >"$out" 2>&1; rc=$?
  local took; took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
  [ -z "${TOOK_FILE:-}" ] || [ ! -s "$TOOK_FILE" ] || took=$(cat "$TOOK_FILE")
  if [ "$want_exit" = nonzero ]; then [ "$rc" != 0 ] && [ "$rc" != 124 ] || ok=0; else [ "$rc" = "$want_exit" ] || ok=0; fi
  [ -z "$pat" ] || grep -qF -- "$pat" "$out" || ok=0
  [ -z "${CHECK:-}" ] || eval "$CHECK" >>"$out" 2>&1 || ok=0
  row "$id" "$input" "$expected" "$ok" "$rc" "$took" "$out"
}

# ---- inputs --------------------------------------------------------------------------------------
"$fl" partition -i "$cora" -k 2 -o "$work/shards" -q >/dev/null || { echo "fault_suite: cannot partition Cora" >&2; exit 2; }
small=(--shards "$work/shards" --batch-size 256 --hidden 16 --fanouts 5,5 --max-steps 2 --threads 1 -q)
fc=(--task forecast --model dcrnn1 --hidden 8 --max-steps 2 --threads 1 -q)
metr_edit() {  # NAME AWK-PROGRAM on speed.csv
  mkdir -p "$work/$1" && cp "$metr"/* "$work/$1/" && awk -F, -v OFS=, "$2" "$metr/speed.csv" >"$work/$1/speed.csv"
}
cora_with_labels() {  # NAME AWK-PROGRAM on node-label.csv (NR-1 = node id): an OGB copy, partitioned
  mkdir -p "$work/$1/raw" && cp -r "$cora/split" "$work/$1/" && cp "$cora"/raw/* "$work/$1/raw/"
  rm "$work/$1/raw/node-label.csv.gz"
  zcat "$cora/raw/node-label.csv.gz" | awk "$2" >"$work/$1/raw/node-label.csv"
  "$fl" partition -i "$work/$1" -k 2 -o "$work/$1-shards" -q >/dev/null
}
json_is() {  # FILE PYTHON-EXPRESSION over s (the JSON object, or lines for .jsonl)
  /usr/bin/python3 -c 'import json,sys; f=sys.argv[1]
s=[json.loads(l) for l in open(f)] if f.endswith(".jsonl") else json.load(open(f))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

echo "| case | input | expected | exit | first line of the message | s | result |"
echo "|---|---|---|---|---|---|---|"

# ---- 1. values beyond float32 --------------------------------------------------------------------
metr_edit metr-inf 'NR == 6 { $4 = "1e39" } { print }'
case_ 1a "speed.csv cell 1e39 (forecast)" "exit 1, file:line and column" 1 "metr-inf/speed.csv:6: speed for sensor" -- \
  "$fl" train --data "$work/metr-inf" "${fc[@]}" --epochs 1 --out "$work/r1a"
mkdir -p "$work/metr-adj" && cp "$metr"/* "$work/metr-adj/"
awk -F, -v OFS=, 'NR == 3 { $3 = "1e39" } { print }' "$metr/adj.csv" >"$work/metr-adj/adj.csv" 2>/dev/null ||
  awk -F, -v OFS=, 'NR == 3 { $3 = "1e39" } { print }' "$metr/distances.csv" >"$work/metr-adj/distances.csv"
case_ 1b "sensor graph weight/distance 1e39" "exit 1, file:line and column" 1 ":3: " -- \
  "$fl" train --data "$work/metr-adj" "${fc[@]}" --epochs 1 --out "$work/r1b"
printf '0 1 1.5\n1 2 1e39\n2 0 1\n' >"$work/w1e39.txt"
case_ 1c "edge-list weight 1e39" "exit 1, file:line and column" 1 "w1e39.txt:2: edge weight '1e39' in column 3" -- \
  "$fl" info "$work/w1e39.txt"
mkdir -p "$work/feat-inf" && cp -r "$cora"/* "$work/feat-inf/" && rm "$work/feat-inf/raw/node-feat.csv.gz"
zcat "$cora/raw/node-feat.csv.gz" | awk -F, -v OFS=, 'NR == 3 { $2 = "1e39" } { print }' >"$work/feat-inf/raw/node-feat.csv"
case_ 1d "node-feat.csv value 1e39 (partition)" "exit 1, file:line and column" 1 "node-feat.csv:3:" -- \
  "$fl" partition -i "$work/feat-inf" -k 2 -o "$work/feat-inf-shards" -q

# ---- 2. unique temp names: two writers of one output ----------------------------------------------
"$fl" generate rmat --scale 16 --edge-factor 8 --seed 3 -q --out "$work/g.bin" >/dev/null
"$fl" convert "$work/g.bin" "$work/ref.txt" --to edgelist >/dev/null
two_writers() {  # KIND: two concurrent runs to one output; both exit 0, the output is one run's file
  if [ "$1" = convert ]; then
    "$fl" convert "$work/g.bin" "$work/c2.txt" --to edgelist & a=$!
    "$fl" convert "$work/g.bin" "$work/c2.txt" --to edgelist & b=$!
  else
    "$fl" generate rmat --scale 16 --edge-factor 8 --seed 3 -q --out "$work/g2.bin" & a=$!
    "$fl" generate rmat --scale 16 --edge-factor 8 --seed 3 -q --out "$work/g2.bin" & b=$!
  fi
  wait $a || return 1; wait $b || return 1
  if [ "$1" = convert ]; then cmp "$work/c2.txt" "$work/ref.txt"; else cmp "$work/g2.bin" "$work/g.bin"; fi || return 1
  ! ls "$work"/*.tmp-* 2>/dev/null
}
case_ 2a "two flotilla convert to one OUT at once" "both exit 0, OUT = one run's complete file" 0 "" -- two_writers convert
case_ 2b "two generate rmat to one OUT at once" "both exit 0, OUT = one run's complete file" 0 "" -- two_writers rmat

# ---- 3. run folders ----------------------------------------------------------------------------------
"$fl" train "${small[@]}" --epochs 1 --out "$work/run1" >/dev/null 2>&1
mkdir -p "$work/notes" && echo keep >"$work/notes/mine.txt"
case_ 3a "train --out an earlier run" "exit 1, refused: --overwrite/--resume" 1 "run1: holds an earlier run" -- \
  "$fl" train "${small[@]}" --epochs 1 --out "$work/run1"
case_ 3b "train --out a non-empty folder" "exit 1, refused naming a file" 1 "notes: is not empty (mine.txt)" -- \
  "$fl" train "${small[@]}" --epochs 1 --out "$work/notes"
CHECK='[ -f "$work/notes/mine.txt" ] && [ -f "$work/notes/summary.json" ]' \
case_ 3c "... with --overwrite" "exit 0, run files replaced, mine.txt kept" 0 "" -- \
  "$fl" train "${small[@]}" --epochs 1 --out "$work/notes" --overwrite
case_ 3d "mpirun -np 2 train --out an earlier run" "non-zero, one message" nonzero "holds an earlier run" -- \
  mpi 2 "$fl" train "${small[@]}" --epochs 1 --out "$work/run1"
"$fl" train --shards "$work/shards" --batch-size 16 --hidden 16 --epochs 1000 --threads 1 -q --out "$work/busy" >/dev/null 2>&1 &
busy=$!
for _ in $(seq 1 300); do [ -f "$work/busy/metrics.jsonl" ] && break; sleep 0.1; done
case_ 3e "a second job on a running job's folder (--overwrite)" "exit 1 at once, names the lock holder" 1 \
  "busy: run folder in use by another flotilla train job (pid $busy" -- \
  "$fl" train "${small[@]}" --epochs 1 --out "$work/busy" --overwrite
kill "$busy" 2>/dev/null; wait "$busy" 2>/dev/null

# ---- 4. zero is a value; ranges ------------------------------------------------------------------------
for f in "epochs 0|1 to 2147483647" "hidden 0|1 to 1048576" "lr 0|a finite number > 0" "batch-size 0|1 or more" \
         "weight-decay -1|a finite number >= 0"; do
  flag="${f%%|*}"; range="${f#*|}"; set -- $flag
  case_ "4-$1" "train --$flag" "exit 2, names the flag and range" 2 "--$1: $2 is out of range (valid: $range)" -- \
    "$fl" train "${small[@]}" --"$1" "$2" --out "$work/r4"
done
printf 'shards: %s\n# epochs\nepochs: 0\n' "$work/shards" >"$work/zero.yaml"
case_ 4-config "config file: epochs: 0 (line 3)" "exit 1, file:line and range" 1 "zero.yaml:3: epochs: 0 is out of range" -- \
  "$fl" train --config "$work/zero.yaml" --out "$work/r4"

# ---- 5. metrics over nothing are null -------------------------------------------------------------------
cora_with_labels novalid 'NR > 140 && NR <= 640 { print -1; next } { print }'
CHECK='json_is "$work/r5a/summary.json" "s[\"best_epoch\"] is None and s[\"best_valid_accuracy\"] is None" &&
       json_is "$work/r5a/metrics.jsonl" "all(l[\"valid_accuracy\"] is None for l in s)"' \
case_ 5a "nodeclass, no validation node labelled" "exit 0, valid_accuracy and best_epoch null" 0 "" -- \
  "$fl" train --shards "$work/novalid-shards" --batch-size 256 --hidden 16 --epochs 2 --threads 1 -q --out "$work/r5a"
metr_edit metr-zero 'NR >= 1409 && NR <= 1619 { for (i = 2; i <= NF; i++) $i = 0 } { print }'
CHECK='json_is "$work/r5b/summary.json" "s[\"best_epoch\"] is None and s[\"best_valid_mae\"] is None"' \
case_ 5b "forecast, every validation target 0 (masked)" "exit 0, valid_mae and best_epoch null" 0 "" -- \
  "$fl" train "${fc[@]}" --data "$work/metr-zero" --epochs 1 --out "$work/r5b"

# ---- 6. mixed shards ----------------------------------------------------------------------------------------
"$fl" partition -i "$cora" -k 2 --algo hash -o "$work/shards-b" -q >/dev/null
cp -r "$work/shards" "$work/mixed" && cp "$work/shards-b/part-1.shard" "$work/mixed/part-1.shard"
case_ 6a "part-1.shard of another run (same K) copied in" "exit 1, names both files" 1 \
  "mixed/part-1.shard: comes from another partition run than $work/mixed/part-0.shard" -- \
  "$fl" train "${small[@]/$work\/shards/$work/mixed}" --epochs 1 --out "$work/r6a"
case_ 6b "... under mpirun -np 4 (1 sampler, 1 loader)" "non-zero, names both files once" nonzero \
  "mixed/part-1.shard: comes from another partition run" -- \
  mpi 4 "$fl" train "${small[@]/$work\/shards/$work/mixed}" --samplers 1 --loaders 1 --epochs 1 --out "$work/r6b"
"$fl" partition -i "$cora" -k 3 -o "$work/shards-3" -q >/dev/null
cp -r "$work/shards" "$work/mixed3" && cp "$work/shards-3/part-2.shard" "$work/mixed3/"
case_ 6c "a stray part-2.shard of a 3-part run" "exit 1, names both files" 1 "mixed3/part-2.shard: comes from another partition run" -- \
  "$fl" train "${small[@]/$work\/shards/$work/mixed3}" --epochs 1 --out "$work/r6c"
case_ 6d "flotilla info on the mixed folder" "exit 1, names both files" 1 "mixed/part-1.shard: comes from another partition run" -- \
  "$fl" info "$work/mixed"

# ---- 7. METIS files: symmetric adjacency -----------------------------------------------------------------
printf '3 3\n2\n1 3\n1 2\n' >"$work/asym.graph"       # 1 lists 2 and 2 lists 1, 3 lists 1 but 1 not 3
printf '3 2 1\n2 3\n1 4 3 1\n2 1\n' >"$work/wasym.graph"  # edge 1-2 with weights 3 and 4
printf '3 2\n2 2\n1 3\n2\n' >"$work/rep.graph"
printf '3 1\n2 3\n1 3\n1 2\n' >"$work/m.graph"
case_ 7a "METIS: u lists v, v does not list u (partition)" "exit 1, first offending line" 1 "asym.graph:4: adjacency is not symmetric" -- \
  "$fl" partition -i "$work/asym.graph" -k 2 -o "$work/p7a" -q
case_ 7b "METIS: the two entries of an edge differ in weight" "exit 1, line and both weights" 1 "adjacency is not symmetric: vertex 1 lists neighbour 2 with edge weight 3" -- \
  "$fl" info "$work/wasym.graph"
case_ 7c "METIS: a neighbour listed twice" "exit 1, line" 1 "rep.graph:2: vertex 1 lists neighbour 2 more than once" -- \
  "$fl" convert "$work/rep.graph" "$work/rep.bin"
case_ 7d "METIS: asymmetric, partition --symmetrize" "exit 0, every entry an edge" 0 "" -- \
  "$fl" partition -i "$work/asym.graph" -k 2 -o "$work/p7d" --symmetrize -q
case_ 7e "METIS: asymmetric, info --symmetrize" "exit 0, 3 edges (1-2, 2-3, 3-1)" 0 "edges       3 undirected" -- \
  "$fl" info "$work/asym.graph" --symmetrize --no-components

# ---- 8. labels ---------------------------------------------------------------------------------------------
cora_with_labels huge 'NR == 6 { print 134217728; next } { print }'
case_ 8a "a label of 2^27 (node 5)" "exit 1 at load, names shard, row, range" 1 "label 134217728 is out of range" -- \
  "$fl" train --shards "$work/huge-shards" --epochs 1 --out "$work/r8a"
case_ 8b "... under mpirun -np 4 (1 sampler, 1 loader)" "non-zero, same message" nonzero "label 134217728 is out of range" -- \
  mpi 4 "$fl" train --shards "$work/huge-shards" --samplers 1 --loaders 1 --epochs 1 --out "$work/r8b"
cora_with_labels notrain 'NR <= 140 { print -1; next } { print }'
case_ 8c "every training node unlabeled" "exit 1, nothing to train on" 1 "none of the 140 training nodes has a label" -- \
  "$fl" train --shards "$work/notrain-shards" --epochs 1 --out "$work/r8c"
cora_with_labels sometrain 'NR <= 10 { print -1; next } { print }'
CHECK='json_is "$work/r8d/summary.json" "s[\"unlabeled_train_nodes\"] == 10"' \
case_ 8d "10 of 140 training nodes unlabeled" "exit 0, warning, counted in summary" 0 "warning: 10 of 140 training nodes" -- \
  "$fl" train --shards "$work/sometrain-shards" --batch-size 256 --hidden 16 --epochs 1 --threads 1 -q --out "$work/r8d"

# ---- 9. a stalled rank -----------------------------------------------------------------------------------------
# mpirun -np 4 (trainers 0-1, sampler rank 2, loader rank 3), --rank-timeout 5: once an epoch
# is done, SIGSTOP the sampler; the job must end non-zero within 20 s naming rank 2; then a
# --resume finishes.
stall() {
  local run="$work/r9" job pid r e0 t0 rc
  OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train \
    --shards "$work/shards" --samplers 1 --loaders 1 --batch-size 32 --hidden 16 --epochs 1000 --threads 1 -q \
    --rank-timeout 5 --out "$run" >"$work/stall.txt" 2>&1 &
  job=$!
  for _ in $(seq 1 600); do [ -s "$run/metrics.jsonl" ] && break; kill -0 $job 2>/dev/null || break; sleep 0.1; done
  pid=""
  for c in $(pgrep -P $job); do
    r=$(tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
    [ "$r" = 2 ] && pid=$c
  done
  if [ -z "$pid" ] || [ ! -s "$run/metrics.jsonl" ]; then
    kill $job 2>/dev/null; wait $job; cat "$work/stall.txt"; echo "no epoch finished, or no sampler process"; return 99
  fi
  t0=$(date +%s.%N)
  kill -STOP "$pid"
  for _ in $(seq 1 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  e0=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
  if kill -0 $job 2>/dev/null; then kill -CONT "$pid" 2>/dev/null; kill $job; fi
  wait $job; rc=$?
  kill -CONT "$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null
  cat "$work/stall.txt"
  echo "ended ${e0} s after SIGSTOP"
  echo "$e0" >"$work/stall-seconds"
  awk -v t="$e0" 'BEGIN{exit !(t <= 20)}' || return 98
  return $rc
}
TOOK_FILE="$work/stall-seconds" \
case_ 9a "SIGSTOP the sampler (rank 2) of mpirun -np 4, --rank-timeout 5" "non-zero within 20 s of the stop, names rank 2, its role and host" nonzero "rank 2 (sampler 0 on" -- stall
resume_after_stall() {
  local e; e=$(wc -l <"$work/r9/metrics.jsonl")
  mpi 4 "$fl" train --resume "$work/r9" --epochs $((e + 1))
}
case_ 9b "--resume the stalled run (one more epoch)" "exit 0" 0 "" -- resume_after_stall

# ---- 10. smaller ones ---------------------------------------------------------------------------------------------
printf '\xef\xbb\xbfsrc,dst\n0,1\n1,2\n' >"$work/bom.csv"
case_ 10a-1 "edge-list CSV starting with a UTF-8 BOM and a header" "exit 0, header recognised" 0 "nodes       3" -- \
  "$fl" info "$work/bom.csv"
printf '\xef\xbb\xbf0,x\n' >"$work/bom-bad.csv"
CHECK='! grep -q $'"'"'\xef\xbb\xbf'"'"' "$work/out-10a-2.txt"' \
case_ 10a-2 "BOM then a bad line" "exit 1, message without the invisible BOM" 1 "bom-bad.csv:1:" -- \
  "$fl" info "$work/bom-bad.csv"
mkdir -p "$work/short" && cp "$metr"/* "$work/short/" && head -6 "$metr/speed.csv" >"$work/short/speed.csv"
case_ 10b "speed.csv of 5 steps, --horizon 12" "exit 1, names the file and --horizon" 1 \
  "short/speed.csv: 5 steps are fewer than one window of 2 x --horizon 12" -- \
  "$fl" train "${fc[@]}" --data "$work/short" --out "$work/r10b"
printf 'shards: %s\nmodel: sagee\n' "$work/shards" >"$work/enum.yaml"
case_ 10c "config file: model: sagee (line 2)" "exit 1, file:line" 1 "enum.yaml:2: model: 'sagee' is not one of" -- \
  "$fl" train --config "$work/enum.yaml" --out "$work/r10c"
printf '3 2\n2\n1 3\n2\n' >"$work/tiny.graph"
case_ 10d "METIS --algo metis -k 2 on a 3-node path" "exit 0 with a warning about the imbalance" 0 "warning" -- \
  "$fl" partition -i "$work/tiny.graph" -k 2 --algo metis -o "$work/p10d"
case_ 10e-1 "METIS header m = 1, adjacency holds 3 edges" "exit 1, names both counts" 1 "m.graph:1: the header says m = 1 edges" -- \
  "$fl" info "$work/m.graph"
mkdir -p "$work/ogb-m" && cp -r "$cora"/* "$work/ogb-m/" && rm -f "$work/ogb-m/raw/num-edge-list.csv"*
echo 5 >"$work/ogb-m/raw/num-edge-list.csv"
case_ 10e-2 "OGB num-edge-list.csv says 5 edges" "exit 1, names both files" 1 "num-edge-list.csv says 5 edges" -- \
  "$fl" partition -i "$work/ogb-m" -k 2 -o "$work/p10e" -q
cp -r "$work/run1" "$work/run10f" && rm -f "$work/run10f/.flotilla.lock" && cp "$work/run10f/config.yaml" "$work/config-before.yaml"
CHECK='cmp "$work/run10f/config.yaml" "$work/config-before.yaml" && "$fl" train --resume "$work/run10f" --epochs 2 -q >/dev/null' \
case_ 10f "--resume with a changed --hidden (as docs/troubleshooting.md says)" "exit 1, config.yaml unchanged, plain --resume works" 1 \
  "has another shape" -- "$fl" train --resume "$work/run10f" --hidden 32 --epochs 2

echo
[ "$failed" = 0 ] && echo "fault_suite: every row passed" || echo "fault_suite: some rows FAILED"
exit "$failed"
