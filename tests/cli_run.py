"""The ``tokensmith`` command run in the test's own process."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from unittest import mock

from tokensmith.cli import main as cli_main


@dataclass(frozen=True)
class CliRun:
    """What a run of the command line left: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path, env: Mapping[str, str], stdin: TextIO | None = None) -> CliRun:
    """``tokensmith ARGS`` run in this process as a shell in ``cwd`` with exactly the environment
    ``env`` would run it, without the two seconds a new interpreter takes to start and import.
    ``python -m tokensmith`` itself is run as a process by ``test_cli.py``. Standard input is
    ``stdin``, by default empty (not a terminal).

    An exception escaping the command fails the test, as its traceback would fail a check of
    the process's stderr."""
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch.object(sys, "stdin", stdin if stdin is not None else io.StringIO()),
    ):
        try:
            code = cli_main(list(args))
        except SystemExit as exc:  # argparse's usage errors and --help
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return CliRun(code, out.getvalue(), err.getvalue())
