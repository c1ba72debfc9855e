# frecore: `make table1` regenerates Table 1 (layered, conv and P-EP rows); `make test` runs the suite.
# The first target run creates .venv from requirements.lock (every dependency pinned) and installs frecore.
PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= quick
DEVICE  ?= auto
# EXECUTOR=auto trains the runs that can share a pass side by side on CUDA (PROFILE=paper on a GPU)
# and one after another on the CPU; side-by-side groups them on the CPU too, inprocess never
# (docs/speed.md); ray trains each run as a Ray task ($RAY_ADDRESS picks the cluster; docs/scale-out.md)
EXECUTOR ?= auto
RESULTS ?= results
STAMP   := $(VENV)/.frecore-installed
# The executed notebook: the copy under results/ is the committed record of the run behind the
# committed numbers, rewritten only with RECORD=1; otherwise it goes to build/executed/ (ignored
# by git), so `make <experiment>` that changes no number leaves `git status` clean. Another
# RESULTS folder keeps its executed copies beside its results.
OWN_RESULTS := $(filter-out results results/,$(RESULTS))
EXECUTED = $(if $(or $(RECORD),$(OWN_RESULTS)),$(RESULTS),build/executed)/$@_$(PROFILE).ipynb
# Files of the quick profile (the committed reference) keep bare names; any other profile's carry
# its name, so a smoke or paper run never overwrites them (and only quick rewrites the README).
SUFFIX  := $(if $(filter quick,$(PROFILE)),,_$(PROFILE))
BIN     := $(VENV)/bin

# Notebooks run with notebooks/ as their working directory: hand them an absolute data root.
ifdef FRECORE_DATA
export FRECORE_DATA := $(abspath $(FRECORE_DATA))
endif

FIGURES := fig2 figS10  # figures computed directly, not as a resumable sweep: no summary
# Every other notebook runs the registered experiment of its name (a module of frecore/experiments/):
# adding a table is that module and notebooks/<name>.ipynb, nothing here (docs/extending.md).
EXPERIMENTS := $(filter-out $(FIGURES),$(basename $(notdir $(wildcard notebooks/*.ipynb))))

.PHONY: help venv lock $(EXPERIMENTS) $(FIGURES) $(STUDIES) lint test bench lab docs clean-smoke campaign campaign-pages

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
	@echo "Settings: PROFILE=smoke|quick|paper  RESULTS=DIR (default results)  FRESH=1 (retrain from nothing"
	@echo "  into RESULTS: stops if it holds any run)  RECORD=1 (rewrite results/<exp>_<profile>.ipynb)"
	@echo "  DEVICE=auto|cpu|cuda  EXECUTOR=auto|inprocess|side-by-side|ray  LAB_ARGS=\"--no-browser --port 8899\""

# The venv installs the whole locked tree (requirements.lock: every package, pinned), then frecore
# itself without resolving anything more. `make lock` regenerates the lock from pyproject.toml.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.lock
	$(BIN)/pip install -e . --no-deps
	touch $(STAMP)

venv: $(STAMP) ## create .venv from requirements.lock (every dependency pinned), then frecore itself

lock: ## regenerate requirements.lock from pyproject.toml and its extras (needs uv: pip install uv)
	uv pip compile pyproject.toml --extra dev --extra ray --universal --python-version 3.11.5 -o requirements.lock

table1: ## Table 1, every row -> results/table1.csv, table1_summary.csv, table1.png (plan and ETA printed first)
table2: ## Table 2, deep/residual/AGT/conv nets on MNIST and CIFAR-10 (where present) -> results/table2*
tableS1: ## Table S1, accuracy vs beta_i for every architecture -> results/tableS1*.csv, tableS1.png
figS8: ## Figure S8, accuracy vs AGT connection probability P (10HL) -> results/figS8*.csv, figS8.png
fig4: ## Figure 4, accuracy over an alpha_i x beta_i grid -> results/fig4*.csv, fig4.png
fig5: ## Figure 5, dynamics vs beta_i -> results/fig5.csv, fig5_summary.csv, fig5.png
figS11: ## Figure S11, accuracy when only the last n_ll layers learn -> results/figS11*.csv, figS11.png
figS12: ## Figure S12, weight and state noise in training and test -> results/figS12*.csv, figS12.png
figS13: ## Figure S13, state noise at test time only -> results/figS13*.csv, figS13.png
fig6: ## Figure 6, test error vs epoch for T and for beta_i at several depths -> results/fig6*.csv, fig6.png
figS1: ## Figure S1, FTMLE, MLE and accuracy vs epoch, symmetric 2-10HL (Table S1's runs) -> results/figS1*
figS2: ## Figure S2, the same for asymmetric nets (Table S1's runs) -> results/figS2*
figS3: ## Figure S3, maxima of FTMLE and accuracy vs beta_i, from S1-S2's runs (trains nothing) -> results/figS3*
figS4: ## Figure S4, conv net: P-EP vs ours at beta_i 0.01/0.1/1 (Table 1's and S1's runs) -> results/figS4*
figS5: ## Figure S5, per-neuron error and accuracy vs epoch, 2HL (Table S1's runs) -> results/figS5*
figS6: ## Figure S6, the same for 10HL -> results/figS6*
figS7: ## Figure S7, the same for 10HL with residual links -> results/figS7*

# One rule for every experiment: print its plan (runs to train, runs reused, estimated time; FRESH=1
# refuses a RESULTS folder that already holds any of its runs), run its notebook with papermill
# through `frecore notebook` (bad input inside the notebook ends in one line, not a traceback;
# --log-output streams the sweep's progress lines: one per run start and end, with an ETA), keep the
# executed copy (named by profile; EXECUTED above) without what changes from one execution to the
# next (timings, execution counts, progress lines, this checkout's path: `frecore strip-notebook`);
# then regenerate its page docs/results/<experiment>.md from the summary (and the README's headline
# block, for the experiments that have one: Table 1). Results in another folder (RESULTS=/tmp/mine)
# get their page there and leave docs/ and the README alone.
$(EXPERIMENTS): %: $(STAMP)
	$(BIN)/python -m frecore plan $@ --profile $(PROFILE) --out-dir $(RESULTS) --device $(DEVICE) $(if $(FRESH),--fresh)
	mkdir -p $(RESULTS) $(dir $(EXECUTED))
	$(BIN)/python -m frecore notebook notebooks/$@.ipynb $(EXECUTED) --cwd notebooks --log-output \
		-p profile $(PROFILE) -p device $(DEVICE) -p out_dir $(abspath $(RESULTS)) -p progress lines \
		-p executor $(EXECUTOR)
	$(BIN)/python -m frecore strip-notebook $(EXECUTED)
	$(BIN)/python -m frecore report $@ --out-dir $(RESULTS) --profile $(PROFILE) --page $(if $(OWN_RESULTS),$(RESULTS),docs/results)/$@$(SUFFIX).md \
		$(if $(and $(filter quick,$(PROFILE)),$(if $(OWN_RESULTS),,$(shell grep -l '<!-- $@:start -->' README.md))),--update-readme README.md)

fig2: ## Figure 2, state evolution at weak and strong feedback -> results/fig2.csv, fig2.png
figS10: ## Figure S10, EP vs BP cosine similarity per layer -> results/figS10.csv, figS10.png

$(FIGURES): %: $(STAMP)
	mkdir -p $(RESULTS) $(dir $(EXECUTED))
	$(BIN)/python -m frecore notebook notebooks/$@.ipynb $(EXECUTED) --cwd notebooks \
		-p profile $(PROFILE) -p device $(DEVICE) -p out_dir $(abspath $(RESULTS))
	$(BIN)/python -m frecore strip-notebook $(EXECUTED)

# Studies beyond the paper (frecore/experiments/studies.py): planned, resumed and recorded like a
# table, no notebook (no figure of the paper); their page goes to docs/results/<study>.md.
STUDIES := settle conv_cycle
settle: ## study: EP's relaxation stopped when settled vs the paper's fixed T/K -> results/settle*
conv_cycle: ## study: does the conv nudged phase settle as the net learns? -> results/conv_cycle*

$(STUDIES): %: $(STAMP)
	$(BIN)/python -m frecore run $@ --profile $(PROFILE) --out-dir $(RESULTS) --device $(DEVICE)
	$(BIN)/python -m frecore report $@ --out-dir $(RESULTS) --profile $(PROFILE) \
		--page $(if $(OWN_RESULTS),$(RESULTS),docs/results)/$@$(SUFFIX).md

# The campaign: the paper's protocol for every row this CPU can afford, banked across sessions
# (frecore/experiments/campaign.py; docs/campaign.md). One thread and nice 19 by default, so that
# foreground work keeps the other core; ENTRIES=REGEX picks queue entries by key.
BUDGET  ?= 150m
THREADS ?= 1
campaign: $(STAMP) ## paper-profile queue under a time budget, resumable (BUDGET=150m THREADS=1 ENTRIES=regex)
	OMP_NUM_THREADS=$(THREADS) MKL_NUM_THREADS=$(THREADS) nice -n 19 $(BIN)/python -m frecore campaign \
		--budget $(BUDGET) --threads $(THREADS) --out-dir $(RESULTS) --device $(if $(filter auto,$(DEVICE)),cpu,$(DEVICE)) \
		$(if $(ENTRIES),--entries '$(ENTRIES)')
	$(MAKE) --no-print-directory campaign-pages

campaign-pages: $(STAMP) ## rewrite the tables' pages, README's Table 1 and docs/campaign.md's standing from RESULTS
	set -e; for e in table1 table2 tableS1; do \
		if [ -f $(RESULTS)/$${e}_paper_summary.csv ]; then \
			if [ -f $(RESULTS)/$${e}_summary.csv ]; then \
				$(BIN)/python -m frecore report $$e --out-dir $(RESULTS) --profile quick \
					--page $(if $(OWN_RESULTS),$(RESULTS),docs/results)/$$e.md \
					$(if $(OWN_RESULTS),,$$(grep -q "<!-- $$e:start -->" README.md && echo --update-readme README.md)) > /dev/null; \
			fi; \
			$(BIN)/python -m frecore report $$e --out-dir $(RESULTS) --profile paper \
				--page $(if $(OWN_RESULTS),$(RESULTS),docs/results)/$${e}_paper.md > /dev/null; \
		fi; \
	done
	$(if $(OWN_RESULTS),,$(BIN)/python -m frecore campaign --out-dir $(RESULTS) --standing docs/campaign.md)

lint: $(STAMP) ## ruff check (pyproject.toml [tool.ruff]): what make test checks first
	$(BIN)/ruff check .

test: $(STAMP) ## the linter, unit tests, then every notebook under nbval in the smoke profile
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -p no:cacheprovider tests
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax notebooks

bench: $(STAMP) ## speed ratios, each measured in one process: EP/BP, Table 1's conv and P-EP pairs, graph steps, members side by side
	$(BIN)/python bench/ep_vs_bp.py
	$(BIN)/python bench/table1_ratios.py
	$(BIN)/python bench/graph_step.py
	$(BIN)/python bench/ensemble.py

docs: $(STAMP) ## regenerate docs/provenance.md (paper text vs the authors' code, per row) from the registry
	$(BIN)/python -m frecore provenance --out docs/provenance.md

# Root (a container, a cloud notebook) needs --allow-root; a user does not. LAB_ARGS passes options,
# e.g. LAB_ARGS="--no-browser --port 8899" on a remote machine.
lab: $(STAMP) ## open the notebooks in JupyterLab (as root too; LAB_ARGS="--no-browser --port 8899")
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean-smoke: ## remove smoke-profile outputs
	rm -rf $(RESULTS)/smoke
