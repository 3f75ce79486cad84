class InputError(Exception):
    """Bad input the user (or the wrapper) can fix: the CLI prints one line and exits 2."""


class Interrupted(Exception):
    """SIGTERM/SIGINT arrived: the current epoch is abandoned, the last complete checkpoint stays."""

    def __init__(self, signum):
        super().__init__(f"signal {signum}")
        self.signum = signum
