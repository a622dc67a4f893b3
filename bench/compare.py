#!/usr/bin/python3
"""Helpers for bench/bench.sh (standard library only; any Python 3 runs it).

  compare.py loom    CASE REP RUN_DIR TOKENS_PER_STEP WARMUP   -> one JSON measurement line
  compare.py torch   CASE REP TORCH_STDOUT_FILE                -> one JSON measurement line
  compare.py quality RUN_DIR WALL_SECONDS                      -> one JSON measurement line
  compare.py report  MEASUREMENTS.jsonl RESULTS.json           -> prints the table, writes RESULTS.json

loom's timed rate comes from RUN_DIR/metrics.jsonl: each line has "step" and "elapsed_s"
(training seconds so far; evaluation excluded, written before any save). The rate is taken
between the first logged step >= WARMUP and the last step, so start-up, the first steps and the
final checkpoint/model save are all outside the window, as PyTorch's --warmup steps are.
"""
import json
import math
import os
import statistics
import sys


def die(msg):
    print("compare.py: " + msg, file=sys.stderr)
    sys.exit(2)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        die("cannot read %s: %s" % (path, e))


def cmd_loom(case, rep, run_dir, tok_per_step, warmup):
    tok_per_step, warmup = int(tok_per_step), int(warmup)
    summ = load_json(os.path.join(run_dir, "summary.json"))
    rows = []
    mpath = os.path.join(run_dir, "metrics.jsonl")
    try:
        with open(mpath) as f:
            for line in f:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    if "step" in r and "elapsed_s" in r:
                        rows.append((int(r["step"]), float(r["elapsed_s"])))
    except (OSError, ValueError) as e:
        die("cannot read %s: %s" % (mpath, e))
    if not rows:
        die("%s has no step lines" % mpath)
    last_step, last_t = rows[-1]
    if last_step != int(summ.get("steps", -1)):
        die("%s ends at step %d but summary.json says %s steps" % (mpath, last_step, summ.get("steps")))
    start = next(((s, t) for s, t in rows if s >= warmup and s < last_step), None)
    if start is None or last_t <= start[1]:
        die("%s: no logged step in [%d, %d) to start the timed window" % (mpath, warmup, last_step))
    s0, t0 = start
    rate = (last_step - s0) * tok_per_step / (last_t - t0)
    out = {"case": case, "impl": "loom", "rep": int(rep), "tokens_per_s": round(rate, 1),
           "timed_steps": last_step - s0, "timed_seconds": round(last_t - t0, 4),
           "tokens_per_s_all_steps": round(float(summ.get("tokens_per_s", 0.0)), 1),
           "loss": summ.get("loss"), "threads": summ.get("threads"), "params": summ.get("params")}
    print(json.dumps(out))


def cmd_torch(case, rep, stdout_path):
    js = None
    try:
        with open(stdout_path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        js = json.loads(line)
                    except ValueError:
                        pass
    except OSError as e:
        die("cannot read %s: %s" % (stdout_path, e))
    if not js or "tokens_per_s" not in js:
        die("no JSON line with tokens_per_s in %s" % stdout_path)
    out = {"case": case, "impl": "torch", "rep": int(rep), "tokens_per_s": float(js["tokens_per_s"]),
           "step_ms": js.get("step_ms"), "loss": js.get("loss"), "threads": js.get("threads")}
    print(json.dumps(out))


def cmd_quality(run_dir, wall):
    summ = load_json(os.path.join(run_dir, "summary.json"))
    if "val_loss" not in summ:
        die("%s/summary.json has no val_loss (was there a validation split?)" % run_dir)
    out = {"case": "quality", "impl": "loom", "rep": 1, "val_loss": float(summ["val_loss"]),
           "loss": summ.get("loss"), "steps": summ.get("steps"), "train_seconds": summ.get("seconds"),
           "wall_seconds": round(float(wall), 2), "tokens_per_s": summ.get("tokens_per_s")}
    print(json.dumps(out))


def fmt_num(x, nd=0):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return "{:,.{}f}".format(x, nd)


def cmd_report(meas_path, results_path):
    ms = []
    with open(meas_path) as f:
        for line in f:
            line = line.strip()
            if line:
                ms.append(json.loads(line))
    env = os.environ
    meta = {
        "quick": env.get("BENCH_QUICK", "0") not in ("", "0"),
        "threads": int(env.get("BENCH_THREADS", "2")),
        "speed_goal_ratio": float(env.get("BENCH_SPEED_GOAL", "1.0")),
        "quality_goal_val_loss": float(env.get("BENCH_QUALITY_GOAL", "1.90")),
        "quality_skipped": env.get("BENCH_QUALITY_SKIPPED", ""),
        "torch_skipped": env.get("BENCH_TORCH_SKIPPED", ""),
        "cases": {},
    }
    labels = {"laptop": "speed, laptop config (tok/s)", "large": "speed, larger config (tok/s)"}
    shapes = {"laptop": env.get("BENCH_LAPTOP_DESC", ""), "large": env.get("BENCH_LARGE_DESC", "")}
    rows = []  # (figure, loom, reference, ratio, goal, met)
    any_fail = False
    for case in ("laptop", "large"):
        lo = [m["tokens_per_s"] for m in ms if m["case"] == case and m["impl"] == "loom"]
        to = [m["tokens_per_s"] for m in ms if m["case"] == case and m["impl"] == "torch"]
        if not lo and not to:
            continue
        lmed = statistics.median(lo) if lo else None
        tmed = statistics.median(to) if to else None
        ratio = lmed / tmed if lmed and tmed else None
        goal = meta["speed_goal_ratio"]
        met = "n/a" if ratio is None else ("PASS" if ratio >= goal else "FAIL")
        any_fail |= met == "FAIL"
        rows.append((labels[case], fmt_num(lmed), fmt_num(tmed) + (" torch" if tmed else ""),
                     "n/a" if ratio is None else "%.2fx" % ratio, "ratio >= %.2f" % goal, met))
        meta["cases"][case] = {"shape": shapes[case], "loom_tokens_per_s": lo, "torch_tokens_per_s": to,
                               "loom_median": lmed, "torch_median": tmed, "ratio": ratio, "met": met,
                               "loom_tokens_per_s_all_steps": [m.get("tokens_per_s_all_steps") for m in ms
                                                               if m["case"] == case and m["impl"] == "loom"]}
    q = next((m for m in ms if m["case"] == "quality"), None)
    qgoal = meta["quality_goal_val_loss"]
    if q:
        met = "PASS" if q["val_loss"] <= qgoal else "FAIL"
        any_fail |= met == "FAIL"
        rows.append(("quality: val_loss, 2000 steps", "%.4f" % q["val_loss"], "1.88 nanoGPT",
                     "%.3f" % (q["val_loss"] / 1.88), "<= %.2f" % qgoal, met))
        rows.append(("quality: wall time (s)", fmt_num(q["wall_seconds"], 1), "-", "-", "-", "info"))
        meta["cases"]["quality"] = q
    else:
        why = meta["quality_skipped"] or "not run"
        rows.append(("quality: val_loss, 2000 steps", "skipped", "1.88 nanoGPT", "-", "<= %.2f" % qgoal,
                     "skipped (%s)" % why))
    meta["any_goal_failed"] = any_fail
    npath = env.get("BENCH_NOISE_FILE", "")
    meta["noisy_runs"] = [l.strip() for l in open(npath) if l.strip()] if npath and os.path.exists(npath) else []
    with open(results_path, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")

    head = ("figure", "loom", "reference", "ratio", "goal", "met")
    w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join("-" * n for n in w)
    print(line)
    print("  ".join(h.ljust(w[i]) if i in (0, 4, 5) else h.rjust(w[i]) for i, h in enumerate(head)).rstrip())
    print(line)
    for r in rows:
        print("  ".join(str(c).ljust(w[i]) if i in (0, 4, 5) else str(c).rjust(w[i])
                        for i, c in enumerate(r)).rstrip())
    print(line)
    for case in ("laptop", "large"):
        c = meta["cases"].get(case)
        if c:
            print("%-6s %s" % (case + ":", c["shape"]))
            print("        loom tok/s per repeat %s (all steps, summary.json: %s); torch %s"
                  % (c["loom_tokens_per_s"], c["loom_tokens_per_s_all_steps"], c["torch_tokens_per_s"] or "n/a"))
    if q:
        print("quality: %s steps, final train loss %.4f, training %.1f s (evaluation excluded), wall %.1f s"
              % (q["steps"], q["loss"], q["train_seconds"], q["wall_seconds"]))
    noise = meta["noisy_runs"]
    if noise:
        print("WARNING: other processes were busy during some runs; their figures are low (rerun when idle):")
        for l in noise:
            print("  " + l)
    if meta["torch_skipped"]:
        print("note: PyTorch reference not run: " + meta["torch_skipped"])
    return 1 if any_fail else 0


def main(argv):
    if len(argv) < 2:
        die("usage: see the docstring")
    cmd, args = argv[1], argv[2:]
    table = {"loom": (cmd_loom, 5), "torch": (cmd_torch, 3), "quality": (cmd_quality, 2), "report": (cmd_report, 2)}
    if cmd not in table or len(args) != table[cmd][1]:
        die("bad arguments: %s" % " ".join(argv[1:]))
    rc = table[cmd][0](*args)
    return rc or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
