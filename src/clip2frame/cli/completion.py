"""``clip2frame completion bash|zsh``: a shell completion script for every command and flag (via shtab)."""
from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh")


def register(subparsers) -> None:
    """Add the ``completion`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "completion", help="print a shell completion script (bash or zsh)",
        description="Print a completion script for clip2frame's commands and flags (needs the 'completion' "
                    "extra: pip install 'clip2frame[completion]').",
        epilog="examples:\n  clip2frame completion bash > ~/.local/share/bash-completion/completions/clip2frame\n"
               "  clip2frame completion zsh > ~/.zfunc/_clip2frame   # with fpath+=(~/.zfunc) in ~/.zshrc",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame completion``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from ..errors import ConfigError
    from . import build_parser

    try:
        import shtab
    except ImportError:
        raise ConfigError("completion: the 'shtab' package is not installed "
                          "(pip install 'clip2frame[completion]')") from None
    print(shtab.complete(build_parser(), shell=args.shell), end="")
    return 0
