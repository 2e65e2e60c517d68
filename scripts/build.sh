#!/usr/bin/env bash
# Configures and builds Flotilla. Usage: scripts/build.sh [BUILD_DIR] [BUILD_TYPE] [extra cmake args...]
# Defaults: build/ and Release. FLOTILLA_TARGETS="a b" builds only those targets. Uses Ninja and ccache when present (CMakeLists.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$root/build}"
build_type="${2:-Release}"
shift $(( $# > 2 ? 2 : $# )) || true
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" "$@"
fi
jobs="${FLOTILLA_JOBS:-$(nproc)}"
targets=()
[ -n "${FLOTILLA_TARGETS:-}" ] && targets=(--target ${FLOTILLA_TARGETS})
cmake --build "$build_dir" --parallel "$jobs" "${targets[@]}"
