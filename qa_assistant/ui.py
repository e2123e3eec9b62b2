"""The chat page's former home, kept so ``from qa_assistant.ui import serve, build_app`` still works; the
page is now the package :mod:`qa_assistant.page`."""
from .page import API_NAME, build_app, serve

__all__ = ["API_NAME", "build_app", "serve"]
