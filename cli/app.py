"""The ``edgelat`` command group, its shared printing helpers and `main`, which turns any
EdgelatError into a one-line ``edgelat: error: ...`` on stderr and exit code 2. The commands live
in profile_commands.py, predict_commands.py and search_commands.py."""

from __future__ import annotations

import errno
import json
import os
import sys

import click
from rich.console import Console

from edgelat import __version__
from edgelat.core.cli_vocabulary import modernize
from edgelat.core.progress_bar import err
from edgelat.core.quiet import quiet_tensorflow
from edgelat.errors import EdgelatError

# Piped output gets a wide console so tables are not truncated at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgelat")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's own start-up and conversion logs.")
def cli(verbose: bool) -> None:
    """edgelat: profile MBConv blocks on devices, predict latency, search architectures."""
    if verbose:  # before any command imports TensorFlow; worker processes inherit it
        os.environ["EDGELAT_VERBOSE"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


def format_bytes(n: int) -> str:
    """A memory size as the device files write it (2MB, 512KB)."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def print_json_or(obj, as_json: bool, human) -> None:
    """`obj` as one line of JSON under --json, else through `human`."""
    if as_json:
        click.echo(json.dumps(obj))
    else:
        human(obj)


def main(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default: sys.argv); the exit code."""
    quiet_tensorflow()  # before any command imports TensorFlow; `import edgelat` alone leaves the process be
    argv, deprecated = modernize(sys.argv[1:] if argv is None else list(argv))
    for line in deprecated:
        err.print(f"edgelat: warning: {line}", markup=False, soft_wrap=True)
    try:
        cli.main(args=argv, prog_name="edgelat", standalone_mode=False)
    except EdgelatError as exc:
        err.print(f"edgelat: error: {exc}", markup=False, soft_wrap=True)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        err.print(f"edgelat: error: {exc.filename or 'an output file'}: the disk is full; free space and re-run "
                  f"the same command to resume", markup=False, soft_wrap=True)
        return 2
    except click.exceptions.Abort:
        err.print("edgelat: interrupted; re-run the same command to resume", markup=False)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except KeyboardInterrupt:
        err.print("edgelat: interrupted; re-run the same command to resume", markup=False)
        return 130
    return 0

