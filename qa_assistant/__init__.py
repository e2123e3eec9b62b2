"""问答助手: an offline question-answering assistant over Chinese news that answers by quoting.

The public names below are imported when first used, so that importing one part of the package
(``qa_assistant.embedding``, ``qa_assistant.ingest``) does not import all the others."""
import importlib

_HOMES = {  # public name → the module that defines it
    "Answer": "answer", "Quote": "answer",
    "USER_ERRORS": "assistant", "Assistant": "assistant", "IndexReport": "assistant", "QuestionError": "assistant",
    "DEFAULT_MODEL": "identity", "ModelMismatchError": "identity", "Embedder": "embedding",
    "Article": "ingest", "IngestError": "ingest", "Page": "ingest", "Paragraph": "ingest", "parse_page": "ingest",
    "Passage": "passages", "Question": "question", "Hit": "retrieve",
    "MODES": "settings", "AnswerSettings": "settings", "IndexSettings": "settings", "Settings": "settings",
    "SettingsError": "settings", "IndexLoadError": "store",
}

__all__ = sorted(_HOMES)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'qa_assistant' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
