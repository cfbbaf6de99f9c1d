"""The ``aliasfree`` command.

Each subcommand lives in ``aliasfree/commands/<name>.py`` and exposes ``add_parser(sub)`` and
``run(args) -> int``. Every command module is imported to build the parser, so their top-level
imports stay light: torch and ``gan`` are imported inside ``run()``, and DSP subcommands never
import torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

# Subcommand name -> module under aliasfree.commands. Modules must keep top-level imports light
# (argparse, pathlib): heavy imports belong inside run().
COMMANDS: dict[str, str] = {
    "tour": "tour",
    "filter": "filter",
    "schedule": "schedule",
    "spectrum": "spectrum",
    "generate": "generate",
    "equivariance": "equivariance",
    "sticking": "sticking",
    "video": "video",
    "dataset": "dataset",
    "aliasing": "aliasing",
    "train": "train",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aliasfree",
        description=(
            "Signal processing for alias-free generative networks: design and analyse "
            "filters, layer schedules and spectra; generate images and measure equivariance "
            "with the reference generators."
        ),
    )
    from aliasfree import __version__

    parser.add_argument("--version", action="version", version=f"aliasfree {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
        mod = importlib.import_module(f"aliasfree.commands.{module}")
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    mod = importlib.import_module(f"aliasfree.commands.{COMMANDS[args.command]}")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            return int(mod.run(args) or 0)
    except ValueError as exc:
        # Bad input: a clear one-line message and exit status 2, as argparse does.
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        text = flag_named(str(exc), sub.choices[args.command], getattr(mod, "FLAG_NAMES", {}))
        print(f"aliasfree {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # A (second) Ctrl-C: outputs are written atomically, so nothing half-written is left.
        print(f"aliasfree {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`aliasfree ... | head`): stop quietly, as Unix tools
        # do; pointing stdout at devnull keeps the interpreter's final flush from complaining.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as exc:
        # The file system refused (unwritable --out, disk full, ...): say what and where,
        # without a traceback; exit status 1 as for other failures.
        print(f"aliasfree {args.command}: error: {_os_error_text(exc)}", file=sys.stderr)
        return 1


_PACKAGES = tuple(
    str(Path(__file__).resolve().parents[1] / p) + os.sep for p in ("aliasfree", "dsp", "gan")
)


def _warning_printer(command: str):
    """A ``warnings.showwarning`` for the duration of a command: this project's warnings (the
    library tells a caller something through ``warnings.warn``) as one ``aliasfree COMMAND:
    warning: ...`` line, like the command's own notes and errors, instead of Python's format
    with a file name and a source line; other packages' warnings as Python prints them."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if str(Path(filename).resolve()).startswith(_PACKAGES):
            print(f"aliasfree {command}: warning: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


_LEADING_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?=(\[\d+\])? must |=)")


def flag_named(text: str, parser: argparse.ArgumentParser, aliases: dict[str, str]) -> str:
    """``text`` (an error) with its leading argument name written as the command-line flag.

    The library functions a command calls name their own parameters (``num must be >= 1``);
    the user typed ``--num``. A leading ``name must …`` / ``name[i] must …`` / ``name=…`` whose
    name is an option's ``dest`` of ``parser``, or a key of the command's ``aliases`` (library
    names that differ from the flag's dest: ``r1_gamma`` → ``--gamma``), gets the flag instead;
    anything else is returned unchanged.
    """
    m = _LEADING_NAME.match(text)
    if m is None:
        return text
    name = m.group(1)
    flag = aliases.get(name)
    if flag is None:
        for action in parser._actions:
            if action.dest == name and action.option_strings:
                flag = max(action.option_strings, key=len)
                break
    return text if flag is None else flag + text[len(name) :]


def _os_error_text(exc: OSError) -> str:
    """``"Permission denied: '/x/y'"`` from an ``OSError`` (falls back to ``str(exc)``)."""
    if not exc.strerror:
        return str(exc) or type(exc).__name__
    text = exc.strerror
    if exc.filename is not None:
        text += f": {str(exc.filename)!r}"
    if exc.filename2 is not None:
        text += f" -> {str(exc.filename2)!r}"
    return text


if __name__ == "__main__":
    sys.exit(main())
