"""问答助手: an offline question-answering assistant over Chinese news that answers by quoting."""
from .answer import Answer, Quote
from .assistant import USER_ERRORS, Assistant, IndexReport, QuestionError
from .embedding import DEFAULT_MODEL, Embedder, ModelMismatchError
from .ingest import Article, IngestError, Page, Paragraph, parse_page
from .passages import Passage
from .question import Question
from .retrieve import Hit
from .settings import MODES, AnswerSettings, IndexSettings, SentenceWeights, Settings, SettingsError
from .store import IndexLoadError

__all__ = ["Answer", "AnswerSettings", "Article", "Assistant", "DEFAULT_MODEL", "Embedder", "Hit", "IndexLoadError",
           "IndexReport", "IndexSettings", "IngestError", "MODES", "ModelMismatchError", "Page", "Paragraph", "Passage",
           "Question", "QuestionError", "Quote", "SentenceWeights", "Settings", "SettingsError", "USER_ERRORS",
           "parse_page"]
__version__ = "0.1.0"
