"""Turn bench/startup.py results (JSON, one file per CPython) into the report:
bench/results/startup.md (tables) and bench/results/startup.png (ratios of
SHARE and, hatched, of SNAPSHOT, with each workload's ceiling marked: the
ratio plain would reach with no get_code and no PathFinder search at all,
a ceiling for SHARE only, since SNAPSHOT also skips module bodies).
Results written before SNAPSHOT existed show without it."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def table(data: dict) -> list[str]:
    lines = [f"### CPython {data['python']} ({data['pairs']} pairs, {data['date']})", "",
             "| workload | plain ms | SHARE ms | ratio (min–max) | SNAPSHOT ms "
             "| ratio (min–max) | ceiling | modules | archive MB "
             "| x .pyc | syscalls plain / SHARE (stat, open) | minor faults plain / SHARE / SNAPSHOT "
             "| loader ms: map / relocate+intern / revive "
             "| PSS MiB plain / SHARE / SNAPSHOT (8 processes) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["results"]:
        sc, lm, pss = r.get("syscalls") or {}, r.get("loader_ms") or {}, r.get("pss_kib") or {}
        faults = r.get("minor_faults") or {}
        snap = r.get("snapshot_ratios") or []
        cells = [r["workload"], f"{r['plain_ms']:.1f}", f"{r['shared_ms']:.1f}",
                 f"{r['ratio']:.2f} ({min(r['ratios']):.2f}–{max(r['ratios']):.2f})",
                 f"{r['snapshot_ms']:.1f}" if snap else
                 (f"failed: {r['snapshot_error']}" if r.get("snapshot_error") else ""),
                 f"{r['snapshot_ratio']:.2f} ({min(snap):.2f}–{max(snap):.2f})" if snap else "",
                 f"{ceiling(r):.2f}" if ceiling(r) else "",
                 str(r["modules"] or ""),
                 f"{r['archive_bytes'] / 1e6:.1f}" if r["archive_bytes"] else "",
                 f"{r['archive_bytes'] / r['pyc_bytes']:.2f}" if r.get("pyc_bytes") else "",
                 (f"{sc['plain']['total']} ({sc['plain']['stat']}, {sc['plain']['open']}) / "
                  f"{sc['share']['total']} ({sc['share']['stat']}, {sc['share']['open']})")
                 if sc.get("plain") else "",
                 " / ".join(str(faults[k]) for k in ("plain", "share", "snapshot")
                            if k in faults),
                 (f"{lm['map_ms']:.2f} / {lm['relocate_intern_ms']:.1f} / {lm['revive_ms']:.2f}")
                 if lm else "",
                 " / ".join(f"{pss[k] / 1024:.1f}" for k in ("plain", "share", "snapshot")
                            if k in pss)]
        lines.append("| " + " | ".join(cells) + " |")
    snapped = [r for r in data["results"] if r.get("snapshot_ratios")]
    if snapped:
        lines += ["", "| workload | units of modules | restored in a run | unit bytes "
                  "| snapshot archive MB | made / whole dump s "
                  "| restore ms: inputs / names / objects / fills / operations = total |",
                  "|---|---|---|---|---|---|---|"]
        for r in snapped:
            t = r.get("restore_us") or {}
            split = (" / ".join(f"{t[p] / 1000:.2f}" for p in PHASES)
                     + f" = **{t['total'] / 1000:.2f}**") if t else ""
            lines.append(
                f"| {r['workload']} | {r['snapshot_units']} of {r['modules']} "
                f"| {r['restored'] if t else ''} | {r['snapshot_unit_bytes']:,} "
                f"| {r['snapshot_archive_bytes'] / 1e6:.1f} "
                f"| {r['snapshot_made_s']:.1f} / {r['snapshot_dump_s']:.1f} | {split} |")
    counted = [r for r in data["results"] if r.get("instructions")]
    if counted:
        lines += ["", "| workload | instructions plain | SHARE | ratio | SNAPSHOT | ratio "
                  "| pycds's own in SHARE: "
                  "ready (checksums, relocation, interning) / finder / activation "
                  "= total |", "|---|---|---|---|---|---|---|"]
        for r in counted:
            i, own = r["instructions"], r.get("own") or {}
            parts = (f"{own.get('ready', 0) / 1e6:.1f} M / {own.get('finder', 0) / 1e6:.1f} M"
                     f" / {own.get('activation', 0) / 1e6:.1f} M = "
                     f"**{sum(own.values()) / 1e6:.1f} M**") if own else ""
            snap = (f"{i['snapshot']:,} | {i['plain'] / i['snapshot']:.2f}"
                    if i.get("snapshot") else " | ")
            lines.append(f"| {r['workload']} | {i['plain']:,} | {i['share']:,} | "
                         f"{i['plain'] / i['share']:.2f} | {snap} | {parts} |")
    lines.append("")
    lines.append(f"Geometric mean of the median ratios (packages and demo): "
                 f"**{data['geomean']:.2f}**")
    if data.get("snapshot_geomean"):
        lines.append("")
        lines.append(f"Geometric mean of the median SNAPSHOT ratios: "
                     f"**{data['snapshot_geomean']:.2f}**")
    if data.get("skipped"):
        lines.append("")
        lines += [f"- {w} skipped: {why}" for w, why in data["skipped"].items()]
    return lines + [""]


# The restore's own phases in bench/startup.py's restore_us.
PHASES = ("inputs", "names", "objects", "fills", "operations")


def ceiling(r: dict) -> float:
    """What an archive of code could give at most: plain / (plain - the
    time get_code and find_spec take inside a plain run)."""
    spent = r.get("ceiling_ms") or 0.0
    return r["plain_ms"] / (r["plain_ms"] - spent) if 0 < spent < r["plain_ms"] else 0.0


def chart(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = []
    for data in runs:
        for r in data["results"]:
            if r["workload"] not in workloads:
                workloads.append(r["workload"])
    # Per CPython a SHARE bar and, if any result has one, a hatched
    # SNAPSHOT bar beside it, in the same colour.
    modes = 2 if any(r.get("snapshot_ratios") for d in runs for r in d["results"]) else 1
    bars = len(runs) * modes
    width = 0.8 / max(1, bars)
    fig, ax = plt.subplots(figsize=(max(8, len(workloads) * (0.9 if modes == 1 else 1.3)), 4.5))
    for i, data in enumerate(runs):
        ratios = {r["workload"]: r["ratio"] for r in data["results"]}
        xs = [k + i * modes * width for k in range(len(workloads))]
        drawn = ax.bar(xs, [ratios.get(w, 0) for w in workloads], width,
                       label=f"CPython {data['python']} SHARE")
        if modes == 2 and any(r.get("snapshot_ratios") for r in data["results"]):
            snaps = {r["workload"]: r.get("snapshot_ratio") or 0 for r in data["results"]}
            ax.bar([x + width for x in xs], [snaps.get(w, 0) for w in workloads], width,
                   color=drawn.patches[0].get_facecolor(), hatch="//",
                   edgecolor="white", label=f"CPython {data['python']} SNAPSHOT")
        # The ceiling of each workload: a mark above (or inside) its bar.
        ceilings = {r["workload"]: ceiling(r) for r in data["results"]}
        marks = [(x, ceilings.get(w, 0)) for x, w in zip(xs, workloads)
                 if ceilings.get(w, 0)]
        if marks:
            ax.scatter([x for x, _ in marks], [c for _, c in marks], marker="_",
                       s=220, linewidths=2.5, color="black", zorder=3,
                       label="ceiling (no get_code, no find_spec)" if i == 0 else None)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([k + width * (bars - 1) / 2 for k in range(len(workloads))])
    ax.set_xticklabels(workloads, rotation=40, ha="right")
    ax.set_ylabel("speed-up, plain / SHARE" + (" (SNAPSHOT hatched)" if modes == 2
                                               else "") + ", median")
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
