"""问答助手: an offline question-answering assistant over Chinese news that answers by quoting."""
from .answer import Answer, Quote
from .assistant import Assistant, IndexReport, QuestionError
from .embedder import DEFAULT_MODEL, Embedder, ModelMismatchError
from .store import IndexLoadError
from .ingest import Article, IngestError, Page, Paragraph, parse_page
from .passages import Passage
from .retrieve import MODES, Hit

__all__ = ["Answer", "Article", "Assistant", "DEFAULT_MODEL", "Embedder", "Hit", "IndexLoadError", "IndexReport",
           "IngestError", "MODES", "ModelMismatchError", "Page", "Paragraph", "Passage", "QuestionError", "Quote",
           "parse_page"]
__version__ = "0.1.0"
