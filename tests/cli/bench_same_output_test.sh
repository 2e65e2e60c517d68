#!/usr/bin/env bash
# bench/partition_same_output.sh: a build against itself has no differing case (exit 0); a
# build whose partitions differ (another seed) is reported per case (exit 1); a missing
# binary is refused (exit 2).
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR
set -euo pipefail
fl="$1"; data="$2"; work="$3"
rm -rf "$work" && mkdir -p "$work/graphs"
fail() { echo "FAIL: $*" >&2; exit 1; }
script="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bench/partition_same_output.sh"
cp "$data/graphs/4elt.graph" "$data/graphs/power.graph" "$work/graphs/"
export GRAPHS="$work/graphs" KS=4 BALANCES="nodes" TMPDIR="$work"
out=$(bash "$script" "$fl" "$fl") || fail "same binary: exit $? ($out)"
grep -q "^4 cases, 0 differ" <<<"$out" || fail "same binary: $out"
printf '#!/usr/bin/env bash\nexec "%s" "$@" --seed 7\n' "$fl" > "$work/other-seed"
chmod +x "$work/other-seed"
rc=0; out=$(bash "$script" "$fl" "$work/other-seed") || rc=$?
[ "$rc" = 1 ] || fail "another seed: exit $rc, expected 1 ($out)"
grep -q "^differs: 4elt k=4 chunks=16 balance=nodes" <<<"$out" || fail "another seed: no per-case line ($out)"
grep -q "^4 cases, [1-4] differ" <<<"$out" || fail "another seed: summary ($out)"
rc=0; bash "$script" "$fl" "$work/missing" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "missing binary: exit $rc, expected 2"
[ -z "$(ls -d "$work"/same-output-* 2>/dev/null)" ] || fail "temporary folders left behind"
echo "bench_same_output_test: ok"
