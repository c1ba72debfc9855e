"""Layer 5, reporting: the results store, summaries, markdown pages, plots, the authors' curves and
the settings-provenance page."""
