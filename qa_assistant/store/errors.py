"""What can go wrong with an index folder, named by its folder and file."""


class IndexLoadError(RuntimeError):
    """A missing, foreign, truncated or altered index (named by its folder and file)."""


class IndexLockedError(IndexLoadError):
    """Another process (or thread) is writing the index right now."""


class IndexWriteError(IndexLoadError):
    """An index that could not be written (full disk, read-only folder); the previous version stays."""
