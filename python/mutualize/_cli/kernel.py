"""The allocation commands: ``allocate`` (one loss over claims given on the command
line) and ``rules`` (one loss under every rule, side by side)."""

from __future__ import annotations

import json

import click

import mutualize
from mutualize._cli.common import CONTEXT, CliError
from mutualize.errors import MutualizeError

__all__ = ["COMMANDS"]


@click.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.argument("loss")
@click.argument("claims", nargs=-1, required=True)
@click.option(
    "--rule",
    type=click.Choice(["pro_rata", "equal_loss", "equal_award"]),
    default="pro_rata",
    show_default=True,
)
@click.option(
    "--rounding", type=click.Choice(["exact", "down", "up"]), default="exact", show_default=True
)
@click.option("--max-rate", default=None, help="The largest share of a claim taken: 0.25 or 1/4.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def allocate(
    loss: str,
    claims: tuple[str, ...],
    rule: str,
    rounding: str,
    max_rate: str | None,
    as_json: bool,
) -> None:
    """Allocate LOSS over CLAIMS (integers, minor units; claims <= 0 are ineligible).

    \b
    Examples:
      mutualize allocate 7 10 20 30 40
      mutualize allocate 7500000 8000000 4000000 500000 --rule equal_award --json
      mutualize allocate 7 10 -3 40 --max-rate 1/2
    """
    try:
        result = mutualize.allocate(
            list(claims), loss, rule=rule, rounding=rounding, max_rate=max_rate
        )
    except (MutualizeError, ValueError, TypeError, OverflowError) as exc:
        raise CliError(str(exc)) from None
    if as_json:
        as_dict = result.to_dict()
        as_dict["rate"] = str(as_dict["rate"])
        click.echo(json.dumps(as_dict))
    else:
        click.echo(str(result))


@click.command(context_settings=CONTEXT)
def rules() -> None:
    """Share one loss under every allocation rule, side by side.

    The worked example of Chitra (2025): three winners with 8, 4 and 0.5 USD of profit
    share 7.5 USD of bad debt, under pro_rata (exact, rounded down, capped at 50%),
    equal_loss and equal_award.

    \b
    Example:
      mutualize rules
    """
    from mutualize.demo import demo_allocations, render_demo

    click.echo(render_demo(demo_allocations()))


#: The commands this module adds to ``mutualize``.
COMMANDS: tuple[click.Command, ...] = (allocate, rules)
