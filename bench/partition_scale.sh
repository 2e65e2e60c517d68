#!/usr/bin/env bash
# Scale benchmark (issue #15, item 6): GREM vs METIS (and hash / 1-pass FENNEL where listed) on
# generated graphs of tens of millions to 1.6 billion edges, all through `flotilla partition`.
# Prints ONE Markdown table: per case and algorithm the edge cut, cut / METIS cut, the
# imbalance of each constraint (vertices: max part size / (n / K); edges: max over parts of the
# sum of its vertices' degrees / (sum of all degrees / K)), peak RSS, CPU (user + sys) and wall
# time of the whole `flotilla partition` process (from /usr/bin/time -v), and for papers the
# time spent writing the graph shards. The same rows go to WORK/partition_scale-STAMP.{jsonl,csv,md}.
#
# Usage: bench/partition_scale.sh [--work DIR] [CASE...]
#   CASE: rgg23 rgg23p rmat22 sbm-products papers (default: all but papers; also CASES="...")
#     rgg23         generate rgg --dim 2 --scale 23 (grid-cell, i.e. spatial, id order), K = 16
#     rgg23p        the same with --permute (random id order), K = 16
#     rmat22        generate rmat --scale 22 --edge-factor 16, K = 16, --balance nodes,edges
#     sbm-products  generate sbm --nodes 2450000 --avg-degree 50 --classes 47 (avg-degree is the
#                   expected undirected degree: about n * 50 / 2 = 61M edges), K = 16
#     papers        generate sbm --nodes 111059956 --avg-degree 29 --classes 172 (about 1.61G
#                   edges), K = 64, --balance nodes,edges; GREM writes the shards (the others
#                   --no-shards); METIS is expected to refuse at once (beyond its 32-bit index
#                   range: the check reads only the header's counts)
# Environment:
#   FLOTILLA      the flotilla executable (default: build/cli/flotilla under the repository)
#   WORK          work folder (default /work/scale): generated graphs (reused when present,
#                 named by their parameters), runs/CASE/ALGO, the result files
#   SCALE_SMOKE=1 small sizes (rgg scale 14, rmat scale 12, sbm 20000 nodes, papers 200000
#                 nodes; same K and flags) to check the script in seconds
#   ALGOS         algorithms for every case instead of each case's list (grem metis hash fennel)
#   BALANCE       constraints for --balance where a case asks for it, GREM and METIS only
#                 (default nodes,edges); without --balance in `flotilla partition --help` the
#                 runs go without it and the table says so
#   IMBALANCE     --imbalance with --balance (default nodes=0.03,edges=0.05: the acceptance's
#                 vertex and edge bounds)
#   GREM_FLAGS    extra flags for every GREM run (e.g. "--passes 4")
#   RUN_TIMEOUT   seconds after which one partition run is killed (FAILED rc=124; default none)
#   KEEP_SHARDS=1 keep papers' shards (default: removed after measuring; sizes are recorded)
#   CC            C compiler for the small balance tool compiled into WORK/.tools (default cc)
# A failing run becomes a FAILED row (exit code and its last error line); the script goes on.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${WORK:-/work/scale}"
cases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work="$2"; shift 2 ;;
    --work=*) work="${1#--work=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) cases+=("$1"); shift ;;
  esac
done
[ ${#cases[@]} -gt 0 ] || read -r -a cases <<< "${CASES:-rgg23 rgg23p rmat22 sbm-products}"
fl="${FLOTILLA:-$root/build/cli/flotilla}"
[ -x "$fl" ] || { echo "no flotilla executable at $fl: build first (scripts/build.sh) or set FLOTILLA=path" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) is needed for peak RSS and CPU time" >&2; exit 1; }
smoke="${SCALE_SMOKE:-0}"
balance="${BALANCE:-nodes,edges}"
imbalance="${IMBALANCE:-nodes=0.03,edges=0.05}"
read -r -a grem_flags <<< "${GREM_FLAGS:-}"
mkdir -p "$work/runs" "$work/.tools"
work="$(cd "$work" && pwd)"
stamp="$(date +%Y%m%d-%H%M%S)"
rows="$work/partition_scale-$stamp.jsonl"
: > "$rows"

# --- the balance tool: per-constraint imbalance from a Flotilla binary edge list and a .part file
tool="$work/.tools/part_balance"
if [ ! -x "$tool" ] || [ "${BASH_SOURCE[0]}" -nt "$tool" ]; then
  cat > "$work/.tools/part_balance.c" <<'EOF'
/* part_balance GRAPH.bin PARTFILE K: one JSON object with the part sizes' and the part degree
 * sums' imbalance. Degrees count every listed edge at both ends (repeated edges as often as
 * listed); self-loops are skipped, as flotilla's edge stream drops them. O(n) memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void die(const char* m, const char* f) { fprintf(stderr, "part_balance: %s: %s\n", f, m); exit(1); }
int main(int argc, char** argv) {
  if (argc != 4) { fprintf(stderr, "usage: part_balance GRAPH.bin PARTFILE K\n"); return 2; }
  const unsigned k = (unsigned)strtoul(argv[3], 0, 10);
  if (k == 0 || k > 65535) die("K must be 1..65535", argv[3]);
  FILE* g = fopen(argv[1], "rb");
  if (!g) die("cannot open", argv[1]);
  unsigned char h[64];
  if (fread(h, 1, 64, g) != 64 || memcmp(h, "FLOTEDGE", 8) != 0) die("not a Flotilla binary edge list (FLOTEDGE)", argv[1]);
  uint32_t width, flags; uint64_t n, m;
  memcpy(&width, h + 12, 4); memcpy(&n, h + 16, 8); memcpy(&m, h + 24, 8); memcpy(&flags, h + 32, 4);
  if (width != 4 && width != 8) die("id width is not 4 or 8", argv[1]);
  uint16_t* part = malloc(n * sizeof *part + 1);
  if (!part) die("out of memory", argv[2]);
  FILE* p = fopen(argv[2], "rb");
  if (!p) die("cannot open", argv[2]);
  static char buf[1 << 20];
  uint64_t i = 0, cur = 0; int in = 0; size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
    for (size_t j = 0; j < got; ++j) {
      const char c = buf[j];
      if (c >= '0' && c <= '9') { cur = cur * 10 + (uint64_t)(c - '0'); in = 1; }
      else if (in) {
        if (i >= n) die("more lines than the graph has vertices", argv[2]);
        if (cur >= k) die("part id >= K", argv[2]);
        part[i++] = (uint16_t)cur; cur = 0; in = 0;
      }
    }
  }
  if (in) { if (i >= n || cur >= k) die("bad last line", argv[2]); part[i++] = (uint16_t)cur; }
  fclose(p);
  if (i != n) die("fewer lines than the graph has vertices", argv[2]);
  uint64_t* size = calloc(k, sizeof *size); uint64_t* deg = calloc(k, sizeof *deg);
  for (i = 0; i < n; ++i) size[part[i]]++;
  const size_t pairs = 1 << 20;
  unsigned char* e = malloc(pairs * 2 * width);
  uint64_t left = m, loops = 0, cut = 0;
  while (left > 0) {
    const size_t want = left < pairs ? (size_t)left : pairs;
    if (fread(e, 2 * width, want, g) != want) die("truncated payload", argv[1]);
    for (size_t j = 0; j < want; ++j) {
      uint64_t u, v;
      if (width == 4) { uint32_t a, b; memcpy(&a, e + 8 * j, 4); memcpy(&b, e + 8 * j + 4, 4); u = a; v = b; }
      else { memcpy(&u, e + 16 * j, 8); memcpy(&v, e + 16 * j + 8, 8); }
      if (u >= n || v >= n) die("vertex id >= num_nodes", argv[1]);
      if (u == v) { loops++; continue; }
      const uint16_t a = part[u], b = part[v];
      deg[a]++; deg[b]++; cut += a != b;
    }
    left -= want;
  }
  fclose(g);
  uint64_t maxs = 0, maxd = 0, sumd = 0;
  for (unsigned q = 0; q < k; ++q) { if (size[q] > maxs) maxs = size[q]; if (deg[q] > maxd) maxd = deg[q]; sumd += deg[q]; }
  printf("{\"nodes\":%llu,\"parts\":%u,\"listed_edges\":%llu,\"self_loops\":%llu,\"each_edge_once\":%s,"
         "\"listed_cut\":%llu,\"max_part_nodes\":%llu,\"max_part_degree_sum\":%llu,\"degree_sum\":%llu,"
         "\"imbalance_nodes\":%.6f,\"imbalance_edges\":%.6f}\n",
         (unsigned long long)n, k, (unsigned long long)m, (unsigned long long)loops, (flags & 1) ? "true" : "false",
         (unsigned long long)cut, (unsigned long long)maxs, (unsigned long long)maxd, (unsigned long long)sumd,
         n ? (double)maxs * k / (double)n : 0.0, sumd ? (double)maxd * k / (double)sumd : 0.0);
  return 0;
}
EOF
  "${CC:-cc}" -O2 -o "$tool" "$work/.tools/part_balance.c"
fi

# --- cases: graph file, generator command, K, algorithms, whether --balance is asked for
help_text="$("$fl" partition --help 2>&1 || true)"
has_balance=0
grep -q -- '--balance' <<< "$help_text" && has_balance=1
case_setup() {  # sets gen (array), graph, k, algos (array), want_balance, shards_for
  local c="$1"
  want_balance=0; shards_for=""
  case "$c" in
    rgg23|rgg23p)
      local s=23; [ "$smoke" = 1 ] && s=14
      gen=(rgg --dim 2 --scale "$s"); graph="rgg-d2-s$s"
      [ "$c" = rgg23p ] && { gen+=(--permute); graph+="-perm"; }
      k=16; algos=(grem metis) ;;
    rmat22)
      local s=22; [ "$smoke" = 1 ] && s=12
      gen=(rmat --scale "$s" --edge-factor 16 --seed 1); graph="rmat-s$s-e16"
      k=16; algos=(grem metis); want_balance=1 ;;
    sbm-products)
      local nn=2450000; [ "$smoke" = 1 ] && nn=20000
      gen=(sbm --nodes "$nn" --avg-degree 50 --classes 47 --features 0); graph="sbm-n$nn-d50-c47"
      k=16; algos=(grem metis) ;;
    papers)
      local nn=111059956; [ "$smoke" = 1 ] && nn=200000
      gen=(sbm --nodes "$nn" --avg-degree 29 --classes 172 --features 0); graph="sbm-n$nn-d29-c172"
      k=64; algos=(grem hash fennel metis); want_balance=1; shards_for=grem ;;
    *) echo "unknown case '$c' (rgg23 rgg23p rmat22 sbm-products papers)" >&2; exit 2 ;;
  esac
  graph="$work/$graph.bin"
  [ -n "${ALGOS:-}" ] && read -r -a algos <<< "$ALGOS"
  return 0
}

run_one() {  # case algo k graph balance_flag(0/1) shards(0/1): appends one JSON row to $rows
  local c="$1" a="$2" k="$3" graph="$4" bal="$5" shards="$6"
  local out="$work/runs/$c/$a" flags=(--algo "$a")
  case "$a" in
    grem) flags+=("${grem_flags[@]}") ;;
    fennel) flags+=(--passes 1) ;;
    hash|metis) ;;
    *) echo "unknown algorithm '$a' (grem metis hash fennel)" >&2; exit 2 ;;
  esac
  local bal_note="-"
  if [ "$bal" = 1 ]; then
    if [ "$has_balance" = 1 ]; then flags+=(--balance "$balance" --imbalance "$imbalance"); bal_note="$balance ($imbalance)"
    else bal_note="none (no --balance)"; fi
  fi
  [ "$shards" = 1 ] || flags+=(--no-shards)
  local to=()
  [ -n "${RUN_TIMEOUT:-}" ] && [ "${RUN_TIMEOUT}" != 0 ] && to=(timeout "$RUN_TIMEOUT")
  mkdir -p "$work/runs/$c"
  rm -rf "$out" "$out".tmp-*
  echo "== $c / $a: flotilla partition -i $graph -k $k -o $out ${flags[*]}" >&2
  local t0 t1 rc
  t0=$EPOCHREALTIME
  # stderr is time-stamped line by line: "writing K shards..." marks the start of the shards.
  set +e
  /usr/bin/time -v -o "$out.time" "${to[@]}" "$fl" partition -i "$graph" -k "$k" -o "$out" "${flags[@]}" \
    2>&1 >"$out.stdout" | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done > "$out.log"
  rc=${PIPESTATUS[0]}
  set -e
  t1=$EPOCHREALTIME
  local bal_json="{}"
  if [ "$rc" = 0 ]; then
    local pf; pf="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["part_file"])' "$out/partition.json")"
    # shellcheck disable=SC1003
    bal_json="$("$tool" "$graph" "$out/$pf" "$k" 2> "$out.balance-err")" || bal_json="{\"error\":\"$(tail -1 "$out.balance-err" | tr -d '"\\')\"}"
    if [ "$shards" = 1 ] && [ "${KEEP_SHARDS:-0}" != 1 ]; then rm -f "$out"/part-*.shard "$out"/old_to_new.bin; fi
  fi
  python3 - "$c" "$a" "$k" "$graph" "$out" "$rc" "$t0" "$t1" "$bal_note" "$shards" "$bal_json" >> "$rows" <<'EOF'
import json, os, re, sys
c, a, k, graph, out, rc, t0, t1, bal_note, shards, bal = sys.argv[1:]
row = {"case": c, "algo": a, "k": int(k), "graph": graph, "balance": bal_note, "rc": int(rc),
       "status": "ok" if rc == "0" else f"FAILED (exit {rc})"}
tm = {}
try:
    for line in open(out + ".time"):
        key, _, val = line.strip().rpartition(": ")
        tm[key] = val
except OSError:
    pass
def clock(s):  # h:mm:ss or m:ss.ss
    sec = 0.0
    for f in s.split(":"):
        sec = sec * 60 + float(f)
    return sec
if "User time (seconds)" in tm:
    row["cpu_s"] = round(float(tm["User time (seconds)"]) + float(tm["System time (seconds)"]), 2)
    row["sys_s"] = round(float(tm["System time (seconds)"]), 2)
    row["wall_s"] = round(clock(tm["Elapsed (wall clock) time (h:mm:ss or m:ss)"]), 2)
    row["peak_rss_mib"] = round(int(tm["Maximum resident set size (kbytes)"]) / 1024, 1)
log = []
try:
    log = [l.rstrip("\n").split(" ", 1) for l in open(out + ".log")]
except OSError:
    pass
if rc != "0":
    msgs = [l[1] for l in log if len(l) > 1 and "Command exited with non-zero status" not in l[1]
            and "Command terminated by signal" not in l[1] and l[1].strip()]
    row["error"] = msgs[-1].strip()[:300] if msgs else ""
    if rc == "124":
        row["error"] = (row["error"] + "; " if row["error"] else "") + "killed after RUN_TIMEOUT seconds"
    sig = [l for l in open(out + ".time") if "terminated by signal" in l] if os.path.exists(out + ".time") else []
    if sig:
        row["error"] = (row["error"] + "; " if row["error"] else "") + sig[0].strip()
else:
    pj = json.load(open(os.path.join(out, "partition.json")))
    for key in ("num_nodes", "num_edges", "edge_cut", "cut_fraction", "imbalance", "seconds",
                "peak_rss_bytes", "grem_engine", "degree_skew", "chunks"):
        if key in pj:
            row["json_" + key if key in ("imbalance", "seconds", "peak_rss_bytes") else key] = pj[key]
    for key in pj:  # per-constraint fields the partitioner may report itself, kept as given
        if re.search(r"constraint|balance", key) and key != "imbalance":
            row["json_" + key] = pj[key]
    if "parameters" in pj:
        row["passes"] = pj["parameters"].get("passes")
    b = json.loads(bal)
    if "error" in b:
        row["balance_error"] = b["error"]
    else:
        row["imbalance_nodes"] = round(b["imbalance_nodes"], 4)
        row["imbalance_edges"] = round(b["imbalance_edges"], 4)
        row["listed_cut"] = b["listed_cut"]
    if shards == "1":
        mark = [float(l[0]) for l in log if len(l) > 1 and re.match(r"writing \d+ shards", l[1])]
        if mark:
            row["shards_s"] = round(float(t1) - mark[0], 2)
        row["shard_bytes"] = sum(f["bytes"] for name, f in pj.get("files", {}).items()
                                 if name.endswith(".shard") or name == "old_to_new.bin")
print(json.dumps(row))
EOF
}

for c in "${cases[@]}"; do
  case_setup "$c"
  if [ ! -s "$graph" ]; then
    echo "== generating $graph: flotilla generate ${gen[*]}" >&2
    "$fl" generate "${gen[@]}" --out "$graph" -q >&2
  fi
  for a in "${algos[@]}"; do
    b=0; [ "$want_balance" = 1 ] && case "$a" in grem|metis) b=1 ;; esac
    s=0; [ "$a" = "$shards_for" ] && s=1
    run_one "$c" "$a" "$k" "$graph" "$b" "$s"
  done
done

# --- the table (Markdown), CSV and a copy of the table next to the rows
python3 - "$rows" "$has_balance" "$smoke" "$fl" <<'EOF'
import csv, json, sys
path, has_balance, smoke, fl = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
metis = {r["case"]: r["edge_cut"] for r in rows if r["algo"] == "metis" and r["rc"] == 0}
for r in rows:
    if r["rc"] == 0 and r["case"] in metis and metis[r["case"]] > 0:
        r["cut_vs_metis"] = round(r["edge_cut"] / metis[r["case"]], 4)
def m(x):
    return "-" if x is None else (f"{x / 1e6:.2f}M" if x >= 1e6 else str(x))
def f(x, fmt):
    return "-" if x is None else format(x, fmt)
head = ["case", "K", "nodes", "edges", "algo", "--balance", "edge cut", "cut/METIS", "imb. nodes",
        "imb. edges", "peak RSS MiB", "CPU s", "of it sys", "wall s", "shards s", "status"]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
for r in rows:
    status = r["status"]
    if r.get("error"):
        status += ": " + r["error"].replace("|", "/")
    if r.get("balance_error"):
        status += " (balance tool: " + r["balance_error"] + ")"
    lines.append("| " + " | ".join([
        r["case"], str(r["k"]), m(r.get("num_nodes")), m(r.get("num_edges")), r["algo"], r["balance"],
        m(r.get("edge_cut")), f(r.get("cut_vs_metis"), ".3f"), f(r.get("imbalance_nodes"), ".3f"),
        f(r.get("imbalance_edges"), ".3f"), f(r.get("peak_rss_mib"), ".0f"), f(r.get("cpu_s"), ".1f"),
        f(r.get("sys_s"), ".1f"), f(r.get("wall_s"), ".1f"), f(r.get("shards_s"), ".1f"), status]) + " |")
notes = [f"flotilla: {fl}" + ("; SCALE_SMOKE=1 (small sizes)" if smoke == "1" else ""),
         "imb. nodes = max part size / (n/K); imb. edges = max part degree sum / (all degrees / K), "
         "degrees counting every listed edge (self-loops skipped), computed from the .part file and the graph; "
         "RSS, CPU (user+sys) and wall: the whole flotilla partition process (/usr/bin/time -v)"]
if has_balance != "1" and any(r["balance"].startswith("none") for r in rows):
    notes.append("--balance: this flotilla partition has no --balance flag; the rows marked "
                 "'none (no --balance)' ran with the node constraint only")
for r in rows:
    if r["case"] == "papers" and r["algo"] == "grem" and r["rc"] == 0 and "wall_s" in r:
        ok = r["wall_s"] <= 2400 and r["peak_rss_mib"] <= 6 * 1024
        notes.append(f"papers GREM with shards: wall {r['wall_s'] / 60:.1f} min (<= 40), peak RSS "
                     f"{r['peak_rss_mib'] / 1024:.2f} GiB (<= 6): "
                     + ("smoke sizes, not the acceptance" if smoke == "1" else "PASS" if ok else "FAIL")
                     + (f"; shards {r.get('shard_bytes', 0) / 2**20:.0f} MiB written in {r['shards_s']:.1f} s" if "shards_s" in r else ""))
table = "\n".join(lines + [""] + ["- " + n for n in notes]) + "\n"
print(table, end="")
base = path[:-len(".jsonl")]
open(base + ".md", "w").write(table)
# rewrite the rows with cut_vs_metis, and the CSV of the same rows
with open(path, "w") as out:
    for r in rows:
        out.write(json.dumps(r) + "\n")
keys = []
for r in rows:
    keys += [k for k in r if k not in keys and not isinstance(r[k], (dict, list))]
with open(base + ".csv", "w", newline="") as out:
    w = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
print(f"rows: {path} and {base}.csv", file=sys.stderr)
EOF
