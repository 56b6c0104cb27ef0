"""The error every feed parser raises or reports for input it refuses."""


class FeedError(ValueError):
    """Bad feed input: a stable machine-readable ``code`` and a human ``reason``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
