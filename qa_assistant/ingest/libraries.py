"""The libraries a reader needs, imported when the reader first runs: a missing one is a one-line error
that names the file and the package to install, not a traceback."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from .model import IngestError


def require(module: str, package: str, path: str | Path, kind: str) -> ModuleType:
    """``module`` imported, or an IngestError saying which ``package`` reading a ``kind`` file needs."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise IngestError(path, f"cannot read {kind} files: {error.name or module} is missing or broken "
                                f"({str(error).splitlines()[0][:120]}); install it: pip install {package}") from None
