"""The ``mutualize score`` and ``mutualize replay`` commands.

``mutualize.cli`` registers :data:`COMMANDS` on its group (docs/research.md). User
errors print ``error: <message>`` on standard error and exit with status 2; nothing is
written until a run has succeeded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mutualize._cli.common import CONTEXT, CliError
from mutualize.errors import MutualizeError
from mutualize.research import datasets
from mutualize.research._money import MICRO, cents, parse_decimal, to_micro_floor
from mutualize.research._table import table_lines

__all__ = ["COMMANDS", "replay_command", "score_command"]


def _input(argument: str, what: str) -> tuple[Path, str]:
    """The file an argument names (a path or ``@NAME``) and the label to show for it."""
    try:
        path = datasets.resolve(argument)
    except MutualizeError as exc:
        raise CliError(str(exc)) from None
    if not path.is_file():
        raise CliError(f"{what} not found: {argument}")
    return path, argument


def _user_errors(exc: MutualizeError) -> CliError:
    return CliError(str(exc))


@click.command("score", context_settings=CONTEXT)
@click.argument("per_wave", metavar="PER_WAVE.csv")
@click.option(
    "--reference",
    default=None,
    metavar="POLICY",
    help="The policy fairness is measured against [default: fixed_point_ilp_integer, else minmax].",
)
@click.option(
    "--lambda",
    "lam",
    default="1",
    show_default=True,
    metavar="X",
    help="The weight of fairness in total = tracking + lambda x fairness (>= 0; 0.5 or 1/2).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def score_command(per_wave: str, reference: str | None, lam: str, fmt: str) -> None:
    """Score ADL policies over the waves of PER_WAVE.csv: tracking, fairness, total.

    PER_WAVE.csv has the layout of the analysis of arXiv 2602.15182
    (wave, budget_needed, budget_<policy>, max_pct_<policy> ...), as `mutualize replay`
    writes it, or is @NAME for a shipped data set (@hyperliquid-2025-10-10: the 16 real
    waves of 10 October 2025, MIT). Numbers are read as the exact decimals they print;
    USD amounts are shown to the cent (half-even).

    \b
    tracking = sum |H - B|         (H: a wave's haircuts, B: its budget needed)
    fairness = sum B |m - m_ref|   (m: largest haircut / equity in the wave)
    total    = tracking + lambda x fairness

    \b
    Examples:
      mutualize score @hyperliquid-2025-10-10
      mutualize score out/policy_per_wave_metrics.csv --reference pr --lambda 0.5
      mutualize score @hyperliquid-2025-10-10 --format csv
    """
    from mutualize.research.scorecard import score_file

    path, label = _input(per_wave, "per-wave file")
    try:
        card = score_file(path, reference, lam, label=label)
    except MutualizeError as exc:
        raise _user_errors(exc) from None
    render = {"table": card.to_table, "csv": card.to_csv, "json": card.to_json}[fmt]
    click.echo(render(), nl=False)


@click.command("replay", context_settings=CONTEXT)
@click.argument("accounts", metavar="ACCOUNTS.csv")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="NAME",
    help="A policy to run (repeat the option); default: every policy the inputs allow.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("mutualize-replay"),
    show_default=True,
    help="Folder to write policy_per_wave_metrics.csv (and counterfactual_by_wave.csv) to.",
)
@click.option(
    "--gap-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="A new wave starts after more than this many milliseconds without a row "
    "(0: a wave is one timestamp; the analysis uses 5000).",
)
@click.option(
    "--gaps",
    default=None,
    metavar="GAPS.csv",
    help="Per-wave, per-coin budgets and contract values (the analysis's "
    "two_pass_wave_coin_gap_per_contract.csv layout, or @sample-gaps); default: each "
    "wave's budget is its losers' deficit.",
)
@click.option(
    "--counterfactual",
    is_flag=True,
    help="Also run each wave with ADL on and off and write counterfactual_by_wave.csv.",
)
@click.option(
    "--insurance-fund",
    default="0",
    show_default=True,
    metavar="USD",
    help="With --counterfactual: the fund that pays the budgets when ADL is off.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def replay_command(
    accounts: str,
    policies: tuple[str, ...],
    out: Path,
    gap_ms: int,
    gaps: str | None,
    counterfactual: bool,
    insurance_fund: str,
    no_progress: bool,
) -> None:
    """Replay per-account ADL rows through every policy, exactly, in micro-USD.

    ACCOUNTS.csv has the HyperReplay layout (user, coin, time, position_size,
    total_unrealized_pnl, total_equity; time in milliseconds), or is @sample-accounts,
    the synthetic sample shipped with mutualize. HyperReplay data are not shipped: obtain
    them under their own license. Writes OUT/policy_per_wave_metrics.csv, which
    `mutualize score` reads.

    \b
    Policies: pr, pnl_pr, equity_pr, capped_pr, equal_loss, minmax, mirror, and
    contract_pr (with --gaps). See docs/research.md for their definitions.

    \b
    Examples:
      mutualize replay @sample-accounts --out replay
      mutualize replay @sample-accounts --gap-ms 5000 --gaps @sample-gaps --out replay
      mutualize replay rows.csv --policy minmax --policy mirror --counterfactual
    """
    from mutualize.research import waves as run

    if out.exists() and not out.is_dir():
        raise CliError(f"--out: {out} exists and is not a folder")
    path, label = _input(accounts, "accounts file")
    gaps_path = _input(gaps, "gaps file") if gaps is not None else None
    try:
        fund = to_micro_floor(parse_decimal(insurance_fund, "--insurance-fund"))
        rows = run.read_accounts(path, label)
        waves = run.group_waves(rows, gap_ms)
        budgets = None if gaps_path is None else run.read_gaps(gaps_path[0], waves, gaps_path[1])
        result = run.replay(waves, policies, budgets, progress=False if no_progress else None)
        twice = run.counterfactual(waves, policies, budgets, fund) if counterfactual else None
    except MutualizeError as exc:
        # ValueError: bad input; OverflowError: an amount in the files beyond int64.
        if isinstance(exc, ValueError | OverflowError):
            raise _user_errors(exc) from None
        raise
    users = len({r.user for r in rows})
    budget_kind = "per-coin budgets from " + gaps_path[1] if gaps_path else "losers' deficit"
    click.echo(
        f"{label}: {len(rows):,} rows, {users:,} accounts, {len(waves)} waves "
        f"(gap {gap_ms} ms); budgets: {budget_kind}"
    )
    click.echo(f"policies: {', '.join(result.policies)}")
    out.mkdir(parents=True, exist_ok=True)
    written = out / "policy_per_wave_metrics.csv"
    written.write_text(result.to_csv(), encoding="utf-8")
    click.echo(f"wrote {written}")
    if twice is not None:
        path_cf = out / "counterfactual_by_wave.csv"
        path_cf.write_text(twice.to_csv(), encoding="utf-8")
        click.echo(f"wrote {path_cf}")
        _summarize(result, twice)


def _summarize(result: Any, twice: Any) -> None:
    """Totals of both passes per policy, in USD to the cent, and how much of the budgets
    each pass covered (``mutualize.metrics.deficit_coverage``)."""
    from fractions import Fraction

    from mutualize.metrics import deficit_coverage
    from mutualize.research._money import rate_text

    def usd(micro: int) -> str:
        return cents(Fraction(micro, MICRO), grouping=True)

    def percent(share: Fraction) -> str:
        return f"{rate_text(share * 100, 2)}%"

    budget = sum(twice.budgets)
    off = deficit_coverage(budget, {"insurance fund": sum(twice.fund_paid)})
    click.echo(
        f"\nwithout ADL: the fund pays {usd(sum(twice.fund_paid))} "
        f"({percent(off['insurance fund'])}), bad debt {usd(sum(twice.bad_debt))} "
        f"({percent(off['uncovered'])}) of {usd(budget)} USD of budgets"
    )
    head = (
        "policy",
        "haircuts, one pass",
        "haircuts, two passes",
        "covered",
        "winners' equity lost",
    )
    rows = []
    for p in result.policies:
        # what the haircuts covered of each wave's budget, at most the budget
        covered = sum(min(h, b) for h, b in zip(twice.haircuts[p], twice.budgets, strict=True))
        on = deficit_coverage(budget, {"haircuts": covered})
        rows.append(
            (
                p,
                usd(sum(result.totals(p))),
                usd(sum(twice.haircuts[p])),
                percent(on["haircuts"]),
                usd(twice.equity_delta[p][-1]),
            )
        )
    for line in table_lines(head, rows):
        click.echo(line)
    click.echo("(USD; covered: the share of the budgets the two-pass haircuts raised;")
    click.echo(
        " winners' equity lost: in the last wave, its winners' equity without ADL minus with)"
    )


COMMANDS: tuple[click.Command, ...] = (score_command, replay_command)
