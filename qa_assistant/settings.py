"""One settings object, passed explicitly: the encoder, retrieval, fusion, answer thresholds, index
parameters and size limits. An index records the settings it was built with in its manifest (what it
was built with is data) and is loaded with them; environment variables are read once, at the edge."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .fusion import DEFAULT_FUSION
from .identity import PRECISIONS

MODES = ("hybrid", "dense", "bm25")  # retrieval modes, the default first
DENSE_KINDS = ("auto", "flat", "hnsw")  # dense index types; auto: flat below hnsw_threshold passages, HNSW from there
DEFAULT_CONCURRENCY = 4  # answers the chat page computes at once (also when the settings say 0)
ENVIRONMENT = {  # variable → settings field; read by Settings.from_env at the edge (CLI, serve), never written
    "QA_ASSISTANT_PRECISION": "precision",
    "QA_ASSISTANT_THREADS": "threads",
    "QA_ASSISTANT_CONCURRENCY": "concurrency",
    "QA_ASSISTANT_MAX_FILE_MB": "max_file_mb",
}


MACHINE = ("precision", "threads", "concurrency", "max_upload_files", "max_upload_mb")  # not recorded with an index


class SettingsError(ValueError):
    """A setting with a value that cannot work, named by its field."""


@dataclass(frozen=True)
class AnswerSettings:
    """How many retrieved passages the answer step reads and how many it quotes. Whether a passage
    answers, which sentence and which short answer are fitted models (answer.py, learn/fit_answer.py)."""
    look_ahead: int = 3  # the passages read: the answer is among the top three
    max_quotes: int = 3


@dataclass(frozen=True)
class IndexSettings:
    """How the dense and sparse indexes are built (recorded with the index)."""
    dense: str = "auto"  # one of DENSE_KINDS
    hnsw_threshold: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    heading_chars: int = 100  # the headline given as context to the encoder and BM25, cut at this many characters


@dataclass(frozen=True)
class Settings:
    """Everything a run can tune. ``model`` None is the default multilingual-e5-small; ``precision``
    None is int8 for a new index and the index's own for an existing one; ``threads`` 0 is one per core."""
    model: str | None = None
    precision: str | None = None
    threads: int = 0
    k: int = 5
    mode: str = "hybrid"
    fusion: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_FUSION.to_dict())  # strategy and parameters
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    max_file_mb: float = 10.0  # per input file; 0 = no limit
    max_question_chars: int = 2000
    max_history_items: int = 100
    max_k: int = 50
    concurrency: int = DEFAULT_CONCURRENCY  # answers the chat page computes at once; 0 = the default
    max_upload_files: int = 50  # files per upload on the page's archive tab (each within max_file_mb); 0 = no limit
    max_upload_mb: float = 100.0  # all files of one upload together; 0 = no limit

    def __post_init__(self):
        if self.precision is not None and self.precision not in PRECISIONS:
            raise SettingsError(f"precision: {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.mode not in MODES:
            raise SettingsError(f"mode: {self.mode!r} is not one of {', '.join(MODES)}")
        if self.index.dense not in DENSE_KINDS:
            raise SettingsError(f"index.dense: {self.index.dense!r} is not one of {', '.join(DENSE_KINDS)}")
        if self.index.heading_chars < 1:
            raise SettingsError(f"index.heading_chars: must be 1 or more, not {self.index.heading_chars!r}")
        for name in ("threads", "concurrency", "max_question_chars", "max_history_items", "max_k", "max_upload_files",
                     "max_upload_mb"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name}: must be 0 or more, not {getattr(self, name)!r}")
        if not 1 <= self.k <= self.max_k:
            raise SettingsError(f"k: must be from 1 to {self.max_k}, not {self.k!r}")
        if self.max_file_mb < 0:
            raise SettingsError(f"max_file_mb: must be 0 (no limit) or more megabytes, not {self.max_file_mb:g}")

    def replace(self, **changes: Any) -> "Settings":
        """A copy with ``changes`` (None values are left out: "not given"); ``dense`` sets ``index.dense``."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "dense" in changes:
            changes["index"] = dataclasses.replace(changes.get("index", self.index), dense=changes.pop("dense"))
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise SettingsError(f"unknown setting {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    @property
    def answers_at_once(self) -> int:
        """How many answers the chat page computes at once (``concurrency``; 0 is the default)."""
        return self.concurrency or DEFAULT_CONCURRENCY

    @property
    def max_file_bytes(self) -> int | None:
        return None if self.max_file_mb == 0 else int(self.max_file_mb * (1 << 20))

    def to_dict(self) -> dict:
        """JSON-ready."""
        return dataclasses.asdict(self) | {"fusion": dict(self.fusion)}

    def recorded(self) -> dict:
        """What an index records of the settings it was built with: all but the machine's own (precision
        is recorded with the model; threads, concurrency and upload limits belong to the machine that serves it)."""
        return {k: v for k, v in self.to_dict().items() if k not in MACHINE}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Settings":
        """Settings from a manifest (unknown keys, e.g. of a newer version, are ignored; missing ones default)."""
        nested = {"answer": AnswerSettings, "index": IndexSettings}
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name not in data:
                continue
            value = data[item.name]
            if item.name in nested and isinstance(value, Mapping):
                known = {f.name for f in fields(nested[item.name])}
                value = nested[item.name](**{k: v for k, v in value.items() if k in known})
            values[item.name] = value
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, base: "Settings | None" = None) -> "Settings":
        """``base`` (default: the defaults) with the ``QA_ASSISTANT_*`` variables of ``environ`` applied."""
        return (base or cls()).replace(**environment_changes(os.environ if environ is None else environ))


def environment_changes(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the ``QA_ASSISTANT_*`` variables ask for (read at the edge: the CLI and the page)."""
    changes: dict[str, Any] = {}
    kinds = {"precision": str, "threads": int, "concurrency": int, "max_file_mb": float}
    for variable, name in ENVIRONMENT.items():
        raw = (environ.get(variable) or "").strip()
        if not raw:
            continue
        try:
            changes[name] = raw.lower() if kinds[name] is str else kinds[name](float(raw) if kinds[name] is int else raw)
        except ValueError:
            raise SettingsError(f"{variable}={raw!r}: not a valid {name}") from None
    if "precision" in changes and changes["precision"] not in PRECISIONS:
        raise SettingsError(f"QA_ASSISTANT_PRECISION={changes['precision']!r}: use one of {', '.join(PRECISIONS)}")
    return changes
