#!/usr/bin/env python3
"""Edge cut of flotilla partition (GREM and baselines) vs METIS's reference cuts
(../shared/data/graphs/gpmetis_cuts.tsv) on the shared graphs, K = 8 and 32.

Usage: bench/partition_quality.py [--flotilla BIN] [--algos grem,fennel10] [--ks 8,32]
       [--graphs a,b] [--extra "--chunk-edges 20000"] [--chunks 16] [--permute SEED]
--chunks N sets --chunk-edges ceil(m / N) per graph (N chunks a pass). --permute SEED runs on
copies of the graphs with their vertex ids randomly relabelled (seeded; written once to a
temporary folder); METIS's reference cut of the original order stays the yardstick.
Prints one row per graph and K, then geometric means of cut / METIS cut per group.
"""
import argparse, json, math, os, random, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "graphs")
SOCIAL = ["ca-HepTh", "ca-CondMat", "email-Enron", "facebook_combined", "musae_facebook", "PGPgiantcompo"]
MESH = ["4elt", "add20", "bcsstk33", "crack", "cs4", "fe_body", "finan512", "memplus", "t60k", "uk", "wing",
        "delaunay_n16", "luxembourg_osm", "power"]

ALGOS = {  # name -> extra flags
    "grem": ["--algo", "grem"],
    "grem1": ["--algo", "grem", "--passes", "1"],
    "fennel": ["--algo", "fennel"],
    "fennel10": ["--algo", "fennel", "--passes", "10"],
    "ldg": ["--algo", "ldg"],
    "hash": ["--algo", "hash"],
    "metis": ["--algo", "metis"],
}

def permuted_copy(src, dst, seed):
    """Writes src (METIS, no weights) with vertex i renamed perm[i] (a seeded permutation)."""
    with open(src) as f:
        lines = [l for l in f if not l.startswith("%")]
    header, adj = lines[0], lines[1:]
    n = int(header.split()[0])
    perm = list(range(n))
    random.Random(seed).shuffle(perm)
    out = [None] * n
    for i in range(n):
        out[perm[i]] = " ".join(str(perm[int(x) - 1] + 1) for x in adj[i].split())
    with open(dst, "w") as f:
        f.write(header)
        f.write("\n".join(out) + "\n")
    return dst

def run_partition(flotilla, path, k, flags):
    """partition.json of one `flotilla partition --no-shards` run (exits on failure)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [flotilla, "partition", "-i", path, "-k", str(k), "-o", os.path.join(tmp, "p"), "--json", "-q",
               "--no-shards"] + flags
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            sys.exit(1)
        return json.loads(r.stdout)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flotilla", default=os.path.join(ROOT, "build", "cli", "flotilla"))
    ap.add_argument("--algos", default="grem,fennel10")
    ap.add_argument("--ks", default="8,32")
    ap.add_argument("--graphs", default="")
    ap.add_argument("--extra", default="")
    ap.add_argument("--chunks", type=int, default=0)
    ap.add_argument("--permute", type=int, default=None)
    ap.add_argument("--balance", default="",
                    help="balance constraints for every run; METIS's reference is then a live run under the same ones")
    args = ap.parse_args()
    permdir = tempfile.TemporaryDirectory() if args.permute is not None else None
    ref = {}
    with open(os.path.join(DATA, "gpmetis_cuts.tsv")) as f:
        next(f)
        for line in f:
            g, n, m, k, cut, imb, t = line.split()
            ref[(g, int(k))] = (int(cut), float(imb), float(t))
    graphs = args.graphs.split(",") if args.graphs else SOCIAL + MESH
    ks = [int(k) for k in args.ks.split(",")]
    algos = args.algos.split(",")
    ratios = {(a, grp): [] for a in algos for grp in ("social", "mesh")}
    print(f"{'graph':18} {'K':>3} {'metis':>8} " + " ".join(f"{a:>16}" for a in algos))
    worst_imb = 0.0
    for g in graphs:
        grp = "social" if g in SOCIAL else "mesh"
        path = os.path.join(DATA, g + ".graph")
        with open(path) as f:
            m = int(f.readline().split()[1])
        if permdir is not None:
            path = permuted_copy(path, os.path.join(permdir.name, g + ".graph"), args.permute)
        extra = args.extra.split()
        if args.chunks > 0:
            extra += ["--chunk-edges", str(-(-m // args.chunks))]
        for k in ks:
            mcut = ref[(g, k)][0]
            if args.balance:
                mcut = run_partition(args.flotilla, path, k, ["--algo", "metis", "--balance", args.balance])["edge_cut"]
            cells = []
            for a in algos:
                flags = ALGOS[a] + (extra if a != "metis" else [])
                d = run_partition(args.flotilla, path, k, flags + (["--balance", args.balance] if args.balance else []))
                cut, imb = d["edge_cut"], d["imbalance"]
                if args.balance:
                    imb = max(c["imbalance"] for c in d["balance"])
                if a != "metis":
                    worst_imb = max(worst_imb, imb)
                ratios[(a, grp)].append(cut / mcut)
                cells.append(f"{cut:>8} ({cut / mcut:4.2f}x)")
            print(f"{g:18} {k:>3} {mcut:>8} " + " ".join(cells), flush=True)
    print()
    for grp in ("social", "mesh"):
        line = f"geomean cut/METIS {grp:7}"
        for a in algos:
            v = ratios[(a, grp)]
            if v:
                line += f"  {a}={math.exp(sum(map(math.log, v)) / len(v)):.3f}"
        print(line)
    print(f"worst imbalance (streaming algorithms): {worst_imb:.4f}")

if __name__ == "__main__":
    main()
