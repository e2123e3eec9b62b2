"""Test sets: JSON Lines, one question per line (``question``, ``answers``, optional ``id``, ``doc_id``,
``article``, ``unanswerable``); a malformed line is named by file and line."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


def squash(text: str) -> str:
    """``text`` without whitespace: the form answers are matched in."""
    return "".join(text.split())


class TestSetError(ValueError):
    """A malformed test-set line, named by file and line ("path:line: message")."""
    __test__ = False  # not a pytest test class

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path, self.line = str(path), line
        super().__init__(f"{self.path}{f':{line}' if line is not None else ''}: {message}")


@dataclass(frozen=True)
class EvalQuestion:
    """One test-set question."""
    question: str
    answers: tuple[str, ...] = ()
    doc_id: str | None = None  # id of the article that holds the answer
    article: str | None = None  # headline of that article
    unanswerable: bool = False
    id: str = ""  # the line's id, or its line number
    line: int = 0
    as_of: str | None = None  # the reference date its time words (今年, 去年 …) are read against

    @property
    def names_article(self) -> bool:
        return self.doc_id is not None or self.article is not None


def _optional_text(record: dict, name: str, path: Path, number: int) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise TestSetError(path, f"'{name}' must be a non-empty string", number)
    return str(value).strip()


def parse_testset_line(line: str, path: str | Path = "<testset>", number: int = 1) -> EvalQuestion:
    """One JSONL line → :class:`EvalQuestion`; :class:`TestSetError` names ``path`` and ``number``."""
    path = Path(path)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise TestSetError(path, f"invalid JSON ({error.msg} at column {error.colno})", number) from None
    if not isinstance(record, dict):
        raise TestSetError(path, "expected a JSON object", number)
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise TestSetError(path, "'question' is missing or empty", number)
    answers = record.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise TestSetError(path, "'answers' must be a list of strings", number)
    answers = tuple(dict.fromkeys(a.strip() for a in answers if squash(a)))
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise TestSetError(path, "'unanswerable' must be true or false", number)
    if unanswerable and answers:
        raise TestSetError(path, "an unanswerable question cannot have answers", number)
    if not unanswerable and not answers:
        raise TestSetError(path, "'answers' is empty (mark a question without answers \"unanswerable\": true)",
                           number)
    return EvalQuestion(question=question.strip(), answers=answers,
                        doc_id=_optional_text(record, "doc_id", path, number),
                        article=_optional_text(record, "article", path, number),
                        unanswerable=unanswerable, id=_optional_text(record, "id", path, number) or str(number),
                        line=number, as_of=_as_of(record, path, number))


def _as_of(record: dict, path, number: int) -> str | None:
    """The optional ``as_of`` field: a real date (YYYY-MM-DD)."""
    import datetime as dt
    value = _optional_text(record, "as_of", path, number)
    if value is not None:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise TestSetError(path, f"'as_of' {value!r} is not a real date like 2024-01-12", number) from None
    return value


def load_testset(path: str | Path) -> list[EvalQuestion]:
    """Read a JSONL test set; a malformed line raises :class:`TestSetError` naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TestSetError(path, "no such test set") from None
    except UnicodeDecodeError:
        raise TestSetError(path, "not UTF-8 text") from None
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = parse_testset_line(line, path, number)
        if item.id in seen:
            raise TestSetError(path, f"duplicate id {item.id!r} (first on line {seen[item.id]})", number)
        seen[item.id] = number
        questions.append(item)
    if not questions:
        raise TestSetError(path, "no questions")
    return questions


def subset(testset: Sequence[EvalQuestion], limit: int | None) -> list[EvalQuestion]:
    """``limit`` questions spread evenly over the test set (all of them when ``limit`` is None)."""
    if limit is None or limit >= len(testset):
        return list(testset)
    if limit <= 0:
        return []
    return [testset[(i * len(testset)) // limit] for i in range(limit)]


