"""callcue host tools: analyse calls, drive the dongle, compare against the reference."""

__version__ = "0.1.0"
