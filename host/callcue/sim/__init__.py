"""The virtual dongle. board/ holds the simulated boards' MicroPython scripts (hal_sim,
sim, sim_repl): run under the unix port beside the firmware, never flashed."""

from pathlib import Path

BOARD = Path(__file__).resolve().parent / "board"
