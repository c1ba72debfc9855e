"""Developer scripts kept out of the installed package (a package so tests import them by name)."""
