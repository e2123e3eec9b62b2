"""The store: passages with their dense and sparse (BM25) indexes, in a local folder (FAISS + bm25s) or in
Milvus; ``open_store(folder_or_uri)`` opens either (factory.py), store/base.py is the interface."""
from .dense import DenseIndex, choose_dense_kind
from .errors import IndexLoadError, IndexLockedError, IndexWriteError
from .factory import is_uri, location, open_store, store_exists
from .files import LOCK, MANIFEST, check_index_folder, written_by_index
from .local import FORMAT_VERSION, IndexData, build_index_data, load_index, read_manifest, save_index
from .lock import write_lock
from .sparse import SparseIndex

__all__ = ["DenseIndex", "FORMAT_VERSION", "IndexData", "IndexLoadError", "IndexLockedError", "IndexWriteError",
           "LOCK", "MANIFEST", "SparseIndex", "build_index_data", "check_index_folder", "choose_dense_kind", "is_uri",
           "load_index", "location", "open_store", "read_manifest", "save_index", "store_exists", "write_lock",
           "written_by_index"]
