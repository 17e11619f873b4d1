"""Benchmark of the allocation kernel: ``mutualize.allocate`` (pro_rata, exact rounding).

Run from the repository root::

    python benches/bench_allocate.py [--sizes 1e3,1e5,1e6,1e7] [--rounds N] [--quick]
                                     [--json out.json] [--cpu K] [--strict]

For every size N it times, in one process and in interleaved rounds (every round visits
every size and method, in a shuffled order; the figure reported is the median over rounds):

* ``mutualize.allocate(claims, loss)`` -- pro_rata with largest-remainder rounding, exact;
* the naive float one-liner ``np.where(p > 0, p, 0) * (S / P)`` (inexact);
* the fastest exact pure-numpy version we could write (``benches/numpy_exact.py``);
* ``np.copyto(out, claims)`` into a preallocated array: the memory-bandwidth floor;
* ``mutualize.reference.allocate`` (pure Python ints), only up to N = 1e5;

and, on 1e7 claims, ``mutualize.allocate_many`` over 10,000 events of 1,000 accounts
against a single ``mutualize.allocate`` over all of them.

Inputs: int64 profits uniform in [-1e12, 1e12] (about half positive) from a fixed seed;
the loss is 30% of the sum of the positive ones (per event, for the batch). They are
generated before any timing. Each method is called once untimed first (warm-up); calls
shorter than a couple of milliseconds are repeated within one timed sample and averaged.
Before timing, mutualize's haircuts are checked to equal the exact numpy version's (and
the reference's), so the comparison is apples to apples.

``OPENBLAS_CORETYPE`` does not matter for these operations (no BLAS is involved); ignore it.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from numpy_exact import allocate_pro_rata_numpy, naive_float

I64 = npt.NDArray[np.int64]

try:
    import mutualize
    import mutualize.reference
except ImportError:  # not installed: try the source tree (needs the built extension)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    try:
        import mutualize
        import mutualize.reference
    except ImportError as exc:
        HAVE_MUTUALIZE = False
        MUTUALIZE_ERROR = f"{type(exc).__name__}: {exc}"
    else:
        HAVE_MUTUALIZE = True
        MUTUALIZE_ERROR = ""
else:
    HAVE_MUTUALIZE = True
    MUTUALIZE_ERROR = ""

SEED = 20_240_601
MAX_REFERENCE_N = 100_000
BATCH_EVENTS = 10_000
BATCH_SIZE = 1_000
MIN_SAMPLE_NS = 2_000_000  # repeat calls shorter than this within one timed sample

M_MZ = "mutualize.allocate (exact)"
M_NAIVE = "naive float (inexact)"
M_NUMPY = "exact numpy"
M_COPY = "np.copyto floor"
M_REF = "reference (pure Python)"
M_MANY = "allocate_many 10k x 1k"
M_SINGLE = "allocate 1 x 1e7"
METHODS = [M_MZ, M_NAIVE, M_NUMPY, M_COPY, M_REF]


@dataclass
class Case:
    """One timed callable: ``reps`` calls per sample, samples in ns per call."""

    fn: Callable[[], object]
    n: int
    reps: int = 1
    samples: list[float] = field(default_factory=list)

    def median(self) -> float:
        return float(np.median(self.samples))

    def spread(self) -> float:
        """Half the interquartile range, relative to the median."""
        q1, q3 = np.percentile(self.samples, [25, 75])
        return float((q3 - q1) / 2 / self.median())

    def ns_per_account(self) -> float:
        return self.median() / self.n


def label(n: int) -> str:
    e = round(math.log10(n)) if n > 0 else 0
    return f"1e{e}" if 10**e == n else str(n)


def make_claims(n: int) -> tuple[I64, int]:
    rng = np.random.default_rng(SEED + n)
    claims = rng.integers(-(10**12), 10**12, n, dtype=np.int64, endpoint=True)
    return claims, int(claims[claims > 0].sum()) * 3 // 10


def timed(fn: Callable[[], object], reps: int) -> float:
    """Nanoseconds per call of ``reps`` back-to-back calls."""
    t0 = time.perf_counter_ns()
    for _ in range(reps):
        fn()
    return (time.perf_counter_ns() - t0) / reps


def warm_up(case: Case) -> None:
    """One untimed call (lazy initialisation, page faults), then a few timed ones that set
    how many back-to-back calls make one sample (at least ``MIN_SAMPLE_NS`` long)."""
    case.fn()
    t = timed(case.fn, 1)
    if t < MIN_SAMPLE_NS / 10:
        t = timed(case.fn, max(1, min(1_000, int(MIN_SAMPLE_NS / 10 / max(t, 1.0)))))
    case.reps = max(1, min(10_000, math.ceil(MIN_SAMPLE_NS / max(t, 1.0))))


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": model,
        "cores": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    if HAVE_MUTUALIZE:
        info["mutualize"] = getattr(mutualize, "__version__", "?")
        info["mutualize_backend"] = mutualize.backend
        info["mutualize_path"] = str(Path(mutualize.__file__ or "?").parent)
    return info


def fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--sizes", default="1e3,1e5,1e6,1e7", help="comma-separated N values")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 21)")
    ap.add_argument("--quick", action="store_true", help="5 rounds (a run under 30 s)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)
    sizes = sorted({int(float(s)) for s in args.sizes.split(",") if s.strip()})
    rounds = args.rounds if args.rounds is not None else (5 if args.quick else 21)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    info = machine()
    print("# mutualize allocation benchmark\n")
    print(
        f"- machine: {info['cpu']}, {info['cores']} cores (affinity {info['affinity']}), "
        f"load average at start {', '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}"
    )
    print(f"- python {info['python']}, numpy {info['numpy']}, {info['platform']}")
    print("- OPENBLAS_CORETYPE is irrelevant here (no BLAS in these operations): ignored")
    use_mz = HAVE_MUTUALIZE
    if HAVE_MUTUALIZE:
        print(
            f"- mutualize {info['mutualize']}, backend `{info['mutualize_backend']}` "
            f"({info['mutualize_path']})"
        )
        if mutualize.backend != "rust":
            print(
                "- NOTE: the compiled kernel is not loaded; mutualize rows are the Python "
                "fallback and are timed only up to N = 1e5"
            )
    else:
        print(
            f"- NOTE: mutualize is not importable ({MUTUALIZE_ERROR}); "
            "only the numpy rows are measured"
        )
    rust = use_mz and mutualize.backend == "rust"
    print(
        f"- {rounds} interleaved rounds, median; claims uniform in [-1e12, 1e12] "
        f"(seed {SEED} + N), loss = 30% of the positive sum\n"
    )

    # ---- inputs (untimed) and correctness checks -------------------------------------
    cases: dict[tuple[str, int], Case] = {}
    notes: list[str] = []
    t_setup = time.perf_counter()
    for n in sizes:
        claims, loss = make_claims(n)
        out = np.empty_like(claims)
        out.fill(0)  # fault the pages in: the floor is the copy itself
        expected = allocate_pro_rata_numpy(claims, loss)
        naive = naive_float(claims, loss)
        notes.append(
            f"N={label(n)}: naive float misses the loss by {abs(float(naive.sum()) - loss):.0f} "
            f"units; its floors under-allocate by {loss - int(np.floor(naive).sum()):,} "
            f"units; max |naive - exact| = {float(np.abs(naive - expected).max()):.3f}"
        )
        del naive
        cases[(M_NAIVE, n)] = Case(partial(naive_float, claims, loss), n)
        cases[(M_NUMPY, n)] = Case(partial(allocate_pro_rata_numpy, claims, loss), n)
        cases[(M_COPY, n)] = Case(partial(np.copyto, out, claims), n)
        if use_mz and (rust or n <= MAX_REFERENCE_N):
            got = mutualize.allocate(claims, loss).haircuts
            assert np.array_equal(got, expected), f"mutualize != exact numpy at N={n}"
            cases[(M_MZ, n)] = Case(partial(mutualize.allocate, claims, loss), n)
        if use_mz and n <= MAX_REFERENCE_N:
            ref = mutualize.reference.allocate(claims, loss).haircuts
            assert np.array_equal(ref, expected), f"reference != exact numpy at N={n}"
            cases[(M_REF, n)] = Case(partial(mutualize.reference.allocate, claims, loss), n)
        del expected

    batch_n = BATCH_EVENTS * BATCH_SIZE
    if rust:
        claims, loss = make_claims(batch_n)
        offsets = np.arange(0, batch_n + 1, BATCH_SIZE, dtype=np.int64)
        losses = np.add.reduceat(np.maximum(claims, 0), offsets[:-1]) * 3 // 10
        batch = mutualize.allocate_many(claims, offsets, losses)
        assert np.array_equal(batch.totals, losses), "allocate_many: totals != losses"
        check = np.random.default_rng(SEED).choice(BATCH_EVENTS, 200, replace=False)
        for e in check.tolist():
            lo, hi = int(offsets[e]), int(offsets[e + 1])
            want = allocate_pro_rata_numpy(claims[lo:hi], int(losses[e]))
            assert np.array_equal(batch.haircuts[lo:hi], want), f"allocate_many event {e}"
        del batch
        cases[(M_MANY, batch_n)] = Case(
            partial(mutualize.allocate_many, claims, offsets, losses), batch_n
        )
        cases[(M_SINGLE, batch_n)] = Case(partial(mutualize.allocate, claims, loss), batch_n)
    print(
        f"(inputs generated and results cross-checked in {time.perf_counter() - t_setup:.1f} s:"
        " mutualize == exact numpy == reference wherever both ran)\n"
    )

    # ---- timing ------------------------------------------------------------------------
    for case in cases.values():
        warm_up(case)
    order = list(cases)
    shuffle = np.random.default_rng(SEED)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    t_run = time.perf_counter()
    try:
        for _ in range(rounds):
            for i in shuffle.permutation(len(order)).tolist():
                case = cases[order[i]]
                case.samples.append(timed(case.fn, case.reps))
    finally:
        if gc_was_enabled:
            gc.enable()
    elapsed = time.perf_counter() - t_run

    # ---- report ------------------------------------------------------------------------
    def ns(method: str, n: int) -> float | None:
        case = cases.get((method, n))
        return case.ns_per_account() if case else None

    head = "| method | " + " | ".join(label(n) for n in sizes) + " |"
    rule = "| --- |" + " ---: |" * len(sizes)
    print("## ns per account (median; +- half the interquartile range)\n")
    print(head)
    print(rule)
    for m in METHODS:
        cells = []
        for n in sizes:
            cell = cases.get((m, n))
            cells.append(
                "-"
                if cell is None
                else f"{fmt(cell.ns_per_account())} +-{100 * cell.spread():.0f}%"
            )
        print(f"| {m} | " + " | ".join(cells) + " |")

    def ratio(a: str, b: str, n: int) -> float | None:
        x, y = ns(a, n), ns(b, n)
        return x / y if x is not None and y is not None else None

    ratios = [
        ("mutualize / naive float (time ratio)", M_MZ, M_NAIVE),
        ("mutualize / copy floor", M_MZ, M_COPY),
        ("mutualize / exact numpy", M_MZ, M_NUMPY),
        ("exact numpy / naive float", M_NUMPY, M_NAIVE),
        ("reference / mutualize (speed-up)", M_REF, M_MZ),
    ]
    print("\n## ratios (of median times)\n")
    print(head.replace("method", "ratio"))
    print(rule)
    for name, a, b in ratios:
        cells = []
        for n in sizes:
            r = ratio(a, b, n)
            cells.append("-" if r is None else (f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x"))
        print(f"| {name} | " + " | ".join(cells) + " |")

    if (M_MANY, batch_n) in cases:
        many, single = cases[(M_MANY, batch_n)], cases[(M_SINGLE, batch_n)]
        print(
            f"\n## batch: {BATCH_EVENTS:,} events x {BATCH_SIZE:,} accounts vs one allocate "
            f"of {batch_n:,}\n"
        )
        print("| method | ms per call | ns per account |")
        print("| --- | ---: | ---: |")
        for m, case in ((M_MANY, many), (M_SINGLE, single)):
            print(
                f"| {m} | {case.median() / 1e6:.1f} +-{100 * case.spread():.0f}% | "
                f"{fmt(case.ns_per_account())} |"
            )
        print(f"\nallocate_many / single allocate = {many.median() / single.median():.2f}x")

    print("\n## targets\n")
    targets: list[dict[str, Any]] = []

    def target(name: str, value: float | None, limit: float, below: bool) -> None:
        if value is None:
            status = "not measured"
        else:
            status = "PASS" if (value <= limit if below else value >= limit) else "FAIL"
        shown = "-" if value is None else f"{value:.3g}x"
        bound = f"{'<=' if below else '>='} {limit:g}x"
        print(f"- [{status}] {name}: {shown} (target {bound})")
        targets.append(
            {"name": name, "value": value, "limit": limit, "below": below, "status": status}
        )

    big = 10_000_000
    target("N=1e7: mutualize / naive float", ratio(M_MZ, M_NAIVE, big), 0.5, True)
    target("N=1e7: mutualize / copy floor", ratio(M_MZ, M_COPY, big), 4.0, True)
    target("N=1e5: reference / mutualize", ratio(M_REF, M_MZ, 100_000), 300.0, False)
    batch_ratio = None
    if (M_MANY, batch_n) in cases:
        batch_ratio = cases[(M_MANY, batch_n)].median() / cases[(M_SINGLE, batch_n)].median()
    target("allocate_many 10k x 1k / allocate 1e7", batch_ratio, 2.0, True)

    print("\n## notes\n")
    for line in notes:
        print(f"- {line}")
    print(
        f"- timing loop: {elapsed:.1f} s; load average now "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    if args.json is not None:
        result = {
            "machine": info,
            "rounds": rounds,
            "seed": SEED,
            "cases": [
                {
                    "method": m,
                    "n": n,
                    "reps": c.reps,
                    "median_ns": c.median(),
                    "ns_per_account": c.ns_per_account(),
                    "samples_ns": c.samples,
                }
                for (m, n), c in cases.items()
            ],
            "targets": targets,
            "notes": notes,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"- results written to {args.json}")

    failed = any(t["status"] == "FAIL" for t in targets)
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
