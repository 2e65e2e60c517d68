#!/usr/bin/env bash
# Issue 16.9, stalled ranks: a rank stopped with SIGSTOP (not dead: mpirun sees nothing) ends
# the whole job within --rank-timeout plus a margin, non-zero, with one message naming the
# rank, its role and its host; --resume afterwards finishes with the same parameters as an
# uninterrupted run. mpirun -np 4: 2 trainers + 1 sampler + 1 loader on Cora.
#   default (about 25 s): --rank-timeout 3; the sampler stopped from outside (kill -STOP) after
#     a checkpoint, then resumed; --rank-timeout 0 refused naming the flag.
#   full (slow label): also the resumed run compared with an uninterrupted one (bit for bit),
#     the loader, trainer 1 (trainer 0 waits on it in the all-reduce)
#     and rank 0 itself (rank 1 reports) stopped by FLOTILLA_FAULT=ROLE:INDEX:N:stop, and the
#     default timeout of 60 s.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR CHECKPOINT_DIFF_BINARY [full]
set -euo pipefail
fl="$1"; data="$2"; work="$3"; diff_tool="$4"; mode="${5:-fast}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$work" && mkdir -p "$work"
work="$(cd "$work" && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export FLOTILLA_HOSTNAME=stallhost  # every rank: the host the message must name
"$fl" partition -i "$root/datasets/embedded/cora" -k 2 -o "$work/shards" -q >/dev/null
args=(--shards "$work/shards" --samplers 1 --loaders 1 --batch-size 32 --hidden 32 --threads 1 -q)

# Starts mpirun in the background (output to $work/out.txt); sets $job (mpirun's pid).
start() {
  mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train "$@" >"$work/out.txt" 2>&1 &
  job=$!
}
# Waits up to $1 s for the job; sets $rc (124: still running, then killed with every rank).
wait_job() {
  local deadline=$(( $(date +%s) + $1 ))
  while kill -0 "$job" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$job" 2>/dev/null; then
    for p in $(pgrep -P "$job" || true); do kill -9 "$p" 2>/dev/null || true; done
    kill -9 "$job" 2>/dev/null || true
    wait "$job" 2>/dev/null || true
    rc=124
    return
  fi
  set +e; wait "$job"; rc=$?; set -e
}
# The pid of MPI_COMM_WORLD rank $1 of the running job (a child of mpirun).
rank_pid() {
  for p in $(pgrep -P "$job" || true); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then echo "$p"; return; fi
  done
}
# Checks the job just waited for: ended within $1 s of $2 (the stop), non-zero, and printed
# the message naming $3 exactly once.
check_stall() {
  local limit="$1" stopped_at="$2" want="$3" took
  took=$(( $(date +%s) - stopped_at ))
  [ "$rc" != 124 ] || { cat "$work/out.txt"; fail "$want: job hung (killed by the test)"; }
  [ "$rc" != 0 ] || { cat "$work/out.txt"; fail "$want: job exited 0"; }
  [ "$took" -le "$limit" ] || { cat "$work/out.txt"; fail "$want: job took $took s after the stop (limit $limit)"; }
  grep -qF -- "flotilla train: $want stopped responding: no heartbeat for " "$work/out.txt" ||
    { cat "$work/out.txt"; fail "message does not name '$want'"; }
  [ "$(grep -c 'stopped responding' "$work/out.txt")" = 1 ] || { cat "$work/out.txt"; fail "$want: message not printed once"; }
  grep -qF -- "Continue from the last checkpoint with: flotilla train --resume" "$work/out.txt" ||
    { cat "$work/out.txt"; fail "$want: no resume hint"; }
  echo "$want: stopped, job ended in $took s, exit $rc"
}

# ---- flag ------------------------------------------------------------------------------------
set +e
"$fl" train "${args[@]}" --rank-timeout 0 --out "$work/zero" >"$work/out.txt" 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || { cat "$work/out.txt"; fail "--rank-timeout 0: exit $rc (want 2)"; }
grep -qF -- "--rank-timeout: 0 is out of range (valid: 1 to 604800 seconds" "$work/out.txt" || { cat "$work/out.txt"; fail "--rank-timeout 0 message"; }
"$fl" train --help | grep -q -- "--rank-timeout" || fail "--help does not list --rank-timeout"

# ---- the sampler stopped from outside after a checkpoint ---------------------------------------
# Many epochs, so that training is still running when the sampler stops; the resume asks for
# one more epoch than were done (with --resume, --epochs is the total to reach).
start "${args[@]}" --epochs 200 --rank-timeout 3 --out "$work/stalled"
deadline=$(( $(date +%s) + 240 ))
until [ "$(cat "$work/stalled/metrics.jsonl" 2>/dev/null | wc -l)" -ge 1 ]; do
  kill -0 "$job" 2>/dev/null || { cat "$work/out.txt"; fail "job ended before its first epoch"; }
  [ "$(date +%s)" -lt "$deadline" ] || { wait_job 0; fail "no epoch within 240 s"; }
  sleep 0.1
done
pid=$(rank_pid 2)
[ -n "$pid" ] || { wait_job 0; fail "no process for rank 2"; }
kill -STOP "$pid"
stopped_at=$(date +%s)
wait_job 60
check_stall 15 "$stopped_at" "rank 2 (sampler 0 on stallhost)"
# mpirun killed it too (a zombie until init reaps it counts as dead).
state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
case "$state" in ""|Z*) ;; *) kill -9 "$pid"; fail "the stopped sampler outlived the job (state $state)";; esac
grep -q "^rank-timeout: 3$" "$work/stalled/config.yaml" || fail "config.yaml does not keep rank-timeout"
done_epochs=$(wc -l < "$work/stalled/metrics.jsonl")
[ "$done_epochs" -ge 1 ] && [ "$done_epochs" -lt 200 ] || fail "stalled run has $done_epochs epochs"
target=$(( done_epochs + 1 ))
# The resume keeps --rank-timeout 3 (config.yaml): a healthy job never trips it.
timeout 300 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train --resume "$work/stalled" --epochs "$target" -q \
  >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; fail "resume after the stall failed"; }
[ "$(wc -l < "$work/stalled/metrics.jsonl")" = "$target" ] || fail "resumed run does not have $target epochs"
[ -f "$work/stalled/summary.json" ] || fail "resumed run wrote no summary.json"
echo "resume after the stall: $done_epochs + 1 epochs"

if [ "$mode" = full ]; then
  # ---- the resumed run equals an uninterrupted one ------------------------------------------------
  timeout 300 mpirun --oversubscribe --allow-run-as-root -np 4 "$fl" train "${args[@]}" --epochs "$target" \
    --out "$work/whole" >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; fail "uninterrupted run failed"; }
  "$diff_tool" "$work/whole/checkpoint.pt" "$work/stalled/checkpoint.pt" 0 || fail "resumed run differs from the uninterrupted one"
  # ---- every role, by fault injection (the rank stops itself at its N-th unit of work) ----------
  # spec | rank described in the message
  for case in "loader:0:12|rank 3 (loader 0 on stallhost)" "trainer:1:6|rank 1 (trainer 1 on stallhost)" \
              "trainer:0:6|rank 0 (trainer 0 on stallhost)" "sampler:0:7|rank 2 (sampler 0 on stallhost)"; do
    spec="${case%%|*}"; want="${case#*|}"
    FLOTILLA_FAULT="$spec:stop" start "${args[@]}" --epochs 4 --rank-timeout 3 --out "$work/run-${spec//:/-}"
    # The stop time: when the rank has printed it (polled every 0.1 s).
    deadline=$(( $(date +%s) + 120 ))
    until grep -q "FLOTILLA_FAULT" "$work/out.txt"; do
      kill -0 "$job" 2>/dev/null || { cat "$work/out.txt"; fail "$spec: job ended without the fault"; }
      [ "$(date +%s)" -lt "$deadline" ] || { wait_job 0; fail "$spec: fault not reached"; }
      sleep 0.1
    done
    stopped_at=$(date +%s)
    wait_job 60
    check_stall 15 "$stopped_at" "$want"
    if [ "$spec" = "trainer:0:6" ]; then grep -qF "(noticed by rank 1)" "$work/out.txt" || fail "rank 0 stall not reported by rank 1"; fi
  done
  # ---- the default timeout (60 s) ---------------------------------------------------------------
  FLOTILLA_FAULT="sampler:0:7:stop" start "${args[@]}" --epochs 4 --out "$work/default"
  until grep -q "FLOTILLA_FAULT" "$work/out.txt"; do kill -0 "$job" 2>/dev/null || fail "default: ended early"; sleep 0.1; done
  stopped_at=$(date +%s)
  wait_job 150
  check_stall 80 "$stopped_at" "rank 2 (sampler 0 on stallhost)"
  took=$(( $(date +%s) - stopped_at ))
  [ "$took" -ge 55 ] || fail "default timeout: ended after $took s (expected about 60)"
  grep -qF -- "(--rank-timeout 60)" "$work/out.txt" || fail "default timeout is not 60 s"
fi
echo "train_stall_test ($mode): all checks passed"
