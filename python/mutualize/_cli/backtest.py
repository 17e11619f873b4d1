"""The backtest commands: ``demo``, ``run`` and ``compare`` (a scenario through one
or several policies: the table on the terminal, the report in a folder)."""

from __future__ import annotations

from pathlib import Path

import click

from mutualize._cli.common import (
    CONTEXT,
    CliError,
    check_out_dir,
    from_file,
    load_scenario,
    no_progress_option,
    out_option,
    pick_policies,
    progress,
    scenario_argument,
    seed_option,
)

__all__ = ["COMMANDS"]


@click.command(context_settings=CONTEXT)
@out_option
@seed_option
@no_progress_option
def demo(out: Path, seed: int | None, no_progress: bool) -> None:
    """Run the built-in crash backtest and compare the loss-sharing policies.

    A seeded crash-and-rebound on a few thousand leveraged accounts, run under an
    OKX-style clawback, a BitMEX-style ADL, capped pro rata and equal_award. Prints the
    comparison table and writes the report.

    \b
    Examples:
      mutualize demo
      mutualize demo --out /tmp/crash --seed 7 --no-progress
    """
    from mutualize.sim import Scenario, compare, write_report

    check_out_dir(out)
    scenario = Scenario.demo()
    if seed is not None:
        scenario = scenario.with_seed(seed)
    comparison = compare(scenario, progress=progress(no_progress))
    click.echo(str(comparison))
    report = write_report(comparison, out)
    click.echo(f"\nreport: {report}")


@click.command(context_settings=CONTEXT)
@scenario_argument
@click.option(
    "--policy",
    "policy_name",
    default=None,
    metavar="NAME",
    help="The policy to run (one of the scenario's, or a preset); default: the scenario's first.",
)
@out_option
@seed_option
@click.option(
    "--parquet",
    is_flag=True,
    help="Also write the time series and per-account outcomes as Parquet files.",
)
@no_progress_option
def run(
    scenario_file: Path,
    policy_name: str | None,
    out: Path,
    seed: int | None,
    parquet: bool,
    no_progress: bool,
) -> None:
    """Run one policy through a scenario: print its metrics, write the report.

    \b
    Examples:
      mutualize run crash.toml
      mutualize run crash.toml --policy bitmex_adl --seed 3 --out runs/adl --parquet
    """
    check_out_dir(out)
    scenario = load_scenario(scenario_file, seed)
    candidates = pick_policies(scenario, [policy_name] if policy_name else [])
    if not candidates:
        raise CliError(f"{scenario_file}: the scenario defines no policy; use --policy")
    from mutualize.sim import Comparison, write_report
    from mutualize.sim import run as run_scenario

    with from_file(scenario_file):
        result = run_scenario(scenario, candidates[0], progress=progress(no_progress))
    single = Comparison({result.policy: result})  # the table and report of one policy
    click.echo(str(single))
    report = write_report(single, out)
    click.echo(f"\nreport: {report}")
    if parquet:
        folder = result.to_parquet(out)
        click.echo(f"parquet: {folder / 'series.parquet'}, {folder / 'accounts.parquet'}")


@click.command(context_settings=CONTEXT)
@scenario_argument
@click.option(
    "--policy",
    "policy_names",
    multiple=True,
    metavar="NAME",
    help="A policy to compare (repeat the option); default: the scenario's policies.",
)
@out_option
@seed_option
@no_progress_option
def compare(
    scenario_file: Path,
    policy_names: tuple[str, ...],
    out: Path,
    seed: int | None,
    no_progress: bool,
) -> None:
    """Run several policies through the same scenario: print the table, write the report.

    \b
    Examples:
      mutualize compare crash.toml
      mutualize compare crash.toml --policy okx_clawback --policy bitmex_adl --out cmp
    """
    check_out_dir(out)
    scenario = load_scenario(scenario_file, seed)
    policies = pick_policies(scenario, policy_names)
    if not policies:
        raise CliError(f"{scenario_file}: the scenario defines no policy; use --policy")
    from mutualize.sim import compare as compare_scenario
    from mutualize.sim import write_report

    with from_file(scenario_file):
        comparison = compare_scenario(scenario, policies, progress=progress(no_progress))
    click.echo(str(comparison))
    report = write_report(comparison, out)
    click.echo(f"\nreport: {report}")


#: The commands this module adds to ``mutualize``.
COMMANDS: tuple[click.Command, ...] = (demo, run, compare)
