"""The one-line user error every command line of the project shows (device, convert, train, bench)."""

from __future__ import annotations

import errno
import os
import sys
from typing import NoReturn

import click


class OneLineError(click.ClickException):
    """A user's error, shown as one line on stderr: `error: what, which file, what to do`. Exit 1."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class BadInput(OneLineError):
    """A bad model, data file or display: exit status 2, as click gives a bad option."""

    exit_code = 2


# A full disk, a quota, a closed pipe or a failing device: the output cannot be written.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE, errno.EIO}


def run_program(main: click.Command, prog_name: str) -> NoReturn:
    """Run a click command as `python -m ...` does: output that cannot be written (stdout on a full
    disk, a closed pipe) is one line on stderr and exit 1, not a traceback at the first write or
    an "Exception ignored" at exit, when Python flushes what is left."""
    try:
        main(prog_name=prog_name)  # standalone: ends in SystemExit with the command's status
    except SystemExit as done:
        code = done.code
    except OSError as error:
        if error.errno not in _OUTPUT_ERRNOS:
            raise
        code = _cannot_write(error)
    try:
        sys.stdout.flush()  # what is still buffered, while an error can still be reported
    except OSError as error:
        code = _cannot_write(error)
    sys.exit(code)


def _cannot_write(error: OSError) -> int:
    where = f"{error.filename}" if error.filename else "the output"
    try:
        click.echo(f"error: cannot write {where}: {error.strerror or error}", err=True)
    except OSError:
        pass
    # Whatever stdout still buffers goes nowhere, so the flush at exit cannot fail again.
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), sys.stdout.fileno())
    return 1
