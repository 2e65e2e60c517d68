#!/usr/bin/env python3
"""Replays early stopping on finished node-classification runs (issue 17, the --patience default).

For every run folder under the given bench work folders (bench/nodeclass_bench.sh names them
DATASET-MODEL-SETUP-SEED), reads metrics.jsonl and reports, per (dataset, model, setup), the
mean test accuracy at the best validation epoch had training stopped with patience P
(--patience P: after the first epoch e with e - best_epoch >= P), for several P. A run that
itself stopped early cannot show what a longer patience would have found: use runs made
with --patience off (the bench's reference column) to choose a default.

Usage: bench/nodeclass_patience_replay.py WORKDIR [WORKDIR...] [--patience 30,50,100,150]
"""
import argparse
import collections
import glob
import json
import os


def replay(metrics, patience):
    best = None  # (epoch, valid, test)
    for row in metrics:
        e = row["epoch"]
        if patience is not None and best is not None and (e - 1) - best[0] >= patience:
            break
        v = row.get("valid_accuracy")
        if v is not None and (best is None or v > best[1]):
            best = (e, v, row.get("test_accuracy"))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workdirs", nargs="+")
    ap.add_argument("--patience", default="30,50,100,150")
    a = ap.parse_args()
    ps = [int(x) for x in a.patience.split(",")] + [None]
    rows = collections.defaultdict(lambda: collections.defaultdict(list))
    for w in a.workdirs:
        for d in sorted(glob.glob(os.path.join(w, "*-*-*-*"))):
            path = os.path.join(d, "metrics.jsonl")
            if not os.path.isfile(os.path.join(d, "summary.json")) or not os.path.isfile(path):
                continue  # unfinished
            parts = os.path.basename(d).split("-")
            dataset, model, setup = "-".join(parts[:-3]), parts[-3], parts[-2]
            metrics = [json.loads(l) for l in open(path) if l.strip()]
            for p in ps:
                b = replay(metrics, p)
                if b and b[2] is not None:
                    rows[(dataset, model, setup)][p].append(b[2])
    head = "".join(f"{'P=' + str(p) if p else 'off':>9}" for p in ps)
    print(f"{'dataset':18} {'model':5} {'setup':9}{head}  runs")
    for (dataset, model, setup), by_p in sorted(rows.items()):
        cells = "".join(f"{sum(by_p[p]) / len(by_p[p]):9.4f}" if by_p[p] else f"{'-':>9}" for p in ps)
        print(f"{dataset:18} {model:5} {setup:9}{cells}  {len(by_p[None])}")


if __name__ == "__main__":
    main()
