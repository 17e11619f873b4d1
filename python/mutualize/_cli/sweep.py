"""The ``sweep`` command: a scenario over many seeds and parameter values, on any
backend, and the parsers of its ``--seeds`` and ``--param`` options."""

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
    pick_policies,
    progress,
    scenario_argument,
)

__all__ = ["COMMANDS", "MAX_SEEDS", "parse_param", "parse_seeds"]

MAX_SEEDS = 10_000_000  # a typo like 1..1e12 should fail fast, not exhaust memory


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


@click.command(context_settings=CONTEXT)
@scenario_argument
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
@no_progress_option
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
        check_out_dir(out.parent)
    scenario = load_scenario(scenario_file, None)
    policies = pick_policies(scenario, policy_names) if policy_names else None
    with from_file(scenario_file):
        result = run_sweep(
            scenario,
            seeds=seed_list,
            params=params or None,
            policies=policies,
            backend=backend,
            workers=workers,
            address=address,
            progress=progress(no_progress),
        )
    click.echo(str(result))
    if out is not None:
        written = result.to_csv(out) if out.suffix.lower() == ".csv" else result.to_parquet(out)
        click.echo(f"\ntable: {written}")


#: The commands this module adds to ``mutualize``.
COMMANDS: tuple[click.Command, ...] = (sweep,)
