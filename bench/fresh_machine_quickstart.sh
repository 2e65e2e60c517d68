#!/usr/bin/env bash
# Times the README's first command (scripts/quickstart.sh: apt install, build, run) on a bare
# Debian 12 system: a `debootstrap --variant=minbase bookworm` root, which has no compiler,
# CMake or Python, so every package the quickstart needs is downloaded and installed. The
# acceptance target of issue #5 is under 10 minutes on 2 cores.
# Optionally (TESTS=1) runs the README's second command (scripts/run-tests.sh) in the same root.
#
# Usage (as root; needs debootstrap and network access to the Debian mirror):
#   bench/fresh_machine_quickstart.sh [ROOTDIR=/tmp/flotilla-fresh-root] [MIRROR]
# The repository's committed HEAD is cloned into ROOTDIR/work/main; ../shared (if present) is
# bind-mounted at ROOTDIR/work/shared for the tests. Apt sources are copied from the host so
# the root sees the same suites (bookworm, -updates, -security) as a fresh machine here.
# Prints the quickstart's summary screen and the wall time; logs stay in ROOTDIR/work/*.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-/tmp/flotilla-fresh-root}"
mirror="${2:-http://deb.debian.org/debian}"
[ "$(id -u)" -eq 0 ] || { echo "fresh_machine_quickstart: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh_machine_quickstart: apt-get install debootstrap first" >&2; exit 1; }
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  echo "fresh_machine_quickstart: $dir exists and is not empty; pass a new folder (a reused root is not fresh)" >&2
  exit 1
fi

mounts=()
cleanup() {  # unmount in reverse order, so a failed run leaves no bind mounts behind
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; --i)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() { mkdir -p "$2"; mount --bind "$1" "$2"; mounts+=("$2"); }

t0=$(date +%s)
echo "== debootstrap minbase bookworm into $dir (log: $dir.debootstrap.log)"
debootstrap --variant=minbase bookworm "$dir" "$mirror" > "$dir.debootstrap.log" 2>&1 ||
  { tail -20 "$dir.debootstrap.log" >&2; exit 1; }
echo "   $(( $(date +%s) - t0 )) s; $(chroot "$dir" dpkg-query -W | wc -l) packages in the bare root"

if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  rm -f "$dir/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/*.sources "$dir/etc/apt/sources.list.d/"
fi
cp /etc/resolv.conf "$dir/etc/resolv.conf"
for d in proc sys dev dev/pts; do bind "/$d" "$dir/$d"; done
mkdir -p "$dir/dev/shm"; mount -t tmpfs tmpfs "$dir/dev/shm"; mounts+=("$dir/dev/shm")  # MPI's shared memory
if [ -d "$root/../shared" ]; then bind "$(cd "$root/../shared" && pwd)" "$dir/work/shared"; fi
git clone -q "$root" "$dir/work/main"
echo "== cloned $(git -C "$root" rev-parse --short HEAD) into $dir/work/main"

in_root() {  # in_root LOG CMD: runs CMD in the root's clone; prints the wall time
  local log="$1" cmd="$2" s rc
  s=$(date +%s)
  set +e
  chroot "$dir" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 TERM=dumb bash -c "cd /work/main && $cmd" < /dev/null > "$log" 2>&1
  rc=$?
  set -e
  echo "   wall time $(( $(date +%s) - s )) s, exit $rc (log: $log)"
  return $rc
}

echo "== README command 1: bash scripts/quickstart.sh (apt install + build + run, $(nproc) cores)"
in_root "$dir/work/quickstart.log" "bash scripts/quickstart.sh" || { tail -30 "$dir/work/quickstart.log" >&2; exit 1; }
sed -n '/^=\{20,\}/,$p' "$dir/work/quickstart.log"

if [ "${TESTS:-0}" = 1 ]; then
  echo "== README command 2: bash scripts/run-tests.sh"
  in_root "$dir/work/run-tests.log" "bash scripts/run-tests.sh" || { tail -30 "$dir/work/run-tests.log" >&2; exit 1; }
  grep -E "tests passed|tests failed|Total Test time" "$dir/work/run-tests.log" || true
fi
