"""Shared fixtures: the sample page and one real index of it (real model, built once per session)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PAGE = ROOT / "qa_assistant" / "data" / "page_000.txt"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def sample_page() -> Path:
    return SAMPLE_PAGE


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> Path:
    """An index of the sample page built with the real default model."""
    from qa_assistant import Assistant
    folder = tmp_path_factory.mktemp("index") / "sample"
    Assistant.build([SAMPLE_PAGE], index_dir=folder)
    return folder


@pytest.fixture(scope="session")
def assistant(sample_index):
    from qa_assistant import Assistant
    return Assistant.load(sample_index)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
