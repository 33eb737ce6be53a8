"""Markdown table of the distributed bench JSONs (experiments/scripts/bench-distributed.sh): per model, ranks and optimizer."""
import glob, json, os, sys

out = sys.argv[1]
rows = []
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    d = json.load(open(path))
    for s in d["summary"]:
        rows.append((d["model"], d["batch"], d.get("ranks", 1), d["threads"], s, d["machine"], d.get("overrides", [])))
order = {"sgd": 0, "kfac": 1, "fop": 2}
rows.sort(key=lambda r: (r[0], r[2], order.get(r[4]["optimizer"], 9)))
print("Interleaved bench under mpirun (`bash experiments/scripts/bench-distributed.sh`): the same global batch split over the ranks; "
      "rank 0's median ms/step (min-max over 3 rounds), the part of it spent inside collectives (waiting for slower ranks "
      "included) and the bytes rank 0 handed to collectives per step (buffer sizes, amortised over the curvature interval). "
      f"Machine: {rows[0][5] if rows else ''}.")
print()
print("| model, global batch | ranks x threads | optimizer | ms/step | in collectives (ms) | share | MB/step | speed-up vs 1 rank |")
print("|---|---|---|---|---|---|---|---|")
single = {(r[0], r[4]["optimizer"]): r[4]["ms_per_step"]["median"] for r in rows if r[2] == 1}
for model, batch, ranks, threads, s, _, overrides in rows:
    ms = s["ms_per_step"]
    comm = s.get("communication_ms") or 0
    mb = (s.get("bytes_per_step") or 0) / 1e6
    base = single.get((model, s["optimizer"]))
    speed = f"{base / ms['median']:.2f}" if base else ""
    label = f"{model}, {batch}" + (f" ({', '.join(overrides)})" if overrides else "")
    print(f"| {label} | {ranks} x {threads} | {s['optimizer']} | {ms['median']:.0f} ({ms['min']:.0f}-{ms['max']:.0f}) | {comm:.0f} | {100 * comm / ms['median']:.0f}% | {mb:.2f} | {speed} |")
