"""``python -m repro bench``: every usual way of bootstrapping the package, side by side, in one run.

For each way (``ways.WAYS``): cold wall time (median of interleaved runs), the peak RSS of
its largest process, the cgroup peak, and the cgroup and RLIMIT_AS floors found by
bisection; then the no-op and activate() costs, and ratio rows against the goals. The
JSON document holds every number and describes the machine; ``--plot`` draws the floors.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from repro import UsageError, options, report, wheelhouse
from repro.bench import floors, latency, machine, measure, ratios, render
from repro.bench.ways import QUICK, WAYS, Context, Tools

RESULTS = Path(__file__).resolve().parent.parent.parent / "benchmarks" / "results"
CGROUP_RANGE = measure.Range(32 * 1024, 128 * 1024, 1024)
# CI size: the two floors that the main goal compares, bracketed coarsely.
QUICK_CGROUP_RANGE = measure.Range(36 * 1024, 84 * 1024, 6 * 1024)
QUICK_FLOORS = ("sdkboot-lean", "import")
QUICK_TIMEOUT = 60.0
AS_LO_KIB, AS_RESOLUTION_KIB = 48 * 1024, 2048


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="every way of bootstrapping the package, side by side: wall, peaks, floors, no-op",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m repro bench --quick\n"
        "  python -m repro bench --tools ~/bench-venv/bin --plot docs/floors.png\n"
        "  python -m repro bench --replot benchmarks/results/2026-12-02.json --plot docs/floors.png",
    )
    options.add_context_arguments(parser)
    # The real interpreter, even when the bench runs from the venv that holds its tools.
    parser.set_defaults(python=getattr(sys, "_base_executable", sys.executable), timeout=120.0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"CI size (< 3 min): {', '.join(QUICK)}; one cold run each; coarse cgroup floors"
        f" of {', '.join(QUICK_FLOORS)} only",
    )
    parser.add_argument("--repeats", type=int, default=3, help="cold runs per way, interleaved (default 3)")
    parser.add_argument(
        "--ways",
        nargs="+",
        choices=sorted(WAYS),
        metavar="WAY",
        help=f"only these ways (default: all whose tools are installed): {', '.join(WAYS)}",
    )
    parser.add_argument("--no-floors", action="store_true", help="skip the floor searches")
    parser.add_argument(
        "--as-ways",
        nargs="+",
        choices=sorted(WAYS),
        metavar="WAY",
        help="search RLIMIT_AS floors only for these ways (default: every way measured)",
    )
    parser.add_argument("--tools", type=Path, help="bin dir holding uv and virtualenv (the 'bench' extra)")
    parser.add_argument(
        "--out", type=Path, help="write the JSON here (default for a full run: benchmarks/results/<date>.json)"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of the table")
    parser.add_argument(
        "--floors",
        type=Path,
        metavar="JSON",
        help="also write the measured floors as the runtime's floors data file"
        f" (the one it ships: {floors.RUNTIME_FILE.relative_to(floors.RUNTIME_FILE.parents[1])})",
    )
    parser.add_argument("--plot", type=Path, help="draw the floors per way under both limits as a PNG")
    parser.add_argument("--replot", type=Path, metavar="JSON", help="only draw --plot from a saved result")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    if args.replot:
        return _replot(args) if not args.floors else _refloor(args)
    if args.repeats < 1:
        raise UsageError("--repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="repro-bench-") as scratch:
        doc = run_bench(args, Path(scratch))
    out = args.out or (None if args.quick else RESULTS / f"{doc['date']}.json")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(json.dumps(doc, indent=2, sort_keys=True) if args.json else render.table(doc))
    if out and not args.json:
        print(f"\nwritten: {out}")
    if args.plot:
        render.plot(doc, args.plot)
    if args.floors:
        _write_floors(doc, args.floors)
    return 0


def _write_floors(doc: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(floors.floors_doc(doc), indent=2, sort_keys=True) + "\n")
    print(f"floors: {path}")


def _refloor(args: argparse.Namespace) -> int:
    """``--replot RESULT --floors PATH``: the floors file from a saved result (and the plot if asked)."""
    doc = json.loads(args.replot.read_text())
    _write_floors(doc, args.floors)
    if args.plot:
        render.plot(doc, args.plot)
    return 0


def _replot(args: argparse.Namespace) -> int:
    if not args.plot:
        raise UsageError("--replot needs --plot PNG or --floors JSON")
    try:
        doc = json.loads(args.replot.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--replot {args.replot}: {exc}") from None
    render.plot(doc, args.plot)
    print(f"drawn: {args.plot}")
    return 0


def _context(args: argparse.Namespace, scratch: Path) -> Context:
    base = options.context(args, scratch, needs_wheelhouse=True)
    timeout = min(base.timeout, QUICK_TIMEOUT) if args.quick else base.timeout
    return Context(base.python, base.wheelhouse, scratch, Tools.find(args.tools), timeout)


def _selected(args: argparse.Namespace, ctx: Context) -> tuple[list[Any], dict[str, str]]:
    names = args.ways or (QUICK if args.quick else tuple(WAYS))
    chosen, skipped = [], {}
    for name in names:
        reason = WAYS[name].needs(ctx)
        if reason:
            skipped[name] = reason
        else:
            chosen.append(WAYS[name])
    return chosen, skipped


def run_bench(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    ctx = _context(args, scratch)
    ways, skipped = _selected(args, ctx)
    progress = report.Progress()
    started = time.monotonic()
    doc: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "quick": bool(args.quick),
        "machine": machine.describe(ctx.python),
        "skipped": skipped,
        "wheelhouse": wheelhouse_facts(ctx.wheelhouse),
    }
    try:
        repeats = 1 if args.quick else args.repeats
        timed = measure.time_ways(ways, ctx, repeats, progress.update)
        doc["ways"] = {w.name: {"summary": w.summary, "sdkboot": w.sdkboot, **timed[w.name].to_json()} for w in ways}
        progress.update("timing the no-op and activate()")
        doc["session"] = _session(ctx, scratch, args.quick)
        _save(doc, args)
        if not args.no_floors:
            _floors(doc, ways, ctx, args, progress.update)
    finally:
        progress.done()
    doc["machine"]["load_after"] = machine.load()
    doc["seconds"] = round(time.monotonic() - started, 1)
    doc["ratios"] = ratios.rows(doc)
    return doc


def _save(doc: dict[str, Any], args: argparse.Namespace) -> None:
    """What is measured so far, so that an interrupted long run still leaves its numbers."""
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({**doc, "partial": True, "ratios": ratios.rows(doc)}, indent=2, sort_keys=True) + "\n"
        )


def _floors(doc: dict[str, Any], ways: list[Any], ctx: Context, args: argparse.Namespace, tick: Any) -> None:
    quick = args.quick
    for way in ways:
        if quick and way.name not in QUICK_FLOORS:
            continue
        entry = doc["ways"][way.name]
        span = QUICK_CGROUP_RANGE if quick else CGROUP_RANGE
        entry["cgroup_floor"] = measure.floor_json(measure.floor_of(way, ctx, "cgroup", span, tick))
        _save(doc, args)
    for way in ways:
        entry = doc["ways"][way.name]
        if not quick and (not args.as_ways or way.name in args.as_ways):
            as_span = measure.Range(AS_LO_KIB, way.as_hi_mib * 1024, AS_RESOLUTION_KIB * max(1, way.as_hi_mib // 176))
            entry["as_floor"] = measure.floor_json(measure.floor_of(way, ctx, "as", as_span, tick))
            _save(doc, args)


def _session(ctx: Context, scratch: Path, quick: bool) -> dict[str, Any]:
    spec = latency.built_spec(ctx.python, ctx.wheelhouse, scratch / "session-state")
    return {**latency.noop(spec, 10_000, 3 if quick else 10), **latency.activation(spec, 1000 if quick else 5000)}


def wheelhouse_facts(directory: Path) -> dict[str, Any]:
    wheels = sorted(directory.glob("*.whl"))
    return {
        "path": str(directory),
        "wheels": len(wheels),
        "bytes": sum(w.stat().st_size for w in wheels),
        "requirement": wheelhouse.REQUIREMENT,
    }
