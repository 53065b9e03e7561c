"""User-facing errors.

Every error a user can cause by bad input (a file, an option, a model) is a
subclass of :class:`Snn2hwError`. The CLI prints its message as one paragraph
and exits with status 2, without a traceback. Anything else is a bug and keeps
its traceback.
"""
import os


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


class OutputError(Snn2hwError):
    """An output file or folder cannot be written (disk full, file size limit, no permission).

    Not a bug and not bad input, but the user's environment: the CLI prints it like the
    others (exit status 2). ``path`` is the output that was not written, ``errno`` the cause.
    """

    def __init__(self, path, cause: OSError):
        self.path, self.errno = path, cause.errno
        why = os.strerror(cause.errno) if cause.errno else str(cause)
        super().__init__(f"cannot write {path}: {why}; what was there before is unchanged")


class OutputTargetError(Snn2hwError):
    """An output path names something snn2hw must not replace: a device, fifo, socket, a symbolic link to one
    (or to nothing), a file where a folder is expected or a folder where a file is expected. Raised before any
    work and before any temporary file (see :func:`snn2hw.util.atomic.check_output_target`). ``path`` is the
    output as given."""

    def __init__(self, path, message: str):
        self.path = path
        super().__init__(message)
