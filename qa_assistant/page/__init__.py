"""The page: a Gradio 6 app with two tabs over one live archive — 问答 (chat and ``/ask``, chat.py) and 资料库
(upload, sources, removal and their endpoints, library.py) — and its server (server.py). It touches only the
facade, the settings and the rendering module."""
from .chat import API_NAME
from .server import build_app, read_credentials, serve

__all__ = ["API_NAME", "build_app", "read_credentials", "serve"]
