#!/usr/bin/python3
"""Turns Flotilla run folders and partition folders into PNG plots.

Usage: scripts/plot.py DIR... [--out OUT_DIR]

Each DIR is detected by its contents:
  - a training run (metrics.jsonl, summary.json) of `flotilla train`:
      node classification: NAME-curves.png (loss, train/valid/test accuracy per epoch),
        NAME-time.png (wait/compute/all-reduce seconds per epoch; with summary.json also
        each role's busy, sending and idle time), NAME-traffic.png (bytes, edges and feature rows per
        role, from summary.json);
      forecasting: NAME-mae.png (train/valid MAE per epoch, valid and test MAE at 15/30/60
        min with the persistence baseline of summary.json as dashed lines),
        NAME-time.png (batch/compute/all-reduce seconds per epoch, seconds per step);
  - a partition folder (partition.json of `flotilla partition`): NAME-parts.png (nodes and
    halo nodes per part, the capacity, edge cut and imbalance in the title). With two or
    more partition folders also partitions-cut.png: the edge cut of each (e.g. GREM vs
    METIS vs FENNEL).
NAME is the folder's name. The PNG paths are printed one per line. A missing or corrupt
input exits 1 naming the file (and line); matplotlib missing exits 3. Runs still in
progress (no summary.json yet) are plotted from their metrics.jsonl.
Needs Debian's /usr/bin/python3 with python3-matplotlib (scripts/install-deps.sh).
"""
import argparse
import json
import math
import os
import sys

PROG = "plot.py"


class InputError(Exception):
    pass


def die(msg, code=1):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)


def load_matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError as e:
        die(f"matplotlib is not available to {sys.executable} ({e}); install it with "
            "`apt-get install python3-matplotlib` (scripts/install-deps.sh) and run this "
            "script with /usr/bin/python3", 3)


# ---------------------------------------------------------------- reading

def read_json_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: invalid JSON, column {e.colno}: {e.msg}")
    if not isinstance(obj, dict):
        raise InputError(f"{path}:1: expected a JSON object, got {type(obj).__name__}")
    return obj


def read_jsonl(path):
    """One JSON object per line; blank lines are skipped. Returns [(line_number, obj)]."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line.rstrip("\r\n"))
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{n}: invalid JSON, column {e.colno}: {e.msg}")
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
                rows.append((n, obj))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})")
    return rows


def number(obj, key, where, required=True):
    """obj[key] as a float; null (non-finite in Flotilla's JSON) is NaN."""
    if key not in obj:
        if required:
            raise InputError(f"{where}: missing field \"{key}\"")
        return math.nan
    v = obj[key]
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: field \"{key}\" is {json.dumps(v)}, expected a number")
    return float(v)


def series(rows, path, key, required=True):
    return [number(obj, key, f"{path}:{n}", required) for n, obj in rows]


def has_any(rows, key):
    return any(key in obj for _, obj in rows)


def detect(folder):
    """('partition', None) or ('run', task)."""
    if not os.path.isdir(folder):
        raise InputError(f"{folder}: no such folder")
    if os.path.exists(os.path.join(folder, "partition.json")):
        return "partition"
    if os.path.exists(os.path.join(folder, "metrics.jsonl")) or os.path.exists(os.path.join(folder, "summary.json")):
        return "run"
    raise InputError(f"{folder}: neither a run folder (metrics.jsonl, summary.json) "
                     "nor a partition folder (partition.json)")


def load_run(folder):
    mpath = os.path.join(folder, "metrics.jsonl")
    spath = os.path.join(folder, "summary.json")
    summary = read_json_file(spath) if os.path.exists(spath) else None
    rows = read_jsonl(mpath) if (os.path.exists(mpath) or summary is None) else []
    if not rows and summary is None:
        raise InputError(f"{mpath}: empty (no epoch finished yet)")
    task = summary.get("task") if summary else None
    if task is None and rows:
        first = rows[0][1]
        if "train_mae" in first or "valid_mae" in first:
            task = "forecast"
        elif "train_loss" in first or "train_accuracy" in first:
            task = "nodeclass"
    if task not in ("nodeclass", "forecast"):
        where = spath if summary else f"{mpath}:{rows[0][0]}"
        raise InputError(f"{where}: cannot tell the task (expected summary \"task\" nodeclass|forecast, "
                         "or metrics with train_loss or train_mae)")
    for n, obj in rows:
        number(obj, "epoch", f"{mpath}:{n}")
    return {"dir": folder, "metrics_path": mpath, "summary_path": spath, "rows": rows,
            "summary": summary, "task": task}


def load_partition(folder):
    path = os.path.join(folder, "partition.json")
    p = read_json_file(path)
    for key in ("edge_cut", "num_edges", "num_parts"):
        number(p, key, path)
    sizes = p.get("part_sizes")
    if not isinstance(sizes, list) or not all(isinstance(s, (int, float)) for s in sizes):
        raise InputError(f"{path}: field \"part_sizes\" missing or not a list of numbers")
    halos = p.get("halo_sizes", [])
    if not isinstance(halos, list) or not all(isinstance(s, (int, float)) for s in halos):
        raise InputError(f"{path}: field \"halo_sizes\" is not a list of numbers")
    return {"dir": folder, "path": path, "p": p}


# ---------------------------------------------------------------- plotting

class Namer:
    """OUT/NAME-kind.png, with NAME made unique when two inputs share a folder name."""

    def __init__(self, out):
        self.out = out
        self.used = {}

    def name(self, folder):
        base = os.path.basename(os.path.normpath(os.path.abspath(folder))) or "root"
        k = self.used.get(base, 0)
        self.used[base] = k + 1
        return base if k == 0 else f"{base}-{k + 1}"


def save(plt, fig, path, made):
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    made.append(path)


def epochs_of(run):
    return series(run["rows"], run["metrics_path"], "epoch")


def epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def epoch_time_panel(ax, run, rows, mp, input_key, input_label, wall_label, ylabel):
    """Per-epoch bars: getting inputs (INPUT_KEY), compute, all-reduce; the epoch wall time as a line."""
    ep = epochs_of(run)
    stacked_bars(ax, ep, [series(rows, mp, k, required=False)
                          for k in (input_key, "compute_seconds", "allreduce_seconds")],
                 [input_label, "compute", "gradient all-reduce"], ["C1", "C0", "C2"])
    ax.plot(ep, series(rows, mp, "seconds", required=False), color="k", marker=".", lw=1, label=wall_label)
    epoch_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title("time per epoch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def stacked_bars(ax, x, parts, labels, colors):
    bottom = [0.0] * len(x)
    for vals, label, color in zip(parts, labels, colors):
        clean = [0.0 if math.isnan(v) else v for v in vals]
        ax.bar(x, clean, bottom=bottom, label=label, color=color, width=0.8)
        bottom = [b + v for b, v in zip(bottom, clean)]


def plot_nodeclass(plt, run, name, out, made):
    rows, mp, s = run["rows"], run["metrics_path"], run["summary"]
    title = f"{name}: {s.get('model', '?')}" if s else name
    if s:
        title += " (" + ", ".join(plural(int(s.get(k, d) or 0), k[:-1]) for k, d in
                                  (("trainers", 1), ("samplers", 0), ("loaders", 0))) + ")"
    if rows:
        ep = epochs_of(run)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        a1.plot(ep, series(rows, mp, "train_loss"), marker=".", color="C3")
        epoch_axis(a1)
        a1.set_ylabel("training loss")
        a1.set_title("loss")
        a1.grid(alpha=0.3)
        for key, label, color in (("train_accuracy", "train", "C0"), ("valid_accuracy", "valid", "C1"),
                                  ("test_accuracy", "test", "C2")):
            # -1 means "not evaluated this epoch"
            ys = [math.nan if v < 0 else v for v in series(rows, mp, key, required=False)]
            a2.plot(ep, ys, marker=".", label=label, color=color)
        if s and s.get("best_epoch") is not None and s.get("best_epoch", -1) >= 0 \
                and s.get("test_accuracy") is not None:
            a2.axvline(s["best_epoch"], color="gray", ls=":", lw=1)
            a2.annotate(f"test {s['test_accuracy']:.3f}\nat best valid", (s["best_epoch"], s["test_accuracy"]),
                        textcoords="offset points", xytext=(6, -28), fontsize=8, color="C2")
        epoch_axis(a2)
        a2.set_ylabel("accuracy")
        a2.set_title("accuracy")
        a2.set_ylim(0, 1)
        a2.grid(alpha=0.3)
        a2.legend(loc="lower right")
        fig.suptitle(title)
        save(plt, fig, os.path.join(out, f"{name}-curves.png"), made)

    # time split: per epoch (mean per trainer) and, from summary.json, per role
    has_epochs = rows and has_any(rows, "compute_seconds")
    if has_epochs or s:
        ncols = (1 if has_epochs else 0) + (1 if s else 0)
        fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4), squeeze=False)
        axes = list(axes[0])
        if has_epochs:
            epoch_time_panel(axes.pop(0), run, rows, mp, "wait_seconds", "waiting for batches",
                             "epoch wall time", "seconds (mean per trainer)")
        if s:
            ax = axes.pop(0)
            sp = run["summary_path"]
            total = number(s, "seconds", sp)
            traffic = s.get("traffic") or {}
            labels, busy, idle = [], [], []
            w, c, a = (number(s, k, sp, required=False) for k in ("wait_seconds", "compute_seconds",
                                                                   "allreduce_seconds"))
            ax.barh(0, c, color="C0", label="compute")
            ax.barh(0, w, left=c, color="C1", label="waiting for batches")
            ax.barh(0, a, left=c + w, color="C2", label="all-reduce")
            labels.append(f"trainer (x{int(s.get('trainers', 1))})")
            y = 1
            for role, count_key in (("sampler", "samplers"), ("loader", "loaders")):
                r = traffic.get(role)
                count = int(s.get(count_key, 0) or 0)
                if not isinstance(r, dict) or count <= 0 or "busy_seconds" not in r:
                    continue
                b = number(r, "busy_seconds", f"{sp}: traffic.{role}") / count
                ax.barh(y, b, color="C4", label="serving (busy)" if y == 1 else None)
                if role == "sampler" and "sampling_seconds" in r:
                    smp = number(r, "sampling_seconds", f"{sp}: traffic.{role}") / count
                    ax.barh(y, smp, height=0.4, color="C5", label="of which sampling")
                # Runs before sending_seconds existed counted that time as busy.
                snd = number(r, "sending_seconds", f"{sp}: traffic.{role}", required=False) / count
                snd = 0.0 if math.isnan(snd) else snd
                ax.barh(y, snd, left=b, color="C9", label="sends in flight" if y == 1 else None)
                ax.barh(y, max(0.0, total - b - snd), left=b + snd, color="0.85", label="idle" if y == 1 else None)
                labels.append(f"{role} (x{count})")
                y += 1
            ax.axvline(total, color="k", ls="--", lw=1, label=f"run {total:.3g} s")
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels)
            ax.invert_yaxis()
            ax.set_xlabel("seconds per rank (whole run)")
            ax.set_title("time per role")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.suptitle(title)
        save(plt, fig, os.path.join(out, f"{name}-time.png"), made)

    if s and isinstance(s.get("traffic"), dict):
        sp = run["summary_path"]
        roles = [r for r in ("trainer", "sampler", "loader") if isinstance(s["traffic"].get(r), dict)]
        if roles:
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
            xs = list(range(len(roles)))
            sent = [number(s["traffic"][r], "bytes_sent", f"{sp}: traffic.{r}") / 1e6 for r in roles]
            recv = [number(s["traffic"][r], "bytes_received", f"{sp}: traffic.{r}") / 1e6 for r in roles]
            a1.bar([x - 0.2 for x in xs], sent, width=0.4, label="sent", color="C0")
            a1.bar([x + 0.2 for x in xs], recv, width=0.4, label="received", color="C1")
            a1.set_xticks(xs)
            a1.set_xticklabels(roles)
            a1.set_ylabel("MB (all ranks of the role)")
            a1.set_title("bytes over MPI per role")
            a1.legend()
            a1.grid(alpha=0.3, axis="y")
            cats = [("sampled_edges_local", "sampled edges, local", "C2"),
                    ("sampled_edges_remote", "sampled edges, remote", "C3"),
                    ("feature_rows_local", "feature rows, local", "C4"),
                    ("feature_rows_remote", "feature rows, remote", "C5")]
            width = 0.8 / len(cats)
            for i, (k, label, color) in enumerate(cats):
                vals = [number(s["traffic"][r], k, f"{sp}: traffic.{r}", required=False) for r in roles]
                a2.bar([x - 0.4 + width * (i + 0.5) for x in xs], vals, width=width, label=label, color=color)
            a2.set_xticks(xs)
            a2.set_xticklabels(roles)
            a2.set_ylabel("count (whole run)")
            a2.set_title("work served per role")
            a2.legend(fontsize=8)
            a2.grid(alpha=0.3, axis="y")
            fig.suptitle(title)
            save(plt, fig, os.path.join(out, f"{name}-traffic.png"), made)


HORIZONS = (("h3", "15 min", "C0"), ("h6", "30 min", "C1"), ("h12", "60 min", "C3"))


def plot_forecast(plt, run, name, out, made):
    rows, mp, s = run["rows"], run["metrics_path"], run["summary"]
    title = name
    if s:
        title += f": {s.get('model', '?')}, {s.get('batching', '?')}-batching, {int(s.get('ranks', 1))} rank(s)"
    if rows:
        ep = epochs_of(run)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        a1.plot(ep, series(rows, mp, "train_mae", required=False), marker=".", label="train (scaled loss)",
                color="C7")
        a1.plot(ep, series(rows, mp, "valid_mae", required=False), marker=".", label="valid (all horizons)",
                color="k")
        for h, label, color in HORIZONS:
            if has_any(rows, f"valid_mae_{h}"):
                a1.plot(ep, series(rows, mp, f"valid_mae_{h}", required=False), ls="-", lw=1, color=color,
                        label=f"valid {label}")
        epoch_axis(a1)
        a1.set_ylabel("MAE (mph)")
        a1.set_title("training and validation MAE")
        a1.grid(alpha=0.3)
        a1.legend(fontsize=8)
        for h, label, color in HORIZONS:
            if has_any(rows, f"test_mae_{h}"):
                a2.plot(ep, series(rows, mp, f"test_mae_{h}", required=False), marker=".", color=color,
                        label=f"test {label}")
            if s and f"persistence_test_mae_{h}" in s:
                p = number(s, f"persistence_test_mae_{h}", run["summary_path"])
                a2.axhline(p, color=color, ls="--", lw=1, label=f"persistence {label} ({p:.2f})")
        if s and s.get("best_epoch") is not None and s.get("best_epoch", -1) >= 0:
            a2.axvline(s["best_epoch"], color="gray", ls=":", lw=1, label="best valid epoch")
        epoch_axis(a2)
        a2.set_ylabel("MAE (mph)")
        a2.set_title("test MAE per horizon vs persistence")
        a2.grid(alpha=0.3)
        a2.legend(fontsize=7)
        fig.suptitle(title)
        save(plt, fig, os.path.join(out, f"{name}-mae.png"), made)
    elif s:
        # summary only: bars of test MAE vs persistence
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = list(range(len(HORIZONS)))
        sp = run["summary_path"]
        model = [number(s, f"test_mae_{h}", sp, required=False) for h, _, _ in HORIZONS]
        pers = [number(s, f"persistence_test_mae_{h}", sp, required=False) for h, _, _ in HORIZONS]
        ax.bar([x - 0.2 for x in xs], model, width=0.4, label=s.get("model", "model"))
        ax.bar([x + 0.2 for x in xs], pers, width=0.4, label="persistence", color="0.6")
        ax.set_xticks(xs)
        ax.set_xticklabels([label for _, label, _ in HORIZONS])
        ax.set_ylabel("test MAE (mph)")
        ax.legend()
        fig.suptitle(title)
        save(plt, fig, os.path.join(out, f"{name}-mae.png"), made)

    if rows and has_any(rows, "compute_seconds"):
        ep = epochs_of(run)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        epoch_time_panel(a1, run, rows, mp, "batch_seconds", "batch gathering",
                         "epoch wall time (with evaluation)", "seconds (rank 0)")
        a2.plot(ep, series(rows, mp, "seconds_per_step", required=False), marker=".", color="C0")
        if s and s.get("train_step_seconds") is not None:
            a2.axhline(s["train_step_seconds"], color="gray", ls="--", lw=1,
                       label=f"median step {s['train_step_seconds']:.3f} s")
            a2.legend(fontsize=8)
        epoch_axis(a2)
        a2.set_ylabel("seconds per training step")
        a2.set_ylim(bottom=0)
        a2.set_title("step time")
        a2.grid(alpha=0.3)
        fig.suptitle(title)
        save(plt, fig, os.path.join(out, f"{name}-time.png"), made)


def part_label(part):
    p = part["p"]
    return f"{p.get('algorithm', '?')} k={int(p['num_parts'])}"


def plot_partition(plt, part, name, out, made):
    p = part["p"]
    sizes = p["part_sizes"]
    halos = p.get("halo_sizes") or []
    xs = list(range(len(sizes)))
    fig, ax = plt.subplots(figsize=(max(7, min(14, 0.5 * len(sizes) + 4)), 4.2))
    with_halo = len(halos) == len(sizes)
    w = 0.4 if with_halo else 0.8
    ax.bar([x - (w / 2 if with_halo else 0) for x in xs], sizes, width=w, color="C0", label="nodes")
    if with_halo:
        ax.bar([x + w / 2 for x in xs], halos, width=w, color="C1", label="halo nodes (remote neighbours)")
    if isinstance(p.get("capacity"), (int, float)):
        ax.axhline(p["capacity"], color="k", ls="--", lw=1, label=f"capacity {int(p['capacity'])}")
    ax.set_xlabel("part")
    ax.set_ylabel("nodes")
    ax.set_ylim(0, max(list(sizes) + list(halos) + [p.get("capacity") or 0, 1]) * 1.3)
    if len(sizes) <= 32:
        ax.set_xticks(xs)
    ax.legend(fontsize=8, loc="upper right", ncol=3)
    ax.grid(alpha=0.3, axis="y")
    cut, m = int(p["edge_cut"]), int(p["num_edges"])
    frac = cut / m if m else 0.0
    imb = p.get("imbalance")
    imb_s = f", imbalance {imb:.3f}" if isinstance(imb, (int, float)) else ""
    graph = os.path.basename(os.path.normpath(str(p.get("input", "?"))))
    ax.set_title(f"{name}: {graph}, {part_label(part)}\nedge cut {cut} of {m} edges ({100 * frac:.1f}%){imb_s}",
                 fontsize=10)
    save(plt, fig, os.path.join(out, f"{name}-parts.png"), made)


def plot_cuts(plt, parts, names, out, made):
    inputs = {os.path.basename(os.path.normpath(str(x["p"].get("input", "")))) for x in parts}
    labels = []
    for x, n in zip(parts, names):
        lab = f"{part_label(x)}\n{n}"
        if len(inputs) > 1:
            lab += f"\n{os.path.basename(os.path.normpath(str(x['p'].get('input', ''))))}"
        labels.append(lab)
    cuts = [int(x["p"]["edge_cut"]) for x in parts]
    colors = ["C2" if str(x["p"].get("algorithm", "")).lower() == "grem" else
              "C0" if str(x["p"].get("algorithm", "")).lower() == "metis" else "C7" for x in parts]
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(parts) + 2), 4))
    bars = ax.bar(range(len(parts)), cuts, color=colors)
    for b, x, c in zip(bars, parts, cuts):
        m = int(x["p"]["num_edges"])
        ax.annotate(f"{c}\n({100 * c / m:.1f}%)" if m else str(c), (b.get_x() + b.get_width() / 2, c),
                    ha="center", va="bottom", fontsize=8, textcoords="offset points", xytext=(0, 2))
    ax.set_xticks(range(len(parts)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("edge cut (edges between parts)")
    ax.set_ylim(0, max(cuts + [1]) * 1.2)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title("edge cut: " + (", ".join(sorted(inputs)) if len(inputs) == 1 else "several graphs"))
    save(plt, fig, os.path.join(out, "partitions-cut.png"), made)


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description="Plot Flotilla run folders and partition folders as PNGs.")
    ap.add_argument("dirs", nargs="+", metavar="RUN_OR_PARTITION_DIR")
    ap.add_argument("--out", default="plots", help="folder for the PNGs (created; default: ./plots)")
    args = ap.parse_args(argv)

    # Read and check everything before drawing anything.
    loaded = []
    try:
        for d in args.dirs:
            kind = detect(d)
            loaded.append((kind, load_run(d) if kind == "run" else load_partition(d)))
    except InputError as e:
        die(str(e))
    plt = load_matplotlib()
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        die(f"{args.out}: cannot create the output folder ({e})")

    namer = Namer(args.out)
    made = []
    parts, part_names = [], []
    try:
        for kind, x in loaded:
            name = namer.name(x["dir"])
            if kind == "partition":
                plot_partition(plt, x, name, args.out, made)
                parts.append(x)
                part_names.append(name)
            elif x["task"] == "nodeclass":
                plot_nodeclass(plt, x, name, args.out, made)
            else:
                plot_forecast(plt, x, name, args.out, made)
        if len(parts) >= 2:
            plot_cuts(plt, parts, part_names, args.out, made)
    except InputError as e:
        die(str(e))
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
