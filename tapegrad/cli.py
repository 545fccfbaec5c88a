"""The ``tapegrad`` command (also ``python -m tapegrad``).

    tapegrad quickstart [--epochs 5] [--batch-size 32] [--data digits|mnist=PATH|fashion_mnist=PATH]
                        [--resume | --overwrite] [--lang ko|en] [--checkpoint-dir DIR] [--seed 0]
                        [--threads 1] [--inspect]
    tapegrad gan dcgan [--epochs N] [--data digits|mnist=PATH] [--eager] [--score] [--threads 1] ...
    tapegrad gan pix2pix [--epochs N] [--data digits|DIR] [--eager] [--resume | --overwrite] ...
    tapegrad --version

Errors a user can fix (a missing data file, an unwritable folder, a corrupt checkpoint or one from
another architecture, a folder holding another run) are reported in one line, exit status 1; a bad
option, status 2.  Nothing printed fails on the terminal's encoding (``apps/terminal.py``).
"""
from __future__ import annotations

import argparse
import sys

from . import __tapegrad_version__
from .apps import runs, terminal, threads


def main(argv=None) -> int:
    """Run the command line `argv` (default ``sys.argv[1:]``); returns the exit status.

    >>> main(["quickstart", "--data", "cifar10"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    with terminal.tolerant_output():
        return _run(_parser().parse_args(argv))


def _run(args) -> int:
    from .apps import gan, quickstart
    try:
        with threads.for_command(args.threads, sys.stderr):
            if args.command == "gan":
                gan.run(args)
            else:
                lang, hint = terminal.choose_lang(args.lang)
                if hint:
                    print(hint, file=sys.stderr)
                quickstart.run(epochs=args.epochs, batch_size=args.batch_size, data=args.data,
                               resume=args.resume, overwrite=args.overwrite, lang=lang,
                               checkpoint_dir=args.checkpoint_dir, seed=args.seed, inspect=args.inspect)
    except KeyboardInterrupt:
        kept = ("the pictures written so far are kept" if getattr(args, "model", None) == "dcgan"
                else "the checkpoints saved so far are kept (continue with --resume)")
        print(f"tapegrad: interrupted; {kept}.", file=sys.stderr)
        return 130
    except (OSError, ValueError, LookupError, _op_error()) as e:
        print(f"tapegrad: error: {_one_line(e)}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    from .apps.quickstart import parse_data
    parser = argparse.ArgumentParser(prog="tapegrad",
                                     description="tapegrad: GradientTape training, on NumPy.")
    parser.add_argument("--version", action="version", version=f"tapegrad {__tapegrad_version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    quick = commands.add_parser(
        "quickstart", help="train the seed's CNN with its GradientTape loop",
        description="Train the seed's CNN with its GradientTape loop, printing the seed's line per epoch "
                    "and saving a checkpoint after each.")
    quick.add_argument("--epochs", type=positive_int, default=5,
                       help="epochs in all (with --resume, training continues up to this); default 5")
    quick.add_argument("--batch-size", type=positive_int, default=32, help="default 32")
    quick.add_argument("--data", type=validated_by(parse_data), default="digits",
                       help="digits (bundled, 8x8; default), mnist[=PATH] or fashion_mnist[=PATH] (28x28, "
                            "from a Keras .npz or a folder of IDX files)")
    runs.add_arguments(quick)
    quick.add_argument("--lang", choices=terminal.LANGUAGES, default=None,
                       help="language of the output: ko prints the seed's Korean lines; default: from the "
                            "locale (LC_ALL, LC_MESSAGES, LANG), ko for a Korean one, else en")
    quick.add_argument("--checkpoint-dir", metavar="DIR",
                       help="where checkpoints go (default: tapegrad-checkpoints/quickstart-DATA)")
    quick.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    threads.add_option(quick)
    quick.add_argument("--inspect", action="store_true",
                       help="after each epoch, print each variable's gradient norm and update/weight ratio "
                            "and each ReLU layer's dead units; plot them at the end (PNG, with matplotlib)")
    from .apps.gan import add_parser
    add_parser(commands)
    return parser


def positive_int(text: str) -> int:
    """argparse type: a positive integer (the command's and its subcommands' option parsers share it)."""
    return _whole_number(text, least=1, what="a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: 0 or a positive integer."""
    return _whole_number(text, least=0, what="0 or a positive integer")


def _whole_number(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text}")
    return value


def validated_by(parse):
    """argparse type: the text itself, once `parse` accepts it (its ValueError becomes argparse's error)."""
    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return text
    return check


def _op_error():
    from .errors import OpError
    return OpError


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
