"""The one error type of the `callcue` commands.

A command's run(args) raises CommandError(what, reason, code) for anything it cannot do:
`what` is the file, port, option or archive at fault and `reason` what is wrong and what to
do. cli.main prints it as exactly one line, `callcue: error: WHAT: reason`, and exits with
`code` (1 by default; 2, BAD_INPUT, for input that cannot be used), never a traceback.
"""

OK = 0
BAD_INPUT = 2


class CommandError(Exception):
    """A command failed: `what` (a port, file, option or archive) and `reason` (what to do).
    `what` None names the archive of the command's --archive (see cli.main)."""

    def __init__(self, what, reason, code=1):
        super().__init__(what, reason)
        self.what = what
        self.reason = reason
        self.code = code

    def __str__(self):
        return self.reason if self.what is None else f"{self.what}: {self.reason}"


def bad_input(what, reason):
    """CommandError for input that cannot be used (exit code 2): `raise bad_input(...)`."""
    return CommandError(what, reason, BAD_INPUT)
