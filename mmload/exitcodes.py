"""Process exit codes shared by every mmload command."""

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    NONCONFORMANT = 1  # the server does not rate-limit the way it advertises or is documented
    USAGE = 2  # bad arguments or configuration
    RUN_FAILED = 3  # the run could not be done: target unreachable, every login failed, ...
    INCONCLUSIVE = 4  # nothing failed, but what the scenario sets out to verify was not decided
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells expect
    TERMINATED = 143  # SIGTERM (128 + 15)
