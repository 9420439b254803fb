"""Turn bench/startup.py results (JSON, one file per CPython) into the report:
bench/results/startup.md (tables) and bench/results/startup.png (ratios)."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def table(data: dict) -> list[str]:
    lines = [f"### CPython {data['python']} ({data['pairs']} pairs, {data['date']})", "",
             "| workload | plain ms | SHARE ms | ratio (min–max) | modules | archive MB "
             "| x .pyc | syscalls plain / SHARE (stat, open) | loader ms: map / relocate+intern / revive "
             "| PSS MiB plain / SHARE (8 processes) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["results"]:
        sc, lm, pss = r.get("syscalls") or {}, r.get("loader_ms") or {}, r.get("pss_kib") or {}
        cells = [r["workload"], f"{r['plain_ms']:.1f}", f"{r['shared_ms']:.1f}",
                 f"{r['ratio']:.2f} ({min(r['ratios']):.2f}–{max(r['ratios']):.2f})",
                 str(r["modules"] or ""),
                 f"{r['archive_bytes'] / 1e6:.1f}" if r["archive_bytes"] else "",
                 f"{r['archive_bytes'] / r['pyc_bytes']:.2f}" if r.get("pyc_bytes") else "",
                 (f"{sc['plain']['total']} ({sc['plain']['stat']}, {sc['plain']['open']}) / "
                  f"{sc['share']['total']} ({sc['share']['stat']}, {sc['share']['open']})")
                 if sc.get("plain") else "",
                 (f"{lm['map_ms']:.2f} / {lm['relocate_intern_ms']:.1f} / {lm['revive_ms']:.2f}")
                 if lm else "",
                 f"{pss['plain'] / 1024:.1f} / {pss['share'] / 1024:.1f}" if pss else ""]
        lines.append("| " + " | ".join(cells) + " |")
    counted = [r for r in data["results"] if r.get("instructions")]
    if counted:
        lines += ["", "| workload | instructions plain | SHARE | ratio |", "|---|---|---|---|"]
        for r in counted:
            i = r["instructions"]
            lines.append(f"| {r['workload']} | {i['plain']:,} | {i['share']:,} | "
                         f"{i['plain'] / i['share']:.2f} |")
    lines.append("")
    lines.append(f"Geometric mean of the median ratios (packages and demo): "
                 f"**{data['geomean']:.2f}**")
    if data.get("skipped"):
        lines.append("")
        lines += [f"- {w} skipped: {why}" for w, why in data["skipped"].items()]
    return lines + [""]


def chart(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = []
    for data in runs:
        for r in data["results"]:
            if r["workload"] not in workloads:
                workloads.append(r["workload"])
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(max(8, len(workloads) * 0.9), 4.5))
    for i, data in enumerate(runs):
        ratios = {r["workload"]: r["ratio"] for r in data["results"]}
        xs = [k + i * width for k in range(len(workloads))]
        ax.bar(xs, [ratios.get(w, 0) for w in workloads], width,
               label=f"CPython {data['python']}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([k + width * (len(runs) - 1) / 2 for k in range(len(workloads))])
    ax.set_xticklabels(workloads, rotation=40, ha="right")
    ax.set_ylabel("start-up speed-up, plain / SHARE (median)")
    ax.set_title("pycds: whole-process start-up against plain CPython")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    runs = [json.loads(Path(p).read_text()) for p in sys.argv[1:]]
    runs.sort(key=lambda d: tuple(int(x) for x in d["python"].split(".")[:2]))
    OUT.mkdir(exist_ok=True)
    lines = ["# pycds start-up benchmark", "",
             f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
             f"Linux {platform.release()}; `bench/run-startup.sh`.", ""]
    for data in runs:
        lines += table(data)
    (OUT / "startup.md").write_text("\n".join(lines))
    chart(runs, OUT / "startup.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
