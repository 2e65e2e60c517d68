#!/usr/bin/env bash
# Fake remote-shell agent for OpenMPI: makes one machine look like several nodes.
#
#   mpirun --mca plm_rsh_agent tests/tools/fake-rsh.sh --host node01:3,node02:3 -np 6 PROGRAM
#   (or: export OMPI_MCA_plm_rsh_agent=$PWD/tests/tools/fake-rsh.sh; mpirun --hostfile H ...)
#
# mpirun starts one daemon (orted) per host of the hostfile/--host list by running
# `AGENT HOST orted ARGS...`, as it would run `ssh HOST orted ARGS...`. This agent runs that
# command here, on the local machine, with FLOTILLA_HOSTNAME=HOST in its environment; the
# ranks that daemon launches inherit it, and Flotilla's MpiSession reports HOST as their host
# name (and groups local ranks by it). So `flotilla train --dry-run` prints the role plan of a
# real multi-node job. mpirun treats each name as a separate node (its own daemon, its own
# slots), so rank placement (--map-by, slots, -np) follows the same rules as on a cluster.
#
# Only for tests: every "node" is this machine, and nothing is sent over a network other
# than the daemons' own TCP connections to mpirun on this machine.
set -euo pipefail
log="${FLOTILLA_FAKE_RSH_LOG:-}"
# ssh-style options before the host name (OpenMPI adds none for a custom agent, but accept
# `-l USER`, `-p PORT`, `-o OPT` and single flags so this works as a drop-in for ssh).
while [ $# -gt 0 ]; do
  case "$1" in
    -l | -p | -o | -i | -F) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "fake-rsh.sh: usage: fake-rsh.sh HOST COMMAND..." >&2; exit 255; }
host="$1"
shift
[ -n "$log" ] && echo "fake-rsh: $host: $*" >> "$log"
export FLOTILLA_HOSTNAME="$host"
# Each fake node gets its own temporary folder: OpenMPI names its session directory, PMIx
# store and shared-memory (vader) segments after the real host name and the node-local
# rank, so two daemons on one machine sharing /tmp would overwrite each other's segments
# (segfaults in mca_btl_vader_poll_handle_frag, "PMIX ERROR ... dstore_base.c").
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fake-rsh.$host.XXXXXX")"
export TMPDIR="$tmp" OMPI_MCA_btl_vader_backing_directory="$tmp"
# Like ssh: the remaining words form one command line for the (remote) shell, which keeps
# the quoting mpirun put into it (e.g. the daemon URI's ';').
set +e
/bin/sh -c "$*"
rc=$?
rm -rf "$tmp"
exit "$rc"
