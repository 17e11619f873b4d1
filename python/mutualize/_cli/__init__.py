"""The ``mutualize`` command line's commands, one module per family (``backtest``,
``sweep``, ``kernel``) over the shared pieces of ``common``; :mod:`mutualize.cli`
assembles them. A new command is a module here with a ``COMMANDS`` tuple, listed in
``mutualize.cli.COMMAND_MODULES``."""
