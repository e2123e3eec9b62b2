"""What an index's data is made of, and the one rule over it: a file's sha256, which model weights at
which precision made the vectors, and whether a loaded encoder may read or write an index. Imports
nothing else of the package, so the encoder, the stores and the facade can all share it."""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"
DEFAULT_NAMES = (None, "", DEFAULT_MODEL, f"intfloat/{DEFAULT_MODEL}")
PRECISIONS = ("fp32", "int8")
DEFAULT_PRECISION = "int8"
RECORDED_DEFAULT_PRECISION = "fp32"  # what an index made before precisions were recorded was built with


class ModelMismatchError(RuntimeError):
    """The index was built with other model weights (or another precision, for a write) than the ones loaded."""


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded: an unknown name or folder, or the default model's package missing."""


@dataclass(frozen=True)
class ModelInfo:
    """The encoder an index's vectors come from, as its manifest records it (``to_dict``)."""
    name: str
    path: str
    fingerprint: str  # sha256 of the weights the vectors come from
    dimension: int
    max_tokens: int
    precision: str = "fp32"  # how the weights were run: "fp32" (sentence-transformers) or "int8"

    def to_dict(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint, "dimension": self.dimension,
                "max_tokens": self.max_tokens, "precision": self.precision}


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recorded_precision(model: dict) -> str:
    """The precision an index manifest's ``model`` entry records (fp32 for indexes made before it was)."""
    value = model.get("precision") or RECORDED_DEFAULT_PRECISION
    return value if value in PRECISIONS else RECORDED_DEFAULT_PRECISION


def check_model(recorded: dict, loaded, where: str = "index", writing: bool = False) -> None:
    """May an encoder (``loaded``: its name, fingerprint and precision) read, or with ``writing`` add vectors
    to, an index whose manifest records ``recorded`` (its ``model`` entry)?

    Other weights: refused (:class:`ModelMismatchError`), the vectors are of another model.
    Same weights, other precision: the vectors are compatible (fp32 and int8 embeddings agree at
    cosine ≈ 0.9995), so queries work — noted in the log; a write is refused, so one index never holds
    vectors of both precisions (load it with its own precision, or rebuild it)."""
    if recorded.get("fingerprint") != loaded.fingerprint:
        raise ModelMismatchError(
            f"{where}: index was built with model {recorded.get('name')} (weights "
            f"{str(recorded.get('fingerprint'))[:12]}…), but {loaded.name} (weights {loaded.fingerprint[:12]}…) "
            f"is loaded; use --model {recorded.get('name')} or rebuild the index")
    built = recorded_precision(recorded)
    if built == loaded.precision:
        return
    if writing:
        raise ModelMismatchError(
            f"{where}: index vectors were made at {built} precision, the encoder loaded runs at {loaded.precision}; "
            f"update it with --precision {built} (or QA_ASSISTANT_PRECISION={built}), or rebuild the index")
    log.info("%s: index vectors were made at %s precision, questions are encoded at %s "
             "(same weights, compatible vectors)", where, built, loaded.precision)


def folder_fingerprint(folder: Path) -> str:
    """Hash of a model folder's config and weight files (size plus first and last MiB of each)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin", ".onnx", ".model"):
            size = path.stat().st_size
            digest.update(f"{path.relative_to(folder)}:{size}".encode())
            with open(path, "rb") as handle:
                digest.update(handle.read(1 << 20))
                if size > 2 << 20:
                    handle.seek(-(1 << 20), os.SEEK_END)
                    digest.update(handle.read())
    return digest.hexdigest()


__all__ = ["DEFAULT_MODEL", "DEFAULT_NAMES", "DEFAULT_PRECISION", "ModelInfo", "ModelLoadError", "ModelMismatchError",
           "PRECISIONS", "check_model", "folder_fingerprint", "recorded_precision", "sha256_file"]
