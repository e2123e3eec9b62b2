"""One settings object, passed explicitly: the encoder, retrieval, fusion, answer thresholds, index
parameters and size limits. An index records the settings it was built with in its manifest (what it
was built with is data) and is loaded with them; environment variables are read once, at the edge."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .fusion import DEFAULT_FUSION

PRECISIONS = ("fp32", "int8")
MODES = ("hybrid", "dense", "bm25")
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
    """When a passage answers, and how many are quoted. Thresholds are on the top passages: cosine of
    question and passage, and the share of the question's content words found in it (measured on the
    sample page and CMRC 2018; see notebooks/)."""
    min_cosine: float = 0.84
    min_cosine_crosslingual: float = 0.74  # an English question scores lower against Chinese text
    strong_cosine: float = 0.93  # close enough to answer whatever the wording
    min_coverage: float = 0.45
    min_coverage_required_met: float = 0.35  # the passage holds what the question specifically asks for
    look_ahead: int = 3  # the first passage that answers among the top three is quoted first
    max_quotes: int = 3
    # a further answering passage is quoted when its best sentence scores this much above the first quote's
    clearly_better_sentence: float = 1.0


@dataclass(frozen=True)
class SentenceWeights:
    """How much each clue counts when picking the answering sentence of a passage. Fitted as a listwise
    softmax over the sentences of the right passage on CMRC 2018 trial questions, and rounded: weights
    fitted on half the articles pick the answering sentence of the other half 84–87 % of the time, as
    often as weights fitted on all. Checked on the sample page's questions (see notebooks/)."""
    similarity: float = 1.0   # cosine of question and sentence
    words: float = 1.5        # share of the question's words, those of the headline left out
    characters: float = 1.7   # share of the question's characters, headline characters left out
    bigrams: float = 1.4      # share of the question's character bigrams, headline bigrams left out
    answer_type: float = 0.4  # a time/number question, and the sentence holds a time/number the question does not
    cause: float = 0.45       # a why-question, and the sentence states a cause (因为, 由于, 得名…)
    requirement: float = 0.2  # the sentence holds what the question requires (a number with its unit, …)


@dataclass(frozen=True)
class IndexSettings:
    """How the dense and sparse indexes are built (recorded with the index)."""
    dense: str = "auto"  # auto: exact (flat) below hnsw_threshold passages, HNSW from there
    hnsw_threshold: int = 200_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    bm25_k1: float = 1.2
    bm25_b: float = 0.75


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
    sentences: SentenceWeights = field(default_factory=SentenceWeights)
    index: IndexSettings = field(default_factory=IndexSettings)
    max_file_mb: float = 10.0  # per input file; 0 = no limit
    max_question_chars: int = 2000
    max_history_items: int = 100
    max_k: int = 50
    concurrency: int = 4  # answers the chat page computes at once
    max_upload_files: int = 50  # files per upload on the page's archive tab (each within max_file_mb); 0 = no limit
    max_upload_mb: float = 100.0  # all files of one upload together; 0 = no limit

    def __post_init__(self):
        if self.precision is not None and self.precision not in PRECISIONS:
            raise SettingsError(f"precision: {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.mode not in MODES:
            raise SettingsError(f"mode: {self.mode!r} is not one of {', '.join(MODES)}")
        if self.index.dense not in ("auto", "flat", "hnsw"):
            raise SettingsError(f"index.dense: {self.index.dense!r} is not one of auto, flat, hnsw")
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
        nested = {"answer": AnswerSettings, "sentences": SentenceWeights, "index": IndexSettings}
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
