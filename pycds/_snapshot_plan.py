"""`python -m pycds plan`: the snapshot plan (stage 1 of snapshots).

Runs the traced modules' bodies once in a fresh interpreter of this build,
with this process's flags and the traced run's sys.path (as each
import started on it: pycds/_snapshot_child.py), then decides for each module whether it could
be a *unit* (its objects written to the archive and restored by relocation)
or must stay *code only*, with one reason: the first found.  A module that
depends on a code-only module (imported it, bound from it, refers to or
changed its objects) is code only too: "depends on X".  Nothing is written
to an archive yet.  The plan's format: pycds/_snapshot_schema.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

from . import _cds, _listfile
from ._snapshot_child import MARKER, write_request
from ._snapshot_schema import PLAN_VERSION, ModulePlan, ModuleRecord, Plan, RunRecord

# The planner itself is found where this copy of pycds is; the child then
# replaces sys.path by the traced one before any traced body runs.
CHILD = ("import sys; sys.path.insert(0, {where!r}); "
         "from pycds._snapshot_child import main; "
         "sys.exit(main(sys.argv[1], sys.argv[2]))")
TIMEOUT = 900.0


class PlanError(RuntimeError):
    """The plan could not be made (the planning interpreter failed)."""


def environment_without_ours() -> dict[str, str]:
    """This process's environment for a child that must run as plain
    Python (the planner, the dump's timing runs): without pycds's own
    variables (librun's table), with every other one, a program's
    PYCDS-prefixed variables included (a body may read them)."""
    ours = {row[0] for row in _cds.variables()}
    return {k: v for k, v in os.environ.items() if k not in ours}


def record_run(list_path: str, units: str = "") -> RunRecord:
    """Import the traced modules in a fresh interpreter and return what it
    recorded; with `units` (a directory), it also writes there each module
    that can be a unit as NAME.unit (pycds/_snapshot_unit.py)."""
    traced = _listfile.read(list_path)
    if not traced.modules:
        raise PlanError(f"{list_path}: no modules")
    names = [m.name for m in traced.modules]
    started_on = _listfile.started_on(traced)
    flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    env = environment_without_ours()
    where = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="pycds-plan-") as work:
        request = os.path.join(work, "request")
        output = os.path.join(work, "run.json")
        write_request(request, names, started_on, units)
        # Output goes to files, whose sizes show a body that printed.
        with open(os.path.join(work, "stdout"), "w+b") as out, \
                open(os.path.join(work, "stderr"), "w+b") as err:
            try:
                done = subprocess.run(
                    [sys.executable, *flags, "-c", CHILD.format(where=where),
                     request, output], env=env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err, timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise PlanError(f"the planning interpreter ran over {TIMEOUT:.0f} s") from None
            err.seek(0)
            errors = err.read()
        if done.returncode != 0 or not os.path.exists(output):
            tail = errors.decode(errors="replace").strip().splitlines()[-1:]
            raise PlanError("the planning interpreter failed "
                            f"({done.returncode}): {' '.join(tail)}")
        with open(output, encoding="utf-8") as f:
            run: RunRecord = json.load(f)
    if run.get("version") != 1:
        raise PlanError("the planning interpreter wrote an unknown format")
    return run


def excluded(name: str, packages: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def first_reason(record: ModuleRecord, exclude: list[str]) -> str:
    """Why the module cannot be a unit by itself, or ""."""
    if record["kind"] == "failed":
        return f"its body raised {record['error']}"
    if excluded(record["name"], exclude):
        return "excluded by --snapshot-exclude"
    if record.get("opted_out"):
        return f"opted out ({MARKER} = False)"
    if record["refusals"]:
        return record["refusals"][0]
    return ""


def decide(run: RunRecord, exclude: list[str], seconds: float = 0.0) -> Plan:
    modules: list[ModulePlan] = []
    by_name: dict[str, ModulePlan] = {}
    for record in run["modules"]:
        kind = record["kind"]
        decision = ("startup" if kind == "startup" else
                    "extension" if kind == "extension" else "unit")
        reason = first_reason(record, exclude) if decision == "unit" else ""
        plan: ModulePlan = {"name": record["name"],
                            "decision": "code" if reason else decision,  # type: ignore[typeddict-item]
                            "reason": reason, "record": record}
        modules.append(plan)
        by_name[record["name"]] = plan
    # A unit that needs a code-only module is code only: repeat until no
    # more change (a dependency may be decided later in the order).
    changed = True
    while changed:
        changed = False
        for plan in modules:
            if plan["decision"] != "unit":
                continue
            for dependency in plan["record"]["depends"]:
                other = by_name.get(dependency)
                if other is not None and other["decision"] == "code":
                    plan["decision"] = "code"
                    plan["reason"] = f"depends on {dependency}"
                    changed = True
                    break
    by_type: Counter[str] = Counter()
    by_class: Counter[str] = Counter()
    for plan in modules:
        record = plan["record"]
        if record["kind"] != "body":
            continue
        by_type.update(record["objects"])
        total = sum(record["objects"].values())
        revivable = sum(record["revivable"].values())
        refused = sum(record["refused"].values())
        by_class.update({"plain": total - revivable - refused,
                         "revivable": revivable, "refused": refused})
    return {"version": PLAN_VERSION, "process": run["process"], "modules": modules,
            "units": sum(p["decision"] == "unit" for p in modules),
            "code_only": sum(p["decision"] == "code" for p in modules),
            "objects_by_class": dict(by_class),
            "objects_by_type": dict(by_type.most_common()),
            "seconds": seconds}


def make_plan(list_path: str, exclude: list[str]) -> Plan:
    started = time.perf_counter()
    run = record_run(list_path)
    return decide(run, exclude, time.perf_counter() - started)


def report(plan: Plan) -> str:
    units, code = plan["units"], plan["code_only"]
    decided = units + code
    share = 100.0 * units / decided if decided else 0.0
    others = Counter(p["decision"] for p in plan["modules"]
                     if p["decision"] not in ("unit", "code"))
    lines = [f"plan: {units} units, {code} code only ({share:.1f}% units); "
             f"{others['extension']} extension, {others['startup']} start-up "
             "modules not planned"]
    classes = plan["objects_by_class"]
    lines.append(f"objects created by bodies: {sum(classes.values())} "
                 f"(plain {classes.get('plain', 0)}, revivable "
                 f"{classes.get('revivable', 0)}, refused {classes.get('refused', 0)})")
    revivable: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for p in plan["modules"]:
        if p["record"]["kind"] == "body":
            revivable.update(p["record"]["revivable"])
            refused.update(p["record"]["refused"])
    if revivable:
        lines.append("  revivable: " + ", ".join(f"{t} {n}" for t, n in revivable.most_common()))
    if refused:
        lines.append("  refused: " + ", ".join(f"{t} {n}" for t, n in refused.most_common()))
    for p in plan["modules"]:
        if p["decision"] == "code":
            lines.append(f"snapshot: {p['name']}: {p['reason']}")
    reasons = Counter(p["reason"] for p in plan["modules"]
                      if p["decision"] == "code" and not p["reason"].startswith("depends on "))
    if reasons:
        lines.append("reasons (not counting dependencies):")
        lines += [f"  {n:4} {reason}" for reason, n in reasons.most_common(10)]
    bodies = sum(p["record"]["seconds"] for p in plan["modules"])
    lines.append(f"planned in {plan['seconds']:.2f} s (module bodies {bodies:.2f} s)")
    return "\n".join(lines)


def to_json(plan: Plan) -> str:
    return json.dumps(plan, indent=1)
