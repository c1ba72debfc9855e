import sys

from frecore.cli import main

sys.exit(main())
