import signal
import sys


def _main() -> int:
    """The CLI, with Ctrl-C at any point (also while its modules import) one line and exit 130."""
    try:
        from frecore.cli import main

        return main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while exiting stays quiet
        print("\ninterrupted: stopped before any work; nothing was written", file=sys.stderr)
        return 130


sys.exit(_main())
