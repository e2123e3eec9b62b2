"""The archive in Milvus, in modules that depend one way: where it is (target.py) ← the connection and
shared helpers (client.py) ← reading (reading.py) ← writing (writing.py) ← the store that composes them
(store.py). pymilvus is imported only when an archive is opened."""
from .store import MilvusStore
from .target import DEFAULT_COLLECTION, SCHEMES, TOKEN_VARIABLE, MilvusTarget, is_uri, parse_uri

__all__ = ["DEFAULT_COLLECTION", "MilvusStore", "MilvusTarget", "SCHEMES", "TOKEN_VARIABLE", "is_uri", "parse_uri"]
