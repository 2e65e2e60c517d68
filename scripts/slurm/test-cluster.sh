#!/usr/bin/env bash
# Runs every template of scripts/slurm/ for real, under a throw-away Slurm cluster started
# here: munged, slurmctld and two slurmd ("node01", "node02", both on this machine) from
# Debian's packages, configured in a temporary folder, run as the current user, and torn
# down at exit. Nothing outside its two temporary folders (WORK_DIR, default
# /tmp/flotilla-slurm.*, and /tmp/fslurm.* for sockets and spool) is written: no /etc, no
# systemd, no cgroups. Tested as root in a Debian 12 container.
#
#   apt-get install --no-install-recommends slurmctld slurmd slurm-client munge   # or: FLOTILLA_SLURM=1 bash scripts/install-deps.sh
#   bash scripts/slurm/test-cluster.sh [FLOTILLA] [SHARED_DATA_DIR (unused)] [WORK_DIR]
#
# FLOTILLA defaults to build/cli/flotilla (flotilla-train beside it). The jobs are the
# templates themselves, submitted with `sbatch --wait` in their own #SBATCH shape (2 nodes;
# the heterogeneous one 1 + 1 node) on the embedded data; each job's exit code and run folder
# are checked. Then: a job whose rank is killed must fail and name the rank, and a job
# requeued mid-run must continue from its checkpoint. Exit 77 (CTest: skipped) when the
# Slurm binaries are not installed. Every wait has a timeout; a failure prints what failed
# and the tail of the daemons' logs. KEEP=1 keeps the work folder (and prints its path).
#
# How two nodes live on one machine: each slurmd gets its own port, spool folder and
# slurm.conf (they differ only in TmpFS, where the PMIx plugin puts its per-step folder,
# which would otherwise collide), and a TaskProlog exports FLOTILLA_HOSTNAME=<node> into
# every task so Flotilla sees two hosts (docs/cluster.md). OpenMPI talks TCP over loopback
# (OMPI_MCA_btl=self,tcp): two "nodes" on one machine would share its /dev/shm segments.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
slurm_dir="$root/scripts/slurm"
fl="${1:-$root/build/cli/flotilla}"
work="${3:-}"
JOB_TIMEOUT="${FLOTILLA_SLURM_JOB_TIMEOUT:-300}"    # seconds any one job may take here
DAEMON_TIMEOUT="${FLOTILLA_SLURM_DAEMON_TIMEOUT:-30}"
export PATH="$PATH:/usr/sbin:/sbin"

# ---- skip when Slurm is not installed ---------------------------------------------------------
missing=()
for b in munged slurmctld slurmd sbatch srun scontrol squeue sinfo scancel; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIPPED: Slurm is not installed (no ${missing[*]})." \
       "Install: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge" \
       "(or FLOTILLA_SLURM=1 bash scripts/install-deps.sh)"
  exit 77
fi
[ -x "$fl" ] && [ -x "$(dirname "$fl")/flotilla-train" ] ||
  { echo "test-cluster: no $fl with flotilla-train beside it (build: scripts/build.sh)" >&2; exit 1; }
fl="$(cd "$(dirname "$fl")" && pwd)/$(basename "$fl")"

if [ -z "$work" ]; then work="$(mktemp -d "${TMPDIR:-/tmp}/flotilla-slurm.XXXXXX")"; else rm -rf "$work"; mkdir -p "$work"; fi
work="$(cd "$work" && pwd)"
# Paths go into slurm.conf, which does not quote: no spaces.
case "$work" in *[[:space:]]*) echo "test-cluster: work folder '$work' contains spaces" >&2; exit 1 ;; esac
user="$(id -un)"
ctl_host="$(hostname -s)"
nodes=(node01 node02)
conf="$work/etc/ctl/slurm.conf"
log="$work/log"
# Sockets (munge, PMIx) live under a short folder of their own: a socket path has at most 107
# characters, and WORK_DIR may be deep in a build tree.
rt="$(mktemp -d /tmp/fslurm.XXXXXX)"
mkdir -p "$work"/{log,jobs,etc/ctl} "$rt"/{munge,state,spool,tmp} && chmod 700 "$rt/munge"
unset SLURM_JOB_ID SLURM_JOBID SLURM_CONF FLOTILLA_HOSTNAME
pids=()            # daemons started here (killed at exit, by PID)
started=$(date +%s)

# ---- teardown and failure reports ---------------------------------------------------------------
logs_tail() {
  local f
  for f in "$log"/slurmctld.log "$log"/slurmd-*.log "$log"/munged.log; do
    [ -f "$f" ] && { echo "---- tail of $f"; tail -n 25 "$f"; }
  done
}
fail() {
  echo "FAIL: $*" >&2
  [ -n "${SLURM_CONF:-}" ] && { echo "---- squeue"; timeout 5 squeue 2>&1; } >&2
  logs_tail >&2
  exit 1
}
# Processes of this cluster that outlive their daemon: slurmstepd (started by our slurmd, so
# it carries FLOTILLA_TEST_CLUSTER) and the ranks of our jobs (SLURM_CONF=our file and a job id).
our_leftovers() {
  local p env
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = $$ ] && continue
    env="$({ tr '\0' '\n' < "$p/environ"; } 2>/dev/null)" || continue
    if grep -qx "FLOTILLA_TEST_CLUSTER=$work" <<<"$env" ||
       { grep -qx "SLURM_CONF=$conf" <<<"$env" && grep -q '^SLURM_JOB_ID=' <<<"$env"; }; then
      echo "${p#/proc/}"
    fi
  done
}
cleanup() {
  local rc=$? p i
  set +e
  trap - EXIT INT TERM
  if [ -n "${SLURM_CONF:-}" ]; then
    timeout 10 scancel --user="$user" >/dev/null 2>&1
    for i in $(seq 10); do [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break; sleep 1; done
  fi
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for i in $(seq 20); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.5
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in $(our_leftovers); do kill -9 "$p" 2>/dev/null; done
  rm -rf "$rt"
  if [ "$rc" = 0 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "test-cluster: work folder kept: $work" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.5 s.
wait_for() {
  local secs="$1" what="$2" end; shift 2
  end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "$what: not within ${secs} s"
    sleep 0.5
  done
}
free_port() {  # a TCP port nobody listens on, with the next one free too
  local p i
  for i in $(seq 50); do
    p=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$((p + 2))") 2>/dev/null && continue
    echo "$p"; return 0
  done
  return 1
}

# ---- the cluster ----------------------------------------------------------------------------------
echo "== Slurm test cluster on this machine: controller $ctl_host, nodes ${nodes[*]}; work folder $work"
dd if=/dev/urandom of="$rt/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$rt/munge/munge.key"
sock="$rt/munge/munge.socket"
# -f: munged refuses some setups (root, group-writable folders) without it.
env FLOTILLA_TEST_CLUSTER="$work" munged -F -f --key-file="$rt/munge/munge.key" --socket="$sock" \
  --pid-file="$rt/munge/munged.pid" --log-file="$log/munged.log" --seed-file="$rt/munge/seed" \
  >"$log/munged.out" 2>&1 &
pids+=($!)
wait_for "$DAEMON_TIMEOUT" "munged did not answer on $sock" bash -c "munge -n -S '$sock' | unmunge -S '$sock'"

port=$(free_port) || fail "no free TCP port for slurmctld"
cat > "$work/etc/task-prolog.sh" <<'EOF'
#!/bin/sh
# Runs before every task; "export" lines go into the task's environment. Both nodes are this
# machine, so tell Flotilla which one a task is on (docs/cluster.md, FLOTILLA_HOSTNAME).
echo "export FLOTILLA_HOSTNAME=$SLURMD_NODENAME"
EOF
chmod +x "$work/etc/task-prolog.sh"
: > "$work/etc/plugstack.conf"
# slurm.conf for DIR (ctl or a node name): identical but for TmpFS (see the header).
write_conf() {
  local tmpfs="$rt/tmp/$1" i n
  mkdir -p "$tmpfs" "$(dirname "$work/etc/$1/slurm.conf")"
  {
    cat <<EOF
ClusterName=flotilla-test
SlurmctldHost=$ctl_host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$sock,cred_expire=10
StateSaveLocation=$rt/state
SlurmdSpoolDir=$rt/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd-%n.pid
SlurmctldLogFile=$log/slurmctld.log
SlurmdLogFile=$log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog=$work/etc/task-prolog.sh
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
PlugStackConfig=$work/etc/plugstack.conf
SlurmdParameters=config_overrides
DebugFlags=NO_CONF_HASH
ReturnToService=2
MailProg=/bin/true
MinJobAge=3600
InactiveLimit=0
KillWait=5
TmpFS=$tmpfs
EOF
    i=0
    for n in "${nodes[@]}"; do
      i=$((i + 1))
      echo "NodeName=$n NodeHostname=$n NodeAddr=127.0.0.1 Port=$((port + i)) CPUs=16 RealMemory=16384 State=UNKNOWN"
    done
    echo "PartitionName=test Nodes=ALL Default=YES MaxTime=30 State=UP"
  } > "$work/etc/$1/slurm.conf"
}
write_conf ctl
for n in "${nodes[@]}"; do write_conf "$n"; mkdir -p "$rt/spool/$n"; done

export SLURM_CONF="$conf"
env FLOTILLA_TEST_CLUSTER="$work" slurmctld -D -i -f "$conf" >"$log/slurmctld.out" 2>&1 &
pids+=($!)
for n in "${nodes[@]}"; do
  env FLOTILLA_TEST_CLUSTER="$work" SLURM_CONF="$work/etc/$n/slurm.conf" \
    slurmd -D -f "$work/etc/$n/slurm.conf" -N "$n" >"$log/slurmd-$n.out" 2>&1 &
  pids+=($!)
done
nodes_idle() { [ "$(timeout 5 sinfo -h -N -t idle -o %N | sort -u | wc -l)" = "${#nodes[@]}" ]; }
wait_for "$DAEMON_TIMEOUT" "slurmctld and slurmd did not bring ${nodes[*]} up (idle)" nodes_idle
echo "$(sinfo --version) up in $(( $(date +%s) - started )) s: $(sinfo -h -o '%P %D nodes %T' | tr '\n' ' ')"
echo "srun --mpi=list: $(srun --mpi=list 2>&1 | tr -s '\n\t ' ' ')"

# ---- environment of every job (sbatch exports the submitting shell's environment) -------------
export FLOTILLA="$fl"
export THREADS=1                                      # 2 real cores under 6-10 ranks
export OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
cora="$root/datasets/embedded/cora"
traffic="$root/datasets/embedded/metr-la-week"
shards="$work/shards"
summary=()
note() { summary+=("$1"); echo "ok: $1"; }

# Jobs are given as NAME TEMPLATE [VAR=value...] [-- sbatch options...]; the variables go into
# sbatch's environment, which it exports to the job (the templates read them).
split_args() {
  job_env=(); job_opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do job_env+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  job_opts=("$@")
}
# submit_bg NAME TEMPLATE ...: `sbatch --wait` in the background (with the timeout); sets $jid
# once Slurm has it, and $bg_pid; sbatch_rc NAME waits for it and sets $rc to its exit code.
bg_pids=()
submit_bg() {
  local name="$1" tpl="$2"; shift 2
  split_args "$@"
  rm -f "$work/jobs/$name.rc"
  ( set +e
    env "${job_env[@]}" timeout "$JOB_TIMEOUT" sbatch --wait --parsable --job-name="ft-$name" --time=10 --chdir="$work/jobs" \
      --output="$work/jobs/$name.out" "${job_opts[@]}" "$slurm_dir/$tpl" >"$work/jobs/$name.id" 2>"$work/jobs/$name.sbatch.err"
    echo $? > "$work/jobs/$name.rc" ) &
  bg_pid=$!
  bg_pids+=("$bg_pid")
  wait_for 30 "sbatch $tpl ($name) gave no job id ($(cat "$work/jobs/$name.sbatch.err" 2>/dev/null))" test -s "$work/jobs/$name.id"
  jid="$(cut -d';' -f1 "$work/jobs/$name.id" | head -1)"
}
sbatch_rc() {
  wait "$bg_pid" 2>/dev/null || true
  [ -f "$work/jobs/$1.rc" ] || fail "no exit code from sbatch --wait of $1"
  rc="$(cat "$work/jobs/$1.rc")"
  [ "$rc" != 124 ] || fail "sbatch --wait of $1 (job $jid) did not return within $JOB_TIMEOUT s"
}
job_field() { timeout 10 scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
job_done() { case "$(job_field "$1" JobState)" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0 ;; *) return 1 ;; esac; }
# run_job NAME TEMPLATE [sbatch options]: sbatch --wait with a timeout; sets $jid and $jrc.
run_job() {
  local name="$1" tpl="$2" t0; shift 2
  split_args "$@"
  t0=$(date +%s)
  set +e
  env "${job_env[@]}" timeout "$JOB_TIMEOUT" sbatch --wait --parsable --job-name="ft-$name" --time=10 \
    --chdir="$work/jobs" --output="$work/jobs/$name.out" "${job_opts[@]}" "$slurm_dir/$tpl" >"$work/jobs/$name.id" 2>"$work/jobs/$name.sbatch.err"
  jrc=$?
  set -e
  jid="$(cut -d';' -f1 "$work/jobs/$name.id" | head -1)"
  if [ "$jrc" = 124 ]; then
    [ -n "$jid" ] && { timeout 10 scontrol show job "$jid" >&2; timeout 10 scancel "$jid"; }
    cat "$work/jobs/$name.out" >&2 2>/dev/null
    fail "job $name ($tpl, job ${jid:-?}) did not end within $JOB_TIMEOUT s"
  fi
  [ -n "$jid" ] || { cat "$work/jobs/$name.sbatch.err" >&2; fail "sbatch $tpl ($name) was refused"; }
  jsecs=$(( $(date +%s) - t0 ))
}
expect_ok() {  # name: the last run_job ended with exit 0
  [ "$jrc" = 0 ] || { cat "$work/jobs/$1.out" "$work/jobs/$1.sbatch.err" >&2; timeout 10 scontrol show job "$jid" >&2; fail "job $1 (job $jid) exited $jrc"; }
  [ "$(job_field "$jid" JobState)" = COMPLETED ] || fail "job $1 (job $jid): state $(job_field "$jid" JobState)"
}
out_has() {  # name, fixed string
  grep -qF -- "$2" "$work/jobs/$1.out" || { cat "$work/jobs/$1.out" >&2; fail "job $1: no '$2' in its output"; }
}
metrics_lines() { [ -f "$1/metrics.jsonl" ] && wc -l < "$1/metrics.jsonl" || echo 0; }

# ---- (a) partition.sbatch: the shards every node-classification job trains on ----------------
run_job partition partition.sbatch INPUT="$cora" PARTS=2 OUT="$shards"
expect_ok partition
[ -f "$shards/part-0.shard" ] && [ -f "$shards/part-1.shard" ] && grep -q '"num_parts":2' "$shards/partition.json" ||
  fail "partition.sbatch (job $jid) wrote no shards to $shards"
note "partition.sbatch        job $jid  exit 0  ${jsecs}s  cora -> 2 shards"

# Plan rows without the device column: "rank role index host local partitions/home".
plan_rows() { awk '$1 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { $6 = ""; $0 = $0; $1 = $1; print }' "$1"; }
expect_plan() {  # job name, expected rows
  local got; got="$(plan_rows "$work/jobs/$1.out")"
  [ "$got" = "$2" ] || { printf 'got:\n%s\nwant:\n%s\n' "$got" "$2" >&2; cat "$work/jobs/$1.out" >&2; fail "plan of job $1"; }
}

# ---- (b) train-nodeclass.sbatch in its #SBATCH shape, 2 nodes x 3 ranks --------------------------
test_nodeclass() {
# The plan: block distribution (ranks 0-2 on node01), one trainer, sampler, loader per node.
run_job nodeclass-plan train-nodeclass.sbatch SHARDS="$shards" OUT="$work/runs/never" DRY_RUN=1
expect_ok nodeclass-plan
expect_plan nodeclass-plan "0 trainer 0 node01 0 home sampler: rank 1
1 sampler 0 node01 1 0
2 loader 0 node01 2 0
3 trainer 1 node02 0 home sampler: rank 4
4 sampler 1 node02 1 1
5 loader 1 node02 2 1"
[ ! -e "$work/runs/never" ] || fail "a dry run wrote its run folder"
note "train-nodeclass.sbatch  job $jid  exit 0  ${jsecs}s  DRY_RUN=1: plan 2 nodes x (trainer, sampler, loader)"

run="$work/runs/nodeclass"
run_job nodeclass train-nodeclass.sbatch SHARDS="$shards" OUT="$run" EPOCHS=2 EXTRA_ARGS="--batch-size 64 --hidden 32"
expect_ok nodeclass
out_has nodeclass "srun --mpi=pmix"
grep -q '"trainers":2,"samplers":2,"loaders":2' "$run/summary.json" 2>/dev/null || fail "nodeclass: summary.json layout"
[ "$(metrics_lines "$run")" = 2 ] && [ -f "$run/checkpoint.pt" ] && [ -f "$run/best_model.pt" ] || fail "nodeclass: run folder $run"
note "train-nodeclass.sbatch  job $jid  exit 0  ${jsecs}s  srun: 2T+2S+2L, 2 epochs, summary.json"
}

# The same template with LAUNCHER=mpirun (OpenMPI's mpirun inside the allocation).
test_mpirun() {
run="$work/runs/nodeclass-mpirun"
run_job nodeclass-mpirun train-nodeclass.sbatch SHARDS="$shards" OUT="$run" EPOCHS=1 LAUNCHER=mpirun \
  EXTRA_ARGS="--batch-size 64 --hidden 32"
expect_ok nodeclass-mpirun
out_has nodeclass-mpirun "mpirun"
grep -q '"trainers":2,"samplers":2,"loaders":2' "$run/summary.json" 2>/dev/null || fail "nodeclass-mpirun: summary.json layout"
note "train-nodeclass.sbatch  job $jid  exit 0  ${jsecs}s  LAUNCHER=mpirun: 2T+2S+2L, summary.json"

# A Slurm without PMIx (srun --mpi=list: none, pmi2): SRUN_MPI=auto falls back to mpirun,
# saying so. The srun first on PATH answers --mpi=list like that and passes the rest on.
mkdir -p "$work/no-pmix"
printf '#!/bin/sh\n[ "$*" = "--mpi=list" ] && { printf "MPI plugin types are...\\n\\tnone\\n\\tpmi2\\n"; exit 0; }\nexec %s "$@"\n' \
  "$(command -v srun)" > "$work/no-pmix/srun"
chmod +x "$work/no-pmix/srun"
run="$work/runs/nodeclass-no-pmix"
run_job nodeclass-no-pmix train-nodeclass.sbatch SHARDS="$shards" OUT="$run" EPOCHS=1 PATH="$work/no-pmix:$PATH" \
  EXTRA_ARGS="--batch-size 64 --hidden 32"
expect_ok nodeclass-no-pmix
out_has nodeclass-no-pmix "srun has no PMIx plugin"
out_has nodeclass-no-pmix "flotilla: launch: mpirun"
grep -q '"trainers":2,"samplers":2,"loaders":2' "$run/summary.json" 2>/dev/null || fail "nodeclass-no-pmix: summary.json layout"
note "train-nodeclass.sbatch  job $jid  exit 0  ${jsecs}s  srun without PMIx: fell back to mpirun, summary.json"
}

# ---- (c) train-nodeclass-cpu-servers.sbatch: heterogeneous job, 1 "GPU" node + 1 CPU node ------
test_het() {
# (its #SBATCH shape is 2 + 2 nodes; components may not share a node, so 1 + 1 here.)
het_shape=(-N1 --ntasks-per-node=1 : -N1 --ntasks-per-node=4)
run_job cpu-servers-plan train-nodeclass-cpu-servers.sbatch SHARDS="$shards" OUT="$work/runs/never" SAMPLERS=2 DRY_RUN=1 \
  -- "${het_shape[@]}"
expect_ok cpu-servers-plan
expect_plan cpu-servers-plan "0 trainer 0 node01 0 home sampler: rank 1
1 sampler 0 node02 0 0
2 sampler 1 node02 1 1
3 loader 0 node02 2 0
4 loader 1 node02 3 1"
note "train-nodeclass-cpu-servers.sbatch job $jid exit 0 ${jsecs}s  DRY_RUN=1: het job plan, trainer on node01, 2S+2L on node02"
run="$work/runs/cpu-servers"
run_job cpu-servers train-nodeclass-cpu-servers.sbatch SHARDS="$shards" OUT="$run" SAMPLERS=2 EPOCHS=2 \
  EXTRA_ARGS="--batch-size 64 --hidden 32" -- "${het_shape[@]}"
expect_ok cpu-servers
grep -q '"trainers":1,"samplers":2,"loaders":2' "$run/summary.json" 2>/dev/null || fail "cpu-servers: summary.json layout"
[ "$(metrics_lines "$run")" = 2 ] || fail "cpu-servers: metrics.jsonl"
note "train-nodeclass-cpu-servers.sbatch job $jid exit 0 ${jsecs}s  het job: 1T+2S+2L, 2 epochs, summary.json"
}

# ---- (d) train-forecast.sbatch in its #SBATCH shape, 2 nodes x 2 ranks --------------------------
test_forecast() {
run="$work/runs/forecast"
run_job forecast train-forecast.sbatch DATA="$traffic" OUT="$run" MODEL=dcrnn1 EPOCHS=2 EXTRA_ARGS="--hidden 16"
expect_ok forecast
grep -q '"test_mae' "$run/summary.json" 2>/dev/null || { cat "$run/summary.json" >&2; fail "forecast: summary.json"; }
[ "$(metrics_lines "$run")" = 2 ] || fail "forecast: metrics.jsonl"
note "train-forecast.sbatch   job $jid  exit 0  ${jsecs}s  4 ranks on 2 nodes, dcrnn1, summary.json"
}

# ---- (e) a rank killed mid-run ends the job non-zero, and the output names it -------------------
test_kill() {
# The PID of rank R of job J on this machine (its task environment has both).
rank_pid() {
  local p env
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = flotilla-train ] || continue
    env="$({ tr '\0' '\n' < "$p/environ"; } 2>/dev/null)" || continue
    grep -qx "SLURM_JOB_ID=$1" <<<"$env" && grep -qx "SLURM_PROCID=$2" <<<"$env" && { echo "${p#/proc/}"; return 0; }
  done
  return 1
}
run="$work/runs/killed"
submit_bg killed train-nodeclass.sbatch SHARDS="$shards" OUT="$run" EPOCHS=1000 EXTRA_ARGS="--batch-size 64 --hidden 32"
wait_for "$JOB_TIMEOUT" "job killed ($jid) wrote no checkpoint" test -f "$run/checkpoint.pt"
victim=4   # the sampler on node02
pid="$(rank_pid "$jid" "$victim")" || fail "no process of rank $victim of job $jid"
kill -9 "$pid"
t_kill=$(date +%s)
wait_for 60 "job $jid did not end within 60 s of rank $victim being killed" job_done "$jid"
t_end=$(( $(date +%s) - t_kill ))
sbatch_rc killed
state="$(job_field "$jid" JobState)"; code="$(job_field "$jid" ExitCode)"
[ "$rc" != 0 ] && [ "$state" = FAILED ] && [ "$code" != 0:0 ] ||
  { cat "$work/jobs/killed.out" >&2; fail "job $jid with a killed rank: sbatch --wait exit $rc, state $state, exit code $code (want non-zero, FAILED)"; }
grep -E "task $victim: Killed|rank $victim .*(signal 9|Killed)" "$work/jobs/killed.out" >/dev/null ||
  { cat "$work/jobs/killed.out" >&2; fail "job $jid: the output does not name the killed rank $victim"; }
grep -q "JobId=$jid .*JobState=FAILED" "$log/jobcomp.txt" || fail "jobcomp record of job $jid"
note "kill -9 of rank $victim   job $jid  sbatch --wait exit $rc, $state ExitCode=$code, ended ${t_end}s after the kill: $(grep -m1 -E "task $victim: Killed" "$work/jobs/killed.out")"
}

# ---- (f) a job requeued mid-run continues its run folder from the checkpoint ------------------
# requeue_job NAME TEMPLATE EPOCHS VAR=value...: submits, requeues it once 3 epochs are done,
# checks that the same job id finished the run from its checkpoint.
requeue_job() {
local name="$1" tpl="$2" epochs="$3"; shift 3
run="$work/runs/$name"
submit_bg "$name" "$tpl" OUT="$run" EPOCHS="$epochs" "$@"
metrics_at_least() { [ "$(metrics_lines "$1")" -ge "$2" ] && [ -f "$1/checkpoint.pt" ]; }
wait_for "$JOB_TIMEOUT" "job $name ($jid) did not reach epoch 3" metrics_at_least "$run" 3
cp "$run/metrics.jsonl" "$work/$name-before.jsonl"
timeout 10 scontrol requeue "$jid" || fail "scontrol requeue $jid"
t_requeue=$(date +%s)
sbatch_rc "$name"
state="$(job_field "$jid" JobState)"; restarts="$(job_field "$jid" Restarts)"
[ "$rc" = 0 ] && [ "$state" = COMPLETED ] && [ "$restarts" = 1 ] ||
  { cat "$work/jobs/$name.out" >&2; fail "requeued job $name ($jid): sbatch --wait exit $rc, state $state, restarts $restarts (want 0, COMPLETED, 1)"; }
# Both starts in one log (--open-mode=append), the second one resuming.
out_has "$name" "job $jid, start 1:"
out_has "$name" "job $jid, start 2:"
out_has "$name" "train --resume $run"
grep -q -- "--resume" "$run/command.txt" || fail "requeued job $name ($jid): command.txt has no --resume"
[ "$(metrics_lines "$run")" = "$epochs" ] || fail "requeued job $name ($jid): $(metrics_lines "$run") lines in metrics.jsonl (want $epochs)"
# It continued: the second start's first epoch line is past 0, and the epochs before its
# checkpoint are still the first start's lines (a start from scratch would rewrite them).
resumed_at="$(awk -v s="job $jid, start 2:" 'index($0, s) { on = 1 } on && $1 == "epoch" { print $2; exit }' "$work/jobs/$name.out")"
[ -n "$resumed_at" ] || { cat "$work/jobs/$name.out" >&2; fail "requeued job $name ($jid): no epoch line after its second start"; }
[ "$resumed_at" -ge 3 ] || fail "requeued job $name ($jid) started again from epoch $resumed_at, not from its checkpoint (epoch >= 3)"
kept=$(wc -l < "$work/$name-before.jsonl"); [ "$resumed_at" -lt "$kept" ] && kept=$resumed_at
cmp -s <(head -n "$kept" "$work/$name-before.jsonl") <(head -n "$kept" "$run/metrics.jsonl") ||
  fail "requeued job $name ($jid): the first $kept epochs of metrics.jsonl changed"
note "$(printf '%-23s' "$tpl") job $jid  scontrol requeue: sbatch --wait exit 0, Restarts=1, resumed at epoch $resumed_at of $epochs (first $kept metrics lines kept), $(( $(date +%s) - t_requeue ))s after the requeue"
}
test_requeue() {
requeue_job requeued train-nodeclass.sbatch 40 SHARDS="$shards" EXTRA_ARGS="--batch-size 64 --hidden 32"
}
test_requeue_forecast() {
requeue_job requeued-forecast train-forecast.sbatch 12 DATA="$traffic" MODEL=dcrnn1 EXTRA_ARGS="--hidden 16"
}

all_tests="nodeclass mpirun het forecast kill requeue requeue_forecast"
TESTS="${TESTS:-$all_tests}"
for t in $TESTS; do
  declare -F "test_$t" >/dev/null || fail "unknown test '$t' in TESTS (have: $all_tests)"
  "test_$t"
done

echo
echo "== test-cluster: all checks passed in $(( $(date +%s) - started )) s ($(sinfo --version), $(mpirun --version 2>/dev/null | head -1))"
printf '  %s\n' "${summary[@]}"
