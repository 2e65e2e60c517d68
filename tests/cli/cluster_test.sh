#!/usr/bin/env bash
# Cluster launch templates (scripts/slurm/) on two fake nodes of this machine: the role plan
# each template launches, by srun and by mpirun --hostfile, and one short real training.
#
# mpirun starts one daemon per host through tests/tools/fake-rsh.sh, which runs it here with
# FLOTILLA_HOSTNAME=<host>, so ranks report the host mpirun placed them on. A stand-in `srun`
# (first on PATH) runs its program under that mpirun with a hostfile of the allocation's
# shape. The templates themselves are executed, so the test fails when their flotilla
# command, launch line or layout drift from the plans checked here.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR [CHECKPOINT_DIFF_BINARY (unused)]
set -euo pipefail
fl="$1"; work="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
slurm="$root/scripts/slurm"
rm -rf "$work" && mkdir -p "$work/bin"
fail() { echo "FAIL: $*" >&2; exit 1; }

export OMPI_MCA_btl_vader_single_copy_mechanism=none  # containers forbid CMA
cp "$root/tests/tools/fake-rsh.sh" "$work/bin/fake-rsh.sh" && chmod +x "$work/bin/fake-rsh.sh"
export OMPI_MCA_plm_rsh_agent="$work/bin/fake-rsh.sh"
export FLOTILLA_FAKE_RSH_LOG="$work/fake-rsh.log"
# The fake nodes talk TCP over loopback (present everywhere; mpirun skips it by default).
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
unset FLOTILLA_HOSTNAME SLURM_JOB_ID SLURM_JOBID
mpirun_extra="--oversubscribe --allow-run-as-root"

cat > "$work/bin/srun" <<'EOF'
#!/usr/bin/env bash
# Test stand-in for srun: records its arguments, skips its options (templates write them as
# --opt=value), runs the program under mpirun on the fake nodes of $FAKE_HOSTFILE.
set -euo pipefail
# The templates ask which MPI plugins srun has (SRUN_MPI=auto); answer as Debian 12's Slurm does.
if [ "$*" = "--mpi=list" ]; then printf 'MPI plugin types are...\n\tpmix\n\tnone\n\tpmi2\nspecific pmix plugin versions available: pmix_v4\n'; exit 0; fi
printf '%s\n' "$@" > "$FAKE_SRUN_LOG"
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
np=$(awk '!/^#/ && NF { sub("slots=", "", $2); n += $2 } END { print n }' "$FAKE_HOSTFILE")
exec timeout 300 mpirun --oversubscribe --allow-run-as-root --hostfile "$FAKE_HOSTFILE" -np "$np" "$@"
EOF
chmod +x "$work/bin/srun"
export FAKE_SRUN_LOG="$work/srun.args"

# The #SBATCH value of an option in a template (first occurrence).
sbatch_opt() { sed -n "s/^#SBATCH --$2=\([^ ]*\).*/\1/p" "$1" | head -1; }
# Plan rows without the device column (cpu here, cuda:<local> on GPU machines).
plan_rows() { awk '$1 ~ /^[0-9]+$/ { $6 = ""; $0 = $0; $1 = $1; print }' "$1"; }
expect_rows() {  # plan file, expected rows (one per line)
  local got; got="$(plan_rows "$1")"
  [ "$got" = "$2" ] || { printf 'got:\n%s\nwant:\n%s\n' "$got" "$2" >&2; cat "$1" >&2; fail "plan of $1"; }
}

# (a) partition.sbatch makes the shards the other jobs train on.
INPUT="$root/datasets/embedded/cora" PARTS=2 OUT="$work/shards" FLOTILLA="$fl" \
  bash "$slurm/partition.sbatch" > "$work/partition.txt" 2>&1 || { cat "$work/partition.txt"; fail "partition.sbatch"; }
[ -f "$work/shards/part-1.shard" ] && grep -q '"num_parts":2' "$work/shards/partition.json" || fail "partition.sbatch wrote no shards"

# (b) train-nodeclass.sbatch: its #SBATCH shape, srun and mpirun give the same plan.
tpl="$slurm/train-nodeclass.sbatch"
nodes=$(sbatch_opt "$tpl" nodes); tpn=$(sbatch_opt "$tpl" ntasks-per-node); cpt=$(sbatch_opt "$tpl" cpus-per-task)
[ "$nodes" = 2 ] && [ "$tpn" = 3 ] || fail "train-nodeclass.sbatch is no longer 2 nodes x 3 ranks (update this test)"
printf 'node01 slots=3\nnode02 slots=3\n' > "$work/hosts-2x3"
nodeclass() {  # runs the template as sbatch would, on the fake nodes
  env SLURM_JOB_NUM_NODES="$nodes" SLURM_NTASKS_PER_NODE="$tpn" SLURM_CPUS_PER_TASK="$cpt" \
      PATH="$work/bin:$PATH" FAKE_HOSTFILE="$work/hosts-2x3" FLOTILLA="$fl" SHARDS="$work/shards" \
      MPIRUN_EXTRA="$mpirun_extra" "$@" timeout 300 bash "$tpl"
}
want_b="0 trainer 0 node01 0 home sampler: rank 1
1 sampler 0 node01 1 0
2 loader 0 node01 2 0
3 trainer 1 node02 0 home sampler: rank 4
4 sampler 1 node02 1 1
5 loader 1 node02 2 1"
nodeclass DRY_RUN=1 OUT="$work/never" > "$work/plan-srun.txt" 2>&1 || { cat "$work/plan-srun.txt"; fail "srun dry run"; }
grep -q "6 ranks = 2 trainers + 2 samplers + 2 loaders; 2 partitions" "$work/plan-srun.txt" || fail "srun plan header"
expect_rows "$work/plan-srun.txt" "$want_b"
for o in --mpi=pmix --nodes=2 --ntasks-per-node=3 --cpus-per-task="$cpt" --distribution=block:block; do
  grep -qx -- "$o" "$work/srun.args" || fail "srun lacks $o"
done
grep -qx -- "--threads" "$work/srun.args" && grep -qx -- "--dry-run" "$work/srun.args" || fail "flotilla arguments"
[ "$(grep -c '^fake-rsh: node0[12]: ' "$work/fake-rsh.log")" = 2 ] || fail "one daemon per fake node"
[ ! -e "$work/never" ] || fail "dry run wrote the run folder"
# mpirun with the example hostfile (2 nodes x 3 slots), as docs/cluster.md shows.
nodeclass DRY_RUN=1 OUT="$work/never" LAUNCHER=mpirun HOSTFILE="$slurm/hostfile.example" > "$work/plan-mpirun.txt" 2>&1 ||
  { cat "$work/plan-mpirun.txt"; fail "mpirun dry run"; }
expect_rows "$work/plan-mpirun.txt" "$want_b"

# A real job of that layout: trainers on both nodes, rows crossing nodes over TCP; then the
# same script again continues the run from its checkpoint (RESUME=auto).
run="$work/run"
nodeclass OUT="$run" EPOCHS=1 EXTRA_ARGS="--batch-size 64 --hidden 32 -q" > "$work/train.txt" 2>&1 ||
  { cat "$work/train.txt"; fail "training through train-nodeclass.sbatch"; }
grep -q '"trainers":2,"samplers":2,"loaders":2' "$run/summary.json" || fail "summary layout"
grep -q '"loader":{[^}]*"feature_rows_local":[1-9]' "$run/summary.json" || fail "loader rows"
nodeclass OUT="$run" EPOCHS=2 EXTRA_ARGS="--batch-size 64 --hidden 32 -q" > "$work/resume.txt" 2>&1 ||
  { cat "$work/resume.txt"; fail "resuming through train-nodeclass.sbatch"; }
grep -q -- "train --resume $run" "$work/resume.txt" || fail "second submission did not resume"
[ "$(wc -l < "$run/metrics.jsonl")" = 2 ] || fail "resumed run should have 2 epochs of metrics"

# Samplers and loaders on CPU-only nodes (heterogeneous job, 2 GPU nodes + 2 CPU nodes):
# het_dry_run NAME GPU_RANKS_PER_NODE CPU_RANKS_PER_NODE runs the template's dry run on fake
# nodes (hostfile: GPU hosts first) and leaves its output in $work/plan-NAME.txt.
het_dry_run() {
  local name="$1" g="$2" c="$3"
  printf 'gpu01 slots=%s\ngpu02 slots=%s\ncpu01 slots=%s\ncpu02 slots=%s\n' "$g" "$g" "$c" "$c" > "$work/hosts-$name"
  env SLURM_JOB_NUM_NODES_HET_GROUP_0=2 SLURM_NTASKS_PER_NODE_HET_GROUP_0="$g" SLURM_JOB_NUM_NODES_HET_GROUP_1=2 \
      SLURM_NTASKS_PER_NODE_HET_GROUP_1="$c" PATH="$work/bin:$PATH" FAKE_HOSTFILE="$work/hosts-$name" FLOTILLA="$fl" \
      SHARDS="$work/shards" OUT="$work/never" DRY_RUN=1 timeout 300 bash "$slurm/train-nodeclass-cpu-servers.sbatch" \
      > "$work/plan-$name.txt" 2>&1 || { cat "$work/plan-$name.txt"; fail "heterogeneous dry run $name"; }
}
# One trainer per GPU node.
het_dry_run het 1 4
grep -qx -- "--het-group=0,1" "$work/srun.args" || fail "srun --het-group"
expect_rows "$work/plan-het.txt" "0 trainer 0 gpu01 0 home sampler: rank 2
1 trainer 1 gpu02 0 home sampler: rank 6
2 sampler 0 cpu01 0 0
3 sampler 2 cpu01 1 0
4 loader 0 cpu01 2 0
5 loader 2 cpu01 3 0
6 sampler 1 cpu02 0 1
7 sampler 3 cpu02 1 1
8 loader 1 cpu02 2 1
9 loader 3 cpu02 3 1"

# The same template with 2 ranks (GPUs) per GPU node: --trainers-per-node 2 puts all four
# trainers on the GPU nodes (local ranks 0 and 1) and the six servers on the CPU nodes.
het_dry_run het2 2 3
grep -q -- "--trainers-per-node 2" "$work/plan-het2.txt" || fail "template does not pass --trainers-per-node 2"
expect_rows "$work/plan-het2.txt" "0 trainer 0 gpu01 0 home sampler: rank 4
1 trainer 1 gpu01 1 home sampler: rank 7
2 trainer 2 gpu02 0 home sampler: rank 5
3 trainer 3 gpu02 1 home sampler: rank 8
4 sampler 0 cpu01 0 0
5 sampler 2 cpu01 1 0
6 loader 0 cpu01 2 0
7 sampler 1 cpu02 0 1
8 sampler 3 cpu02 1 1
9 loader 1 cpu02 2 1"

# (c) train-forecast.sbatch: every rank a trainer, node-local ranks per node.
tpl="$slurm/train-forecast.sbatch"
nodes=$(sbatch_opt "$tpl" nodes); tpn=$(sbatch_opt "$tpl" ntasks-per-node)
awk -v n="$nodes" -v t="$tpn" 'BEGIN { for (i = 1; i <= n; i++) printf "node%02d slots=%d\n", i, t }' > "$work/hosts-fc"
env SLURM_JOB_NUM_NODES="$nodes" SLURM_NTASKS_PER_NODE="$tpn" SLURM_CPUS_PER_TASK=1 PATH="$work/bin:$PATH" \
    FAKE_HOSTFILE="$work/hosts-fc" FLOTILLA="$fl" DATA="$root/datasets/embedded/metr-la-week" OUT="$work/never" DRY_RUN=1 \
    timeout 300 bash "$tpl" > "$work/plan-fc.txt" 2>&1 || { cat "$work/plan-fc.txt"; fail "forecast dry run"; }
grep -q "$((nodes * tpn)) ranks, every rank a trainer" "$work/plan-fc.txt" || { cat "$work/plan-fc.txt"; fail "forecast plan header"; }
want_fc=$(awk -v n="$nodes" -v t="$tpn" 'BEGIN { for (r = 0; r < n * t; r++) printf "%d node%02d\n", r, int(r / t) + 1 }')
got_fc=$(awk '$1 ~ /^[0-9]+$/ { print $1, $2 }' "$work/plan-fc.txt")
[ "$got_fc" = "$want_fc" ] || { cat "$work/plan-fc.txt"; fail "forecast ranks per node"; }
grep -qx -- "--task" "$work/srun.args" && grep -qx -- "--batching" "$work/srun.args" || fail "forecast arguments"
[ ! -e "$work/never" ] || fail "a dry run wrote the run folder"

echo "cluster_test: all checks passed"
