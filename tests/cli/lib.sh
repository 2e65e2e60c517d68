# Shared helpers of the CLI test scripts that source it (not a test: the CMake glob takes
# *_test.sh only). Needs $work (the test's scratch folder) set before the helpers run.
fail() { echo "FAIL: $*" >&2; exit 1; }
# Exits 77 (CTest: skipped) when python3 cannot read .npy files.
need_numpy() { /usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "SKIP: python3 without numpy"; exit 77; }; }
# mpirun as every multi-rank CLI test runs it, killed after MPI_TIMEOUT seconds (default 300).
mpi() { timeout "${MPI_TIMEOUT:-300}" mpirun --oversubscribe --allow-run-as-root -np "$@"; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none
expect_exit() {  # code, grep pattern (fixed string), command...
  local want="$1" pat="$2"; shift 2
  set +e; "$@" >"$work/out.txt" 2>&1; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/out.txt" >&2; fail "exit $got (want $want): $*"; }
  grep -qF -- "$pat" "$work/out.txt" || { cat "$work/out.txt" >&2; fail "no '$pat' in output of: $*"; }
}
