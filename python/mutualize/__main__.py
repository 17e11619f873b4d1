"""``python -m mutualize`` and the ``mutualize`` console script: the command line, or one
line naming the extra to install when its packages are missing."""

import sys

from mutualize._extras import MissingExtraError


def main() -> None:
    """Run the command line (:data:`mutualize.cli.main`)."""
    try:
        from mutualize.cli import main as command_line
    except MissingExtraError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from None
    command_line()


if __name__ == "__main__":
    main()
