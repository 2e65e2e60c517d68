#!/usr/bin/env python3
"""GREM vs METIS under the balance constraints that bench/partition_quality.py cannot reach:
`train` (OGB folders with a split: ../shared/data/nodeclass) and `vwgt` (METIS vertex weights,
two columns written onto shared graphs: column 0 = 1 + degree mod 3, column 1 = a seeded
random integer 0..4). Both algorithms run through `flotilla partition` under the same
--balance and --imbalance; prints cut, GREM/METIS and each constraint's imbalance (* = over
its bound).

Usage: bench/partition_balance.py [--flotilla BIN] [--ks 4,8,32] [--imbalance 0.03]
"""
import argparse, json, math, os, random, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
OGB = ["cora", "citeseer", "facebook-pagepage"]
VWGT = ["4elt", "ca-CondMat", "email-Enron", "wing"]


def with_vertex_weights(src, dst, seed=1):
    """src (METIS, no weights) with two vertex weight columns (fmt 010, ncon 2)."""
    rng = random.Random(seed)
    with open(src) as f:
        lines = [l for l in f if not l.startswith("%")]
    n, m = lines[0].split()[:2]
    with open(dst, "w") as f:
        f.write(f"{n} {m} 010 2\n")
        for l in lines[1:]:
            adj = l.split()
            f.write(f"{1 + len(adj) % 3} {rng.randint(0, 4)} {' '.join(adj)}\n")
    return dst


def run(flotilla, path, k, algo, balance, imbalance):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [flotilla, "partition", "-i", path, "-k", str(k), "-o", os.path.join(tmp, "p"), "--json", "-q",
               "--no-shards", "--algo", algo, "--balance", balance, "--imbalance", imbalance]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(" ".join(cmd), "\n", r.stderr, file=sys.stderr)
            sys.exit(1)
        return json.loads(r.stdout)


def cell(d):
    cons = " ".join(f"{c['constraint']}={c['imbalance']:.3f}{'' if c['holds'] else '*'}" for c in d["balance"])
    return f"{d['edge_cut']:>8}  {cons}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flotilla", default=os.path.join(ROOT, "build", "cli", "flotilla"))
    ap.add_argument("--ks", default="4,8,32")
    ap.add_argument("--imbalance", default="0.03")
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    ratios = {"train": [], "vwgt": []}
    held = {"grem": 0, "metis": 0}
    runs = 0
    print(f"{'input':20} {'K':>3} {'balance':18}  {'GREM cut, imbalances (* over)':52}  {'METIS cut, imbalances':52}  GREM/METIS")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(os.path.join(SHARED, "nodeclass", g), g, "nodes,edges,train", "train") for g in OGB]
        cases += [(with_vertex_weights(os.path.join(SHARED, "graphs", g + ".graph"), os.path.join(tmp, g + ".graph")),
                   g + "+vwgt", "vwgt", "vwgt") for g in VWGT]
        for path, name, balance, group in cases:
            for k in ks:
                g = run(args.flotilla, path, k, "grem", balance, args.imbalance)
                m = run(args.flotilla, path, k, "metis", balance, args.imbalance)
                runs += 1
                held["grem"] += g["balanced"]
                held["metis"] += m["balanced"]
                ratio = g["edge_cut"] / max(1, m["edge_cut"])
                ratios[group].append(ratio)
                print(f"{name:20} {k:>3} {balance:18}  {cell(g):52}  {cell(m):52}  {ratio:.3f}", flush=True)
    print()
    for grp, v in ratios.items():
        print(f"geomean GREM/METIS cut, {grp:5}: {math.exp(sum(map(math.log, v)) / len(v)):.3f} ({len(v)} runs)")
    print(f"every bound held: GREM {held['grem']}/{runs} runs, METIS {held['metis']}/{runs} runs")


if __name__ == "__main__":
    main()
