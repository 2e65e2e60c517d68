#!/usr/bin/env bash
# scripts/plot.py on tiny synthetic run and partition folders: every PNG it prints exists and
# starts with the PNG signature; a corrupt metrics line, a missing file and a folder of the
# wrong kind exit non-zero naming the file (and line). Skips (exit 77) when /usr/bin/python3
# has no matplotlib.
# Args: FLOTILLA_BINARY SHARED_DATA_DIR WORK_DIR (the first two are unused)
set -euo pipefail
work="${3:-$(mktemp -d)}"
rm -rf "$work" && mkdir -p "$work"
plot="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/plot.py"
py=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! "$py" -c 'import matplotlib' 2>/dev/null; then
  echo "SKIP: $py has no matplotlib (apt-get install python3-matplotlib)"
  exit 77
fi

# Node classification run: 3 epochs, summary with traffic per role.
nc="$work/nc-run"; mkdir -p "$nc"
for e in 0 1 2; do
  printf '{"epoch":%d,"train_loss":%s,"train_accuracy":0.%d5,"valid_accuracy":0.%d,"test_accuracy":0.%d,"seconds":0.5,"train_seconds":0.4,"wait_seconds":0.1,"compute_seconds":0.25,"allreduce_seconds":0.05,"steps":3}\n' \
    "$e" "$((3 - e)).5" "$((e + 4))" "$((e + 3))" "$((e + 3))" >> "$nc/metrics.jsonl"
done
cat > "$nc/summary.json" <<'EOF'
{"task":"nodeclass","model":"sage","test_accuracy":0.5,"best_valid_accuracy":0.5,"best_epoch":2,"final_test_accuracy":0.5,"epochs":3,"epochs_run_this_session":3,"seconds":1.6,"wait_seconds":0.3,"compute_seconds":0.75,"allreduce_seconds":0.15,"trainers":2,"samplers":1,"loaders":1,"partitions":2,"seed_assignment":"global","traffic":{"trainer":{"sampled_edges_local":0,"sampled_edges_remote":0,"feature_rows_local":0,"feature_rows_remote":0,"bytes_sent":88,"bytes_received":9000000},"sampler":{"sampled_edges_local":5000,"sampled_edges_remote":100,"feature_rows_local":0,"feature_rows_remote":0,"bytes_sent":40000,"bytes_received":88,"busy_seconds":1.1,"sending_seconds":0.3,"sampled_edges_per_busy_second_per_sampler":4636,"sampling_seconds":0.2,"sampled_edges_per_sampling_second_per_sampler":25500},"loader":{"sampled_edges_local":0,"sampled_edges_remote":0,"feature_rows_local":1600,"feature_rows_remote":0,"bytes_sent":8900000,"bytes_received":13000,"busy_seconds":0.9}}}
EOF

# Forecast run: 2 epochs (one null metric, as Flotilla writes non-finite values), persistence in the summary.
fc="$work/fc-run"; mkdir -p "$fc"
cat > "$fc/metrics.jsonl" <<'EOF'
{"epoch":0,"train_mae":5.5,"valid_mae":4.8,"valid_mae_h3":3.6,"valid_mae_h6":4.7,"valid_mae_h12":6.2,"test_mae_h3":4.3,"test_mae_h6":5.9,"test_mae_h12":7.9,"test_mae":6.0,"seconds":2.0,"train_seconds":1.5,"seconds_per_step":0.1,"batch_seconds":0.01,"compute_seconds":1.4,"allreduce_seconds":null,"steps":15}
{"epoch":1,"train_mae":4.5,"valid_mae":4.1,"valid_mae_h3":3.1,"valid_mae_h6":4.0,"valid_mae_h12":5.4,"test_mae_h3":3.9,"test_mae_h6":5.1,"test_mae_h12":6.8,"test_mae":5.2,"seconds":1.9,"train_seconds":1.4,"seconds_per_step":0.09,"batch_seconds":0.01,"compute_seconds":1.3,"allreduce_seconds":0.0,"steps":15}
EOF
cat > "$fc/summary.json" <<'EOF'
{"task":"forecast","model":"dcrnn","batching":"index","test_mae_h3":3.9,"test_mae_h6":5.1,"test_mae_h12":6.8,"test_mae":5.2,"persistence_test_mae_h3":3.5,"persistence_test_mae_h6":4.3,"persistence_test_mae_h12":5.7,"persistence_test_mae":4.4,"best_valid_mae":4.1,"best_epoch":1,"epochs":2,"ranks":1,"seconds":4.0,"seconds_per_step":0.095,"train_step_seconds":0.09}
EOF

# Two partition folders of the same graph (GREM and METIS).
for spec in grem:316:635,694,690,689 metis:349:677,677,677,677; do
  IFS=: read -r algo cut sizes <<<"$spec"
  mkdir -p "$work/p-$algo"
  printf '{"format":"flotilla-partition","format_version":1,"input":"/x/cora","algorithm":"%s","num_parts":4,"num_nodes":2708,"num_edges":5278,"edge_cut":%s,"imbalance":1.02,"part_sizes":[%s],"halo_sizes":[100,120,90,80],"capacity":697}\n' \
    "$algo" "$cut" "$sizes" > "$work/p-$algo/partition.json"
done

out="$work/plots"
"$py" "$plot" "$nc" "$fc" "$work/p-grem" "$work/p-metis" --out "$out" > "$work/paths.txt" 2> "$work/err.txt" ||
  fail "plot.py exited $? on valid input: $(cat "$work/err.txt")"
for want in nc-run-curves nc-run-time nc-run-traffic fc-run-mae fc-run-time p-grem-parts p-metis-parts partitions-cut; do
  grep -qx "$out/$want.png" "$work/paths.txt" || fail "$want.png not printed: $(cat "$work/paths.txt")"
done
n=0
while read -r png; do
  [ -s "$png" ] || fail "$png missing or empty"
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
  n=$((n + 1))
done < "$work/paths.txt"
[ "$n" -eq 8 ] || fail "expected 8 PNGs, got $n"
echo "valid input: $n PNGs"

# A run still in progress (no summary.json) is plotted from its metrics.
mkdir -p "$work/live" && head -1 "$fc/metrics.jsonl" > "$work/live/metrics.jsonl"
live=$("$py" "$plot" "$work/live" --out "$out") || fail "run without summary.json: exit $?"
grep -qx "$out/live-mae.png" <<<"$live" || fail "run without summary.json: $live"

# Corrupt line 2 of metrics.jsonl: exit 1, message names the file and line.
bad="$work/bad-run"; mkdir -p "$bad"
{ head -1 "$nc/metrics.jsonl"; echo '{"epoch":1,"train_loss":0.9,"train_accur'; tail -1 "$nc/metrics.jsonl"; } > "$bad/metrics.jsonl"
set +e
"$py" "$plot" "$bad" --out "$work/bad-plots" > /dev/null 2> "$work/bad.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "corrupt metrics line: exit $rc, expected 1"
grep -q "$bad/metrics.jsonl:2:" "$work/bad.txt" || fail "corrupt metrics line not named: $(cat "$work/bad.txt")"
[ ! -e "$work/bad-plots" ] || fail "corrupt input still wrote plots"
echo "corrupt line: $(cat "$work/bad.txt")"

# A field of the wrong type, a corrupt partition.json, a folder of neither kind.
printf '{"epoch":0,"train_loss":"x"}\n' > "$bad/metrics.jsonl"
if "$py" "$plot" "$bad" --out "$work/bad-plots" 2> "$work/bad.txt" >/dev/null; then fail "string loss accepted"; fi
grep -q "metrics.jsonl:1: field \"train_loss\"" "$work/bad.txt" || fail "wrong type not named: $(cat "$work/bad.txt")"
mkdir -p "$work/p-bad" && printf '{"edge_cut":3,\n"num_edges":}\n' > "$work/p-bad/partition.json"
if "$py" "$plot" "$work/p-bad" --out "$work/bad-plots" 2> "$work/bad.txt" >/dev/null; then fail "corrupt partition.json accepted"; fi
grep -q "p-bad/partition.json:2:" "$work/bad.txt" || fail "corrupt partition.json not named: $(cat "$work/bad.txt")"
mkdir -p "$work/empty"
if "$py" "$plot" "$work/empty" --out "$work/bad-plots" 2> "$work/bad.txt" >/dev/null; then fail "empty folder accepted"; fi
grep -q "neither a run folder" "$work/bad.txt" || fail "empty folder: $(cat "$work/bad.txt")"
echo "PASS"
