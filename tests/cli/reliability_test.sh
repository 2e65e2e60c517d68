#!/usr/bin/env bash
# Reliability of flotilla's writers (issue #5): every tool that writes output is
#  1. killed (SIGKILL) mid-write: nothing that looks complete is left, an earlier complete
#     output survives, and a rerun succeeds (removing the stale staging folder);
#  2. starved of disk space (ENOSPC after N bytes, via the LD_PRELOAD shim
#     tests/tools/enospc_preload.c): it names the file and the errno message, exits 1, leaves
#     no output that looks complete and keeps what was already there;
#  3. given an unwritable output folder (EACCES / EROFS, via the shim: we run as root): it
#     fails naming the destination before reading its input (inputs here end in a bad line,
#     so an error about the input would show that the input was read first).
# The kill points are deterministic: the shim stops the process (SIGSTOP) when the bytes
# written under a prefix cross a threshold, then the test sends SIGKILL.
# Each fault and its outcome is printed as a "fault:" line.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR CHECKPOINT_DIFF_BINARY PRELOAD_LIBRARY
set -euo pipefail
fl="$1"; data="$2"; work="$3"; diff_tool="$4"; shim="$5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"  # the shim matches absolute path prefixes
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"  # sanitizer builds: the shim comes first

# Runs a command with the shim and the given VAR=value settings; sets $code and $err (stderr).
with_shim() {
  local envs=()
  while [[ "$1" == *=* ]]; do envs+=("$1"); shift; done
  set +e
  env LD_PRELOAD="$shim" "${envs[@]}" "$@" >"$work/stdout" 2>"$work/stderr"
  code=$?
  set -e
  err=$(cat "$work/stderr")
}
# What is left under a prefix, for the report and the checks.
left() { (cd "$work" && ls -d "$1"* 2>/dev/null | tr '\n' ' ') || true; }
report() { echo "fault: $1 -> exit $code; $(head -c 300 <<<"$err" | tr '\n' ' ' | sed 's/ *$//'); left: [$(left "$2")]"; }
# Asserts a failed run with an error message matching $1 (grep -E) that names a file under $2.
expect_failure() {
  [ "$code" = 1 ] || { echo "$err" >&2; fail "$3: exit $code, want 1"; }
  grep -qE -- "$1" <<<"$err" || fail "$3: no '$1' in: $err"
  grep -qF -- "$2" <<<"$err" || fail "$3: the error does not name $2: $err"
}

# Starts "$@" with the shim stopping it once more than $2 bytes went to files under $1, waits
# until it is stopped, SIGKILLs it. Sets $pid.
kill_mid_write() {
  local prefix="$1" after="$2"; shift 2
  env LD_PRELOAD="$shim" FLOTILLA_TEST_STOP_PREFIX="$prefix" FLOTILLA_TEST_STOP_AFTER="$after" "$@" \
    >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  local state="" i
  for i in $(seq 1 3000); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
    [ "$state" = T ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  if [ "$state" != T ]; then
    wait "$pid" || true
    cat "$work/stderr" >&2
    fail "$* never reached $after bytes under $prefix (state '$state')"
  fi
  kill -9 "$pid"
  set +e; wait "$pid" 2>/dev/null; code=$?; set -e
  [ "$code" = 137 ] || fail "killed run exited $code"
  err="SIGKILL after $after bytes under $(basename "$prefix")"
}

# ---- inputs ----------------------------------------------------------------------------------
"$fl" generate rmat --scale 15 --edge-factor 8 --seed 3 -q --out "$work/g.bin" >/dev/null
"$fl" convert "$work/g.bin" "$work/g.txt" --to edgelist >/dev/null
# The same graph with a bad last line: reading it fails only at its end.
cp "$work/g.txt" "$work/bad.txt" && echo "1 x" >>"$work/bad.txt"
cora="$root/datasets/embedded/cora"
metr="$root/datasets/embedded/metr-la-week"

# ---- 1. SIGKILL mid-write --------------------------------------------------------------------
# partition: killed while writing shards (1 MB into the staging folder) and before its first
# byte of output; then an ordinary run to the same folder succeeds and removes the leftovers.
for after in 1000000 0; do
  rm -rf "$work/p" "$work"/p.tmp-*
  kill_mid_write "$work/p.tmp-" "$after" "$fl" partition -i "$work/g.bin" -k 4 -a hash -o "$work/p" -q
  report "partition SIGKILL after $after bytes" p
  [ ! -e "$work/p" ] || fail "killed partition left $work/p"
  [ -d "$work/p.tmp-$pid" ] || fail "no staging folder p.tmp-$pid after the kill"
  [ ! -e "$work/p.tmp-$pid/partition.json" ] || fail "partition.json in the staging folder of a killed run"
  "$fl" partition -i "$work/g.bin" -k 4 -a hash -o "$work/p" -q >/dev/null 2>"$work/stderr" || fail "rerun after kill"
  grep -q "removed stale temporary folder .*p.tmp-$pid" "$work/stderr" || fail "rerun did not report removing p.tmp-$pid"
  [ -z "$(left p.tmp-)" ] || fail "staging folders left after the rerun: $(left p.tmp-)"
  [ -f "$work/p/partition.json" ] && [ -f "$work/p/part-3.shard" ] || fail "rerun output incomplete"
done
cp -r "$work/p" "$work/p-ref"

# generate rmat (OUT.tmp-PID, then rename): a killed run leaves the earlier complete file as it
# was; the rerun removes the killed run's temp file and produces the same bytes.
cp "$work/g.bin" "$work/g-ref.bin"
kill_mid_write "$work/g.bin" 200000 "$fl" generate rmat --scale 15 --edge-factor 8 --seed 3 -q --out "$work/g.bin"
report "generate rmat SIGKILL after 200000 bytes (earlier g.bin present)" g.bin
cmp -s "$work/g.bin" "$work/g-ref.bin" || fail "a killed rmat run changed the existing g.bin"
[ -f "$work/g.bin.tmp-$pid" ] || fail "no g.bin.tmp-$pid after the kill"
rm "$work/g.bin"
kill_mid_write "$work/g.bin" 200000 "$fl" generate rmat --scale 15 --edge-factor 8 --seed 3 -q --out "$work/g.bin"
report "generate rmat SIGKILL after 200000 bytes (no earlier output)" g.bin
[ ! -e "$work/g.bin" ] || fail "killed rmat run left g.bin"
"$fl" generate rmat --scale 15 --edge-factor 8 --seed 3 -q --out "$work/g.bin" >/dev/null 2>"$work/stderr" || fail "rmat rerun"
grep -q "removed stale temporary file .*g.bin.tmp-" "$work/stderr" || fail "rmat rerun did not report removing the stale temp files"
cmp -s "$work/g.bin" "$work/g-ref.bin" || fail "rmat rerun differs"
[ -z "$(left g.bin.tmp)" ] || fail "temp files left after the rerun: $(left g.bin.tmp)"

# generate sbm / traffic (OUT.tmp-PID folders).
gen_sbm=(generate sbm --nodes 20000 --classes 4 --features 16 --avg-degree 10 --threads 1 -q)
gen_traffic=(generate traffic --sensors 100 --steps 4000 --threads 1 -q)
for kind in sbm traffic; do
  if [ "$kind" = sbm ]; then args=("${gen_sbm[@]}"); else args=("${gen_traffic[@]}"); fi
  kill_mid_write "$work/$kind.tmp-" 100000 "$fl" "${args[@]}" --out "$work/$kind"
  report "generate $kind SIGKILL after 100000 bytes" "$kind"
  [ ! -e "$work/$kind" ] || fail "killed $kind run left $kind"
  [ -d "$work/$kind.tmp-$pid" ] || fail "no $kind.tmp-$pid after the kill"
  "$fl" "${args[@]}" --out "$work/$kind" >/dev/null 2>"$work/stderr" || fail "$kind rerun"
  grep -q "removed stale temporary folder .*$kind.tmp-$pid" "$work/stderr" || fail "$kind rerun did not remove $kind.tmp-$pid"
  [ -z "$(left "$kind.tmp-")" ] || fail "$kind staging folders left: $(left "$kind.tmp-")"
  "$fl" info "$work/$kind" >/dev/null || fail "$kind rerun output unreadable"
done

# convert to each format: an earlier output survives a killed run; the rerun matches it.
for to in binary edgelist metis; do
  "$fl" convert "$work/g.bin" "$work/c.$to" --to "$to" >/dev/null
  cp "$work/c.$to" "$work/c-ref.$to"
  kill_mid_write "$work/c.$to" 100000 "$fl" convert "$work/g.bin" "$work/c.$to" --to "$to"
  report "convert --to $to SIGKILL after 100000 bytes (earlier output present)" "c.$to"
  cmp -s "$work/c.$to" "$work/c-ref.$to" || fail "a killed convert changed the existing c.$to"
  "$fl" convert "$work/g.bin" "$work/c.$to" --to "$to" >/dev/null || fail "convert rerun"
  cmp -s "$work/c.$to" "$work/c-ref.$to" || fail "convert --to $to rerun differs"
  [ -z "$(left "c.$to.tmp")" ] || fail "temp files left after the rerun: $(left "c.$to.tmp")"
done

# ---- 2. disk full ----------------------------------------------------------------------------
enospc="No space left on device"
for after in 0 300000; do
  with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$work/q" FLOTILLA_TEST_ENOSPC_AFTER=$after \
    "$fl" partition -i "$work/g.bin" -k 4 -a hash -o "$work/q" -q
  report "partition ENOSPC after $after bytes" q
  expect_failure "$enospc" "$work/q.tmp-" "partition ENOSPC $after"
  [ -z "$(left q)" ] || fail "partition ENOSPC left $(left q)"
done
with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$work/g.bin" FLOTILLA_TEST_ENOSPC_AFTER=100000 \
  "$fl" generate rmat --scale 15 --edge-factor 8 --seed 4 -q --out "$work/g.bin"
report "generate rmat ENOSPC after 100000 bytes (earlier g.bin present)" g.bin
expect_failure "$enospc" "$work/g.bin.tmp" "rmat ENOSPC"
cmp -s "$work/g.bin" "$work/g-ref.bin" || fail "rmat ENOSPC changed the existing g.bin"
[ -z "$(left g.bin.tmp)" ] || fail "rmat ENOSPC left $(left g.bin.tmp)"
for kind in sbm traffic; do
  if [ "$kind" = sbm ]; then args=("${gen_sbm[@]}"); else args=("${gen_traffic[@]}"); fi
  for after in 0 50000; do
    with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$work/$kind-full" FLOTILLA_TEST_ENOSPC_AFTER=$after \
      "$fl" "${args[@]}" --out "$work/$kind-full"
    report "generate $kind ENOSPC after $after bytes" "$kind-full"
    expect_failure "$enospc" "$work/$kind-full.tmp-" "$kind ENOSPC $after"
    [ -z "$(left "$kind-full")" ] || fail "$kind ENOSPC left $(left "$kind-full")"
  done
done
for to in binary edgelist metis; do
  with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$work/c.$to" FLOTILLA_TEST_ENOSPC_AFTER=50000 \
    "$fl" convert "$work/g.bin" "$work/c.$to" --to "$to"
  report "convert --to $to ENOSPC after 50000 bytes (earlier output present)" "c.$to"
  expect_failure "$enospc" "$work/c.$to.tmp" "convert $to ENOSPC"
  cmp -s "$work/c.$to" "$work/c-ref.$to" || fail "convert ENOSPC changed the existing c.$to"
  [ -z "$(left "c.$to.tmp")" ] || fail "convert ENOSPC left $(left "c.$to.tmp")"
done

# ---- 3. unwritable output folder ---------------------------------------------------------------
mkdir -p "$work/ro"
for errno_name in EACCES EROFS; do
  [ "$errno_name" = EACCES ] && msg="Permission denied" || msg="Read-only file system"
  deny=(FLOTILLA_TEST_DENY_PREFIX="$work/ro" FLOTILLA_TEST_DENY_ERRNO=$errno_name)
  with_shim "${deny[@]}" "$fl" partition -i "$work/bad.txt" -k 2 -o "$work/ro/p"
  report "partition into an unwritable folder ($errno_name), input bad at its last line" ro/
  expect_failure "$msg" "$work/ro/p" "partition $errno_name"
  grep -q "bad.txt" <<<"$err" && fail "partition read its input before checking the output: $err"
  with_shim "${deny[@]}" "$fl" convert "$work/bad.txt" "$work/ro/c.graph" --to metis
  report "convert into an unwritable folder ($errno_name), input bad at its last line" ro/
  expect_failure "$msg" "$work/ro/c.graph" "convert $errno_name"
  grep -q "bad.txt" <<<"$err" && fail "convert read its input before checking the output: $err"
  with_shim "${deny[@]}" "$fl" generate rmat --scale 15 -q --out "$work/ro/g.bin"
  report "generate rmat into an unwritable folder ($errno_name)" ro/
  expect_failure "$msg" "$work/ro/g.bin" "rmat $errno_name"
  for kind in sbm traffic; do
    if [ "$kind" = sbm ]; then args=("${gen_sbm[@]}"); else args=("${gen_traffic[@]}"); fi
    with_shim "${deny[@]}" "$fl" "${args[@]}" --out "$work/ro/$kind"
    report "generate $kind into an unwritable folder ($errno_name)" ro/
    expect_failure "$msg" "$work/ro/$kind" "$kind $errno_name"
  done
  [ -z "$(ls -A "$work/ro")" ] || fail "something was written into the unwritable folder: $(ls -A "$work/ro")"
done

# ---- 4. training: checkpoint writes ------------------------------------------------------------
"$fl" partition -i "$cora" -k 2 -o "$work/shards" -q >/dev/null
opts=(--batch-size 256 --hidden 16 --fanouts 5,5 -q)
small=(--shards "$work/shards" "${opts[@]}")
run="$work/run"
"$fl" train "${small[@]}" --epochs 2 --out "$run" >/dev/null || fail "training run"
cp "$run/checkpoint.pt" "$work/ck-epoch1.pt"
# Disk full while writing checkpoint.pt of the resumed run's first epoch.
with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$run/checkpoint.pt" FLOTILLA_TEST_ENOSPC_AFTER=1000 \
  "$fl" train --resume "$run" --epochs 3
report "train --resume: checkpoint.pt write ENOSPC after 1000 bytes" run/checkpoint
expect_failure "$enospc" "$run/checkpoint.pt.tmp-" "train checkpoint ENOSPC"
cmp -s "$run/checkpoint.pt" "$work/ck-epoch1.pt" || fail "the earlier checkpoint.pt changed"
"$diff_tool" "$work/ck-epoch1.pt" "$run/checkpoint.pt" 0 >/dev/null || fail "the earlier checkpoint.pt is not loadable"
[ -z "$(left run/checkpoint.pt.tmp)" ] || fail "temp checkpoint left: $(left run/checkpoint.pt.tmp)"
# The whole run folder full: the first write (config.yaml) fails; nothing is lost.
with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$run/" FLOTILLA_TEST_ENOSPC_AFTER=0 "$fl" train --resume "$run" --epochs 3
report "train --resume: run folder ENOSPC after 0 bytes" run/
expect_failure "$enospc" "$run/" "train folder ENOSPC"
cmp -s "$run/checkpoint.pt" "$work/ck-epoch1.pt" || fail "the earlier checkpoint.pt changed"
# Resuming afterwards works.
"$fl" train --resume "$run" --epochs 3 >/dev/null || fail "resume after the disk-full runs"
[ "$(wc -l <"$run/metrics.jsonl")" = 3 ] || fail "resumed run: metrics.jsonl should have 3 epochs"
# Disk full while writing best_model.pt (on a validation improvement).
cp "$run/best_model.pt" "$work/best-before.pt"
with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$run/best_model.pt" FLOTILLA_TEST_ENOSPC_AFTER=1000 \
  "$fl" train --resume "$run" --epochs 6
report "train --resume: best_model.pt write ENOSPC after 1000 bytes" run/best_model
if [ "$code" != 0 ]; then  # 0: no validation improvement, best_model.pt not written
  expect_failure "$enospc" "$run/best_model.pt" "train best_model ENOSPC"
  [ -z "$(left run/best_model.pt.tmp)" ] || fail "temp best model left: $(left run/best_model.pt.tmp)"
fi
cmp -s "$run/best_model.pt" "$work/best-before.pt" || [ "$code" = 0 ] || fail "the earlier best_model.pt changed"

# Forecasting: the same for its checkpoint.
fc="$work/fc"
fcopts=(--task forecast --model dcrnn1 --hidden 8 --eval false -q)
fcargs=(--data "$metr" "${fcopts[@]}")
"$fl" train "${fcargs[@]}" --epochs 1 --max-steps 2 --out "$fc" >/dev/null || fail "forecast run"
cp "$fc/checkpoint.pt" "$work/fc-epoch0.pt"
with_shim FLOTILLA_TEST_ENOSPC_PREFIX="$fc/checkpoint.pt" FLOTILLA_TEST_ENOSPC_AFTER=1000 \
  "$fl" train --resume "$fc" --epochs 2 --max-steps 2
report "forecast --resume: checkpoint.pt write ENOSPC after 1000 bytes" fc/checkpoint
expect_failure "$enospc" "$fc/checkpoint.pt.tmp-" "forecast checkpoint ENOSPC"
cmp -s "$fc/checkpoint.pt" "$work/fc-epoch0.pt" || fail "the earlier forecast checkpoint.pt changed"
"$diff_tool" "$work/fc-epoch0.pt" "$fc/checkpoint.pt" 0 >/dev/null || fail "the earlier forecast checkpoint is not loadable"
[ -z "$(left fc/checkpoint.pt.tmp)" ] || fail "temp checkpoint left: $(left fc/checkpoint.pt.tmp)"

# Unwritable --out: the run fails naming it, before loading the data: the shards' payloads
# (read only when training starts) and the traffic signal's last row are corrupt here.
cp -r "$work/shards" "$work/shards-bad"
printf '\x55' | dd of="$work/shards-bad/part-1.shard" bs=1 seek=4000 conv=notrunc status=none
with_shim FLOTILLA_TEST_DENY_PREFIX="$work/ro" "$fl" train --shards "$work/shards-bad" "${opts[@]}" --epochs 1 --out "$work/ro/run"
report "train --out in an unwritable folder (shards with a corrupt payload)" ro/
expect_failure "Permission denied" "$work/ro/run" "train unwritable out"
grep -q "part-1.shard" <<<"$err" && fail "train read the shards before checking --out: $err"
mkdir -p "$work/metr-bad" && cp "$metr"/* "$work/metr-bad/" && echo "2012-03-08 00:00:00$(printf ',x%.0s' $(seq 1 207))" >>"$work/metr-bad/speed.csv"
with_shim FLOTILLA_TEST_DENY_PREFIX="$work/ro" "$fl" train --data "$work/metr-bad" "${fcopts[@]}" --epochs 1 --max-steps 2 --out "$work/ro/fc"
report "forecast --out in an unwritable folder (speed.csv bad at its last line)" ro/
[ "$code" = 1 ] || fail "forecast unwritable out: exit $code"
expect_failure "Permission denied" "$work/ro/fc" "forecast unwritable out"
grep -q "speed.csv" <<<"$err" && fail "forecast read --data before checking --out: $err"
[ -z "$(ls -A "$work/ro")" ] || fail "something was written into the unwritable folder: $(ls -A "$work/ro")"

# Issue 16 item 1: a speed of 1e39 (a finite double, inf as float32) used to train with every
# MAE 0 and exit 0; now the run fails at load naming file, row (line) and column.
mkdir -p "$work/metr-inf" && cp "$metr"/* "$work/metr-inf/"
awk -F, -v OFS=, 'NR == 6 { $4 = "1e39" } { print }' "$metr/speed.csv" >"$work/metr-inf/speed.csv"
set +e
err=$("$fl" train --data "$work/metr-inf" "${fcopts[@]}" --epochs 1 --max-steps 2 --out "$work/fc-inf" 2>&1); code=$?
set -e
report "forecast with a speed of 1e39 (beyond float32)" fc-inf
[ "$code" = 1 ] || fail "speed 1e39: exit $code ($err)"
grep -q "metr-inf/speed.csv:6: speed for sensor .* is '1e39' (column 4), beyond the float32 range" <<<"$err" ||
  fail "speed 1e39: $err"

echo "reliability: all faults handled"
