"""The ``mutualize`` command line (also ``python -m mutualize``).

mutualize demo                      the built-in worked example, every rule side by side
mutualize allocate LOSS CLAIM...    allocate a loss (minor units) over claims
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import mutualize
from mutualize.demo import demo_allocations, render_demo
from mutualize.errors import MutualizeError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mutualize",
        description="Exact socialized-loss mutualization for derivatives venues.",
    )
    parser.add_argument("--version", action="version", version=mutualize.__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="share one loss under every rule, side by side")
    alloc = commands.add_parser(
        "allocate", help="allocate LOSS over CLAIMS (integers, minor units)"
    )
    alloc.add_argument("loss", help="the loss to cover, in minor units")
    alloc.add_argument("claims", nargs="+", help="claims in minor units (<= 0: ineligible)")
    alloc.add_argument(
        "--rule", default="pro_rata", choices=["pro_rata", "equal_loss", "equal_award"]
    )
    alloc.add_argument("--rounding", default="exact", choices=["exact", "down", "up"])
    alloc.add_argument("--max-rate", default=None, help="e.g. 0.25 or 1/4")
    alloc.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success, 2 on bad input)."""
    try:
        return _run(argv)
    except BrokenPipeError:  # `mutualize demo | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        print(render_demo(demo_allocations()))
        return 0
    try:
        result = mutualize.allocate(
            args.claims, args.loss, rule=args.rule, rounding=args.rounding, max_rate=args.max_rate
        )
    except (MutualizeError, ValueError, TypeError, OverflowError) as exc:
        print(f"mutualize: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        as_dict = result.to_dict()
        as_dict["rate"] = str(as_dict["rate"])
        print(json.dumps(as_dict))
    else:
        print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
