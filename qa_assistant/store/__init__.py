"""The store: passages with their dense (FAISS) and sparse (BM25) indexes, kept in a local folder."""
from .dense import DenseIndex, choose_dense_kind
from .errors import IndexLoadError, IndexLockedError
from .files import LOCK, MANIFEST, check_index_folder, sha256_file, written_by_index
from .local import FORMAT_VERSION, IndexData, build_index_data, load_index, read_manifest, save_index
from .lock import write_lock
from .sparse import SparseIndex

__all__ = ["DenseIndex", "FORMAT_VERSION", "IndexData", "IndexLoadError", "IndexLockedError", "LOCK", "MANIFEST",
           "SparseIndex", "build_index_data", "check_index_folder", "choose_dense_kind", "load_index",
           "read_manifest", "save_index", "sha256_file", "write_lock", "written_by_index"]
