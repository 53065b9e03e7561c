"""User-facing errors.

Every error a user can cause by bad input (a file, an option, a model) is a
subclass of :class:`Snn2hwError`. The CLI prints its message as one paragraph
and exits with status 2, without a traceback. Anything else is a bug and keeps
its traceback.
"""


class Snn2hwError(Exception):
    """Base class of errors caused by the user's input; the message says what and where."""


class CheckpointError(Snn2hwError):
    """A checkpoint file cannot be read safely or does not describe a known model."""


class GraphError(Snn2hwError):
    """A graph is invalid. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems, context: str = "graph"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{context} is invalid ({len(self.problems)} problem(s)):\n{lines}")


class UnsupportedModuleError(Snn2hwError):
    """The torch front end met a module or operation it cannot convert."""


class ProfileError(Snn2hwError):
    """A hardware profile does not exist or does not validate."""


class DataError(Snn2hwError, ValueError):
    """A data set file is missing, malformed or inconsistent; the message names the file and the problem."""


class PassError(Snn2hwError):
    """A pass cannot run on this graph (its preconditions do not hold)."""


class FileFormatError(Snn2hwError):
    """A snn2hw file (.s2h) is corrupt, of another format or of a newer version."""
