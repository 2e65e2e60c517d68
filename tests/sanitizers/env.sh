# Runtime options for the Sanitize build (ASan + UBSan): `source tests/sanitizers/env.sh
# [REPORT_DIR]` before running its tests or binaries; scripts/run-tests.sh sources it.
# With REPORT_DIR, every report goes to REPORT_DIR/asan.PID or REPORT_DIR/ubsan.PID instead of
# stderr, so that a report from a process whose exit status a test ignores, or expects to be
# non-zero, still counts: the run is clean only when REPORT_DIR stays empty.
# mpirun passes this environment on to the ranks it starts on this machine.
_san_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_san_asan="" _san_ubsan=""
if [ -n "${1:-}" ]; then
  mkdir -p "$1"
  _san_asan=":log_path=$(cd "$1" && pwd)/asan" _san_ubsan=":log_path=$(cd "$1" && pwd)/ubsan"
fi
# abort_on_error: a report ends the process with SIGABRT (exit 134), never with a status a
# test could take for an expected failure (1, 2, 3). check_initialization_order: static
# initialisers reading globals of other files not yet initialised.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:check_initialization_order=1$_san_asan"
# print_suppressions=0: no "Suppressions used" table when nothing was left to report.
export LSAN_OPTIONS="suppressions=$_san_dir/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1$_san_ubsan"
unset _san_dir _san_asan _san_ubsan
