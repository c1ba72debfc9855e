import os
import signal
import sys

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def _main() -> int:
    """The CLI, with Ctrl-C at any point, also while its modules import, one line and exit 130.

    During the imports a Ctrl-C is held and acted on once they finish: interrupted halfway, an
    extension module (numpy under torch) is left half-loaded and the next import of it fails with
    a traceback of its own."""
    held: list[int] = []
    hold = signal.getsignal(signal.SIGINT) is signal.default_int_handler  # not where the shell ignores it
    if hold:
        signal.signal(signal.SIGINT, lambda *_: held.append(1))
    try:
        from frecore.cli import main
    finally:
        if hold:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if held:
            raise KeyboardInterrupt
        code = main()
    except KeyboardInterrupt:  # outside main's own handler: nothing written yet
        print("\ninterrupted: stopped before any work; nothing was written", file=sys.stderr)
        code = INTERRUPTED
    if code == INTERRUPTED:
        # os._exit, not sys.exit: a Ctrl-C that landed in an extension's start-up code (pybind11 runs
        # Python there) leaves CPython's "unhandled Ctrl-C" flag set, and it would kill itself by SIGINT
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while exiting stays quiet
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED)
    return code


sys.exit(_main())
