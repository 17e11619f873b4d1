"""The ``mutualize`` command line (also ``python -m mutualize``).

mutualize demo                          the built-in crash backtest, policies side by side
mutualize run SCENARIO.toml             one policy through a scenario: metrics and report
mutualize compare SCENARIO.toml         several policies through a scenario: table and report
mutualize sweep SCENARIO.toml --seeds   many seeds and parameter values, on any backend
mutualize allocate LOSS CLAIM...        allocate a loss (minor units) over claims
mutualize rules                         one loss shared under every allocation rule

Errors in what the user gave (a bad scenario file, option or value) print
``error: <message>`` on standard error and exit with status 2; a failure while running
exits with 1; Ctrl-C exits with 130. Nothing is written until the run has succeeded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

import mutualize
from mutualize.errors import MutualizeError
from mutualize.research.commands import replay_command, score_command

if TYPE_CHECKING:
    from mutualize.sim import Policy, Scenario

__all__ = ["CliError", "RunError", "main", "parse_param", "parse_seeds"]

DEFAULT_REPORT = Path("mutualize-report")
MAX_SEEDS = 10_000_000  # a typo like 1..1e12 should fail fast, not exhaust memory
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CliError(click.ClickException):
    """A user error: printed as ``error: <message>``, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message on standard error, without a traceback."""
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class RunError(CliError):
    """A failure while running (an engine or file-system error): exit status 1."""

    exit_code = 1


class _Cli(click.Group):
    """The command group: turns expected failures into clean messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
            return result
        except BrokenPipeError:
            # `mutualize demo | head`: the reader left; not an error.
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            ctx.exit(130)
        except click.ClickException:
            raise
        except MutualizeError as exc:
            # ScenarioError, InvalidInputError ... (ValueErrors): what the user gave was
            # wrong. Anything else (a missing optional backend, a broken invariant) failed
            # while running.
            if isinstance(exc, ValueError):
                raise CliError(str(exc)) from None
            raise RunError(str(exc)) from None
        except OSError as exc:
            raise RunError(_os_message(exc)) from None


def _silence_stdout() -> None:
    # A test runner's buffer has no real file descriptor: nothing to silence then.
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


@click.group(cls=_Cli, context_settings=_CONTEXT)
@click.version_option(mutualize.__version__, "--version", prog_name="mutualize")
def main() -> None:
    """Backtest how a derivatives venue shares its losses: insurance fund,
    socialized-loss haircuts and auto-deleveraging, exact to the minor unit.

    \b
    Start with:
      mutualize demo                      a seeded crash, four policies side by side
      mutualize compare my.toml           your scenario under its policies
      mutualize sweep my.toml --seeds 1..100 --param population.count=1000,5000

    Run `mutualize COMMAND --help` for each command's options and examples.
    """


# --- shared options ------------------------------------------------------------------


_out_option = click.option(
    "--out",
    type=click.Path(path_type=Path),  # checked by _check_out_dir, with our message
    default=DEFAULT_REPORT,
    show_default=True,
    help="Folder to write the report to (report.html and PNG plots); created on success.",
)
_seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Override the scenario's random seed (same seed, same results).",
)
_no_progress_option = click.option(
    "--no-progress",
    is_flag=True,
    help="Hide the progress bar (it is shown only on a terminal anyway).",
)
_scenario_argument = click.argument(
    "scenario_file", metavar="SCENARIO.toml", type=click.Path(path_type=Path)
)


def _progress(no_progress: bool) -> bool | None:
    """The engine's ``progress`` argument: off when asked, else automatic."""
    return False if no_progress else None


def _load_scenario(path: Path, seed: int | None) -> Scenario:
    """Read a scenario file; any problem with it is a :class:`CliError` naming the file."""
    from mutualize.sim import Scenario

    if not path.exists():
        raise CliError(f"scenario file not found: {path}")
    if not path.is_file():
        raise CliError(f"not a scenario file: {path}")
    try:
        scenario = Scenario.from_toml(path)
    except MutualizeError as exc:
        # A ScenarioError from a file already names it, then the key.
        message = str(exc)
        raise CliError(message if str(path) in message else f"{path}: {message}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {_os_message(exc)}") from None
    if seed is not None:
        scenario = scenario.with_seed(seed)
    return scenario


def _pick_policies(scenario: Scenario, names: Sequence[str]) -> list[Policy]:
    """The scenario's policies named in ``names`` (or built-in presets); all when empty."""
    from mutualize.sim import POLICY_NAMES, policy

    own = list(scenario.policies)
    if not names:
        return own
    by_name = {p.name: p for p in own}
    picked: list[Policy] = []
    for name in names:
        if name in by_name:
            picked.append(by_name[name])
        elif name in POLICY_NAMES:
            picked.append(policy(name))
        else:
            known = sorted(set(by_name) | set(POLICY_NAMES))
            raise CliError(f"--policy: unknown policy {name!r}; known: {', '.join(known)}")
    if len({p.name for p in picked}) != len(picked):
        raise CliError("--policy: each policy may be named only once")
    return picked


def _check_out_dir(out: Path) -> None:
    """Refuse, before running anything, an output folder that could not be created."""
    if out.exists() and not out.is_dir():
        raise CliError(f"--out: {out} exists and is not a folder")
    for parent in out.absolute().parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise CliError(f"--out: {parent} is not a folder")
            break


# --- demo ----------------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@_out_option
@_seed_option
@_no_progress_option
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
    from mutualize.sim import Scenario, compare

    _check_out_dir(out)
    scenario = Scenario.demo()
    if seed is not None:
        scenario = scenario.with_seed(seed)
    comparison = compare(scenario, progress=_progress(no_progress))
    click.echo(str(comparison))
    report = comparison.to_report(out)
    click.echo(f"\nreport: {report}")


# --- run and compare -------------------------------------------------------------------


@main.command(context_settings=_CONTEXT)
@_scenario_argument
@click.option(
    "--policy",
    "policy_name",
    default=None,
    metavar="NAME",
    help="The policy to run (one of the scenario's, or a preset); default: the scenario's first.",
)
@_out_option
@_seed_option
@click.option(
    "--parquet",
    is_flag=True,
    help="Also write the time series and per-account outcomes as Parquet files.",
)
@_no_progress_option
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
    _check_out_dir(out)
    scenario = _load_scenario(scenario_file, seed)
    candidates = _pick_policies(scenario, [policy_name] if policy_name else [])
    if not candidates:
        raise CliError(f"{scenario_file}: the scenario defines no policy; use --policy")
    from mutualize.sim import Comparison
    from mutualize.sim import run as run_scenario

    result = run_scenario(scenario, candidates[0], progress=_progress(no_progress))
    single = Comparison({result.policy: result})  # the table and report of one policy
    click.echo(str(single))
    report = single.to_report(out)
    click.echo(f"\nreport: {report}")
    if parquet:
        folder = result.to_parquet(out)
        click.echo(f"parquet: {folder / 'series.parquet'}, {folder / 'accounts.parquet'}")


@main.command(context_settings=_CONTEXT)
@_scenario_argument
@click.option(
    "--policy",
    "policy_names",
    multiple=True,
    metavar="NAME",
    help="A policy to compare (repeat the option); default: the scenario's policies.",
)
@_out_option
@_seed_option
@_no_progress_option
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
    _check_out_dir(out)
    scenario = _load_scenario(scenario_file, seed)
    policies = _pick_policies(scenario, policy_names)
    if not policies:
        raise CliError(f"{scenario_file}: the scenario defines no policy; use --policy")
    from mutualize.sim import compare as compare_scenario

    comparison = compare_scenario(scenario, policies, progress=_progress(no_progress))
    click.echo(str(comparison))
    report = comparison.to_report(out)
    click.echo(f"\nreport: {report}")


# --- sweep ---------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``7``, ``1,2,5``, ``1..100`` (inclusive) or a mix (``1..3,10``).

    Raises:
        CliError: anything else, an empty range, a negative or repeated seed.
    """
    seeds: list[int] = []
    for part in text.split(","):
        item = part.strip()
        try:
            if ".." in item:
                low_text, high_text = item.split("..", 1)
                low, high = int(low_text), int(high_text)
                if high < low:
                    raise CliError(f"--seeds: empty range {item!r} (the end is below the start)")
                if high - low >= MAX_SEEDS:
                    raise CliError(f"--seeds: {item!r} is more than {MAX_SEEDS:,} seeds")
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(item))
        except ValueError:
            raise CliError(
                f"--seeds: expected N, N,M,... or A..B (integers), got {text!r}"
            ) from None
    if len(seeds) > MAX_SEEDS:
        raise CliError(f"--seeds: more than {MAX_SEEDS:,} seeds")
    if any(s < 0 for s in seeds):
        raise CliError(f"--seeds: seeds must be >= 0, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise CliError(f"--seeds: a seed is repeated in {text!r}")
    return seeds


def parse_param(text: str) -> tuple[str, list[object]]:
    """``KEY=V1,V2,...`` -> (key, values). Values read as int, float, true/false or text.

    Raises:
        CliError: no ``=``, an empty key or an empty value.
    """
    key, sep, values_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CliError(f"--param: expected KEY=VALUE[,VALUE...], got {text!r}")
    values: list[object] = []
    for raw in values_text.split(","):
        item = raw.strip()
        if not item:
            raise CliError(f"--param {key}: empty value in {text!r}")
        values.append(_scalar(item))
    return key, values


def _scalar(text: str) -> object:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


@main.command(context_settings=_CONTEXT)
@_scenario_argument
@click.option(
    "--seeds",
    required=True,
    metavar="SEEDS",
    help="Seeds to run: 7, 1,2,5 or 1..100 (inclusive).",
)
@click.option(
    "--param",
    "param_texts",
    multiple=True,
    metavar="KEY=V1,V2",
    help="A scenario parameter and the values to try (repeat the option; the grid is "
    "their product), e.g. population.count=1000,2000.",
)
@click.option(
    "--policy",
    "policy_names",
    multiple=True,
    metavar="NAME",
    help="A policy to compare in each run (repeat the option); default: the scenario's.",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "threads", "dask", "ray"]),
    default="local",
    show_default=True,
    help="local: processes; threads; dask: dask.distributed; ray.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes or threads (default: the number of cores).",
)
@click.option(
    "--address",
    default=None,
    metavar="ADDR",
    help="Dask scheduler or Ray cluster address (default: start a local one).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write every run's metrics to FILE.parquet or FILE.csv.",
)
@_no_progress_option
def sweep(
    scenario_file: Path,
    seeds: str,
    param_texts: tuple[str, ...],
    policy_names: tuple[str, ...],
    backend: str,
    workers: int | None,
    address: str | None,
    out: Path | None,
    no_progress: bool,
) -> None:
    """Run a scenario over many seeds and parameter values; print the metric summary.

    Each run compares the policies on one seed and parameter point; the summary gives
    each metric's mean and quantiles over the seeds. Every backend gives the same table.

    \b
    Examples:
      mutualize sweep crash.toml --seeds 1..100
      mutualize sweep crash.toml --seeds 1..20 --param population.count=1000,5000
      mutualize sweep crash.toml --seeds 1..1000 --backend dask --address tcp://host:8786 \\
          --out sweep.parquet
    """
    from mutualize.sim import sweep as run_sweep  # light: the engine loads in the tasks

    seed_list = parse_seeds(seeds)
    params: dict[str, list[object]] = {}
    for text in param_texts:
        key, values = parse_param(text)
        if key in params:
            raise CliError(f"--param {key}: given twice")
        params[key] = values
    if out is not None:
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise CliError(f"--out: expected a .parquet or .csv file, got {out}")
        if out.is_dir():
            raise CliError(f"--out: {out} is a folder")
        _check_out_dir(out.parent)
    scenario = _load_scenario(scenario_file, None)
    policies = _pick_policies(scenario, policy_names) if policy_names else None
    result = run_sweep(
        scenario,
        seeds=seed_list,
        params=params or None,
        policies=policies,
        backend=backend,
        workers=workers,
        address=address,
        progress=_progress(no_progress),
    )
    click.echo(str(result))
    if out is not None:
        written = result.to_csv(out) if out.suffix.lower() == ".csv" else result.to_parquet(out)
        click.echo(f"\ntable: {written}")


# --- the allocation kernel -------------------------------------------------------------


@main.command(context_settings={**_CONTEXT, "ignore_unknown_options": True})
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


@main.command(context_settings=_CONTEXT)
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


main.add_command(score_command)  # research: mutualize.research.commands
main.add_command(replay_command)

if __name__ == "__main__":
    main()
