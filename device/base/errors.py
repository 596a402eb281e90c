"""The one-line user error every command line of the project shows (device, convert, train, bench)."""
from __future__ import annotations

import click


class OneLineError(click.ClickException):
    """A user's error, shown as one line on stderr: `error: what, which file, what to do`. Exit 1."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class BadInput(OneLineError):
    """A bad model, data file or display: exit status 2, as click gives a bad option."""

    exit_code = 2
