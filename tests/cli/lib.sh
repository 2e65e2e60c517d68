# Shared helpers of the CLI test scripts that source it (not a test: the CMake glob takes
# *_test.sh only). Needs $work (the test's scratch folder) set before the helpers run.
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_MCA_btl_vader_single_copy_mechanism=none
expect_exit() {  # code, grep pattern (fixed string), command...
  local want="$1" pat="$2"; shift 2
  set +e; "$@" >"$work/out.txt" 2>&1; local got=$?; set -e
  [ "$got" = "$want" ] || { cat "$work/out.txt" >&2; fail "exit $got (want $want): $*"; }
  grep -qF -- "$pat" "$work/out.txt" || { cat "$work/out.txt" >&2; fail "no '$pat' in output of: $*"; }
}
