"""Fit the answer step: ``python -m qa_assistant.learn.fit_answer [--cache DIR] [--limit N]``.

Three logistic models, fitted on labelled questions (the shipped CMRC 2018 trial set and the DRCD test
split in ``../shared/data/drcd_test``), their figures cross-validated by article (5 folds; no article is
both fitted and tested) and across sets (fitted on one, tested on the other):

* ``answer_sentence`` — which sentence of a passage holds the answer;
* ``answer_passage`` — does a retrieved passage answer at all (positives: passages holding the answer;
  negatives: the other passages retrieved, and the passages retrieved when the question's own article
  is withheld from the archive — the question the archive cannot answer);
* ``short_answer`` — which candidate span of the answering sentence is the exact answer.

Thresholds are chosen on the out-of-fold probabilities for stated targets (below) and written with the
weights and the figures to ``qa_assistant/data/models/*.json``."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..answer_features import (PASSAGE_FEATURES, SENTENCE_FEATURES, SPAN_FEATURES, SentenceClues, candidates,
                               character_f1, exact_match, names_gate, passage_features, sentence_features,
                               span_features)
from ..evaluation import load_testset
from ..evaluation.metrics import from_article
from ..text import normalise, sentence_spans
from .linear import LinearModel, fit_logistic, group_folds

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
MODELS = PACKAGE_DATA / "models"
_DRCD = ROOT.parent / "shared" / "data" / "drcd_test"
SETS = {  # name → (articles, questions); every set weighs the same in fitting, whatever its size
    "cmrc2018_trial": (PACKAGE_DATA / "cmrc2018_trial" / "corpus.jsonl", PACKAGE_DATA / "cmrc2018_trial" / "questions.jsonl"),
    "drcd_test": (_DRCD / "corpus.jsonl", _DRCD / "questions.jsonl"),
    "news_stress": (PACKAGE_DATA / "news_stress" / "corpus.jsonl", PACKAGE_DATA / "news_stress" / "questions.jsonl"),
    "sample_page": (PACKAGE_DATA / "page_000.txt", PACKAGE_DATA / "sample_questions.jsonl"),
}
LOOK_AHEAD = 3  # passages the answer step reads (settings.AnswerSettings.look_ahead)
WITHHELD_DEPTH = 20  # retrieved when the question's article is withheld, before it is dropped
ANSWERABLE_REFUSED_TARGET = 0.03  # the passage threshold refuses at most this share of answerable questions (mean of sets)
SHORT_ANSWER_PRECISION = 0.60  # a short answer is given where its out-of-fold exact match is at least this (CMRC 2018 EM)


@dataclass
class Table:
    """Feature rows, labels, the article (group) and question each row belongs to."""
    rows: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    questions: list = field(default_factory=list)

    def add(self, rows, labels, group: str, question: int) -> None:
        for row, label in zip(rows, labels):
            self.rows.append(row)
            self.labels.append(int(label))
            self.groups.append(group)
            self.questions.append(question)

    def arrays(self):
        return (np.asarray(self.rows, dtype=np.float64), np.asarray(self.labels), np.asarray(self.groups),
                np.asarray(self.questions))


def contains(text: str, answers) -> bool:
    haystack = normalise(text).replace(" ", "")
    return any(normalise(a).replace(" ", "") in haystack for a in answers if a.strip())


def retrieve_set(name: str, assistant, items, progress: bool = True) -> list[dict]:
    """What the answer step sees for each question, as plain JSON-ready records (the costly part: search
    and sentence vectors): per view (the full archive, and the archive without the question's article)
    the top passages with their scores, headline, lead, article text and per-sentence similarities."""
    searcher, embedder = assistant.searcher, assistant.embedder
    every = {p.id: [p.text[s.start:s.end] for s in sentence_spans(p.text)] or [p.text] for p in assistant.passages}
    vectors = embedder.encode_sentences([t for texts in every.values() for t in texts], progress=progress)
    offsets, offset = {}, 0
    for passage_id, texts in every.items():  # every sentence of the archive encoded once, in big batches
        offsets[passage_id] = offset
        offset += len(texts)
    iterator = items
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(items, desc=f"{name}: retrieval", unit="question")
    records = []
    for item in iterator:
        asked = assistant.question(item.question)
        vector = searcher.query_vectors([asked])[0]
        hits = searcher.search(asked, k=WITHHELD_DEPTH, mode="hybrid", vector=vector)
        if item.unanswerable:  # the archive does not hold its answer: the full archive is the negative view
            pairs = ((False, hits[:LOOK_AHEAD]),)
        else:
            withheld = [h for h in hits if not from_article(h.passage, item)]
            pairs = ((True, hits[:LOOK_AHEAD]), (False, withheld[:LOOK_AHEAD]))
        views = []
        for answerable, view in pairs:
            passages = []
            for hit in view:
                texts = every[hit.passage.id]
                start = offsets[hit.passage.id]
                article = searcher.article(hit)
                passages.append({
                    "text": hit.passage.text, "heading": hit.passage.heading, "dense": hit.dense, "bm25": hit.bm25,
                    "lead": next((p.text for p in article if p.paragraph == 1 and p.part <= 1), "")
                    if hit.passage.paragraph > 1 else "",
                    "article": "\n".join(p.text for p in article) if asked.names else "",
                    "sentences": texts,
                    "similarities": [float(v) for v in vectors[start:start + len(texts)] @ vector]})
            views.append({"answerable": answerable, "passages": passages})
        records.append({"question": item.question, "answers": list(item.answers),
                        "group": f"{name}/{item.doc_id or item.article or item.id}",
                        "views": views})
    return records


def featurise(name: str, records: list[dict], progress: bool = False) -> dict:
    """Feature tables (sentences, passages, short-answer candidates) and per-view outcomes' inputs."""
    from ..question import analyse
    sentences, passages, spans = Table(), Table(), Table()
    views = []
    for number, record in enumerate(records):
        asked = analyse(record["question"])
        answers, group = record["answers"], record["group"]
        for view in record["views"]:
            answerable, found = view["answerable"], view["passages"]
            if not found:
                continue
            best_dense, best_bm25 = max(p["dense"] for p in found), max(p["bm25"] for p in found)
            entries = []
            for rank, hit in enumerate(found):
                texts, similarities = hit["sentences"], hit["similarities"]
                sentence_rows = sentence_features(SentenceClues.of(asked, hit["heading"]), texts, similarities)
                row = passage_features(asked, hit["dense"], best_dense, hit["bm25"], best_bm25, rank, hit["heading"],
                                       hit["lead"], hit["article"], hit["text"], max(similarities),
                                       float(sentence_rows[:, SENTENCE_FEATURES.index("characters")].max()))
                holds = answerable and contains(hit["text"], answers)
                passages.add([row], [holds], group, number)
                first_sentence = len(sentences.rows)
                if holds:  # the sentence model learns from passages that hold the answer
                    labels = [contains(t, answers) for t in texts]
                    sentences.add(sentence_rows, labels, group, number)
                    for text, label in zip(texts, labels):
                        if label:  # the short-answer model learns from the sentences that hold it
                            found_spans = candidates(text, asked)
                            if found_spans:
                                span_labels = [exact_match(text[c.start:c.end], answers) for c in found_spans]
                                spans.add(span_features(asked, text, found_spans), span_labels, group, number)
                entries.append((len(passages.rows) - 1, holds, first_sentence if holds else None, len(texts), None, texts))
            views.append((number, answerable, entries, answers, asked, group))
    return {"sentences": sentences, "passages": passages, "spans": spans, "views": views, "name": name}


def collect(name: str, assistant, items, progress: bool = True) -> dict:
    """Retrieve and featurise one set in one go (see :func:`retrieve_set`, :func:`featurise`)."""
    return featurise(name, retrieve_set(name, assistant, items, progress))


def fit_all(data: list[dict], folds: int = 5) -> tuple[dict[str, LinearModel], dict]:
    """Cross-validate (by article, and across sets), choose thresholds out of fold, fit on everything."""
    figures: dict = {}
    tables = {kind: _merge([d[kind] for d in data]) for kind in ("sentences", "passages", "spans")}
    features = {"sentences": SENTENCE_FEATURES, "passages": PASSAGE_FEATURES, "spans": SPAN_FEATURES}
    names = {"sentences": "answer_sentence", "passages": "answer_passage", "spans": "short_answer"}
    every_group = sorted({g for t in tables.values() for g in t[2]})
    fold_of = dict(zip(every_group, group_folds(every_group, folds)))  # one article, one fold, in every table
    out_of_fold, span_models = {}, {}
    for kind, (rows, labels, groups, _) in tables.items():
        fold = np.asarray([fold_of[g] for g in groups])
        predicted = np.zeros(len(labels))
        for k in range(folds):
            train = fold != k
            model = fit_logistic(names[kind], rows[train], labels[train], features[kind], weights=balance(groups[train]))
            predicted[~train] = model.proba(rows[~train])
            if kind == "passages":
                predicted[~train] = names_gate(rows[~train], predicted[~train])
            if kind == "spans":
                span_models.update({g: model for g in every_group if fold_of[g] == k})
        out_of_fold[kind] = predicted
    models = {kind: fit_logistic(names[kind], *tables[kind][:2], features[kind], weights=balance(tables[kind][2]))
              for kind in tables}
    # thresholds, out of fold
    passage_threshold, passage_figures = _passage_threshold(data, tables, out_of_fold)
    span_threshold, span_figures = _span_threshold(tables["spans"], out_of_fold["spans"])
    figures["passage"] = passage_figures
    figures["short_answer_candidates"] = span_figures
    figures["cross_validated"] = {d["name"]: _end_to_end(d, data, tables, out_of_fold, passage_threshold,
                                                         span_models, span_threshold) for d in data}
    figures["across_sets"] = _across_sets(data, features, names, passage_threshold, span_threshold)
    figures["curves"] = {"passage_calibration": calibration(out_of_fold["passages"], tables["passages"][1]),
                         "sentence_calibration": calibration(out_of_fold["sentences"], tables["sentences"][1]),
                         "short_answer_precision_coverage": precision_coverage(tables["spans"], out_of_fold["spans"])}
    models["passages"] = models["passages"].with_threshold(passage_threshold)
    models["spans"] = models["spans"].with_threshold(span_threshold)
    return {names[k]: m for k, m in models.items()}, figures


def balance(groups) -> np.ndarray:
    """Row weights that give every set (the part of the group before "/") the same total weight: the
    news sets, a few hundred questions, count as much as the thousands of encyclopedic ones."""
    sets = np.asarray([g.split("/", 1)[0] for g in groups])
    names, counts = np.unique(sets, return_counts=True)
    share = dict(zip(names, len(sets) / (len(names) * counts)))
    return np.asarray([share[s] for s in sets])


def calibration(predicted: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Out-of-fold probability against the observed rate, in equal-width bins (a reliability diagram)."""
    out = []
    for low in np.linspace(0, 1, bins, endpoint=False):
        inside = (predicted >= low) & (predicted < low + 1 / bins)
        if inside.any():
            out.append({"predicted": round(float(predicted[inside].mean()), 4),
                        "observed": round(float(labels[inside].mean()), 4), "rows": int(inside.sum())})
    return out


def precision_coverage(table, predicted: np.ndarray, points: int = 20) -> list[dict]:
    """Short answers: exact match of the best candidate per sentence against the share given, as the
    threshold falls (a precision–recall curve)."""
    _, labels, _, questions = table
    best: dict[int, tuple[float, int]] = {}
    for q, p, label in zip(questions, predicted, labels):
        if q not in best or p > best[q][0]:
            best[q] = (float(p), int(label))
    ranked = sorted(best.values(), reverse=True)
    out = []
    for n in np.unique(np.linspace(1, len(ranked), points).astype(int)):
        given = ranked[:n]
        out.append({"threshold": round(given[-1][0], 4), "given": round(n / len(ranked), 4),
                    "exact_match": round(sum(label for _, label in given) / n, 4)})
    return out


def _merge(tables: list[Table]):
    merged = Table()
    offset = 0
    for table in tables:
        merged.rows += table.rows
        merged.labels += table.labels
        merged.groups += table.groups
        merged.questions += [q + offset for q in table.questions]
        offset += 1_000_000
    return merged.arrays()


def _question_outcomes(data: list[dict], passage_p: np.ndarray, sentence_p: np.ndarray, threshold: float):
    """Per question and view, as the answer step decides: (set, answerable, found, the picked sentence
    holds the answer, the picked sentence, the view), from passage and sentence probabilities (out of
    fold, in the order ``collect`` wrote them)."""
    from ..answer import quote_order
    outcomes = []
    passage_offset = sentence_offset = 0
    for d in data:
        for view in d["views"]:
            number, answerable, entries, answers = view[:4]
            probabilities = [float(passage_p[passage_offset + e[0]]) for e in entries]
            order = quote_order(probabilities, threshold, 1)
            hit, sentence = False, ""
            if order:
                index, holds, first, count, rows, texts = entries[order[0]]
                picked = 0
                if holds:
                    picked = int(np.argmax(sentence_p[sentence_offset + first:sentence_offset + first + count]))
                sentence = texts[picked]
                hit = answerable and holds and contains(sentence, answers)
            outcomes.append((d["name"], answerable, bool(order), hit, sentence, view))
        passage_offset += len(d["passages"].rows)
        sentence_offset += len(d["sentences"].rows)
    return outcomes


def _passage_threshold(data, tables, out_of_fold):
    """The threshold with the best balanced accuracy (answerable answered, unanswerable refused; the mean
    over the sets, out of fold) among those that refuse at most ANSWERABLE_REFUSED_TARGET of the
    answerable questions; the figures at that threshold and the whole curve."""
    def refused(outcomes, answerable):
        rates = []
        for d in data:
            mine = [o for o in outcomes if o[0] == d["name"] and o[1] == answerable]
            if mine:
                rates.append(sum(not o[2] for o in mine) / len(mine))
        return sum(rates) / len(rates)

    best, best_score, curve = 0.05, -1.0, []
    for threshold in np.arange(0.05, 0.95, 0.01):
        outcomes = _question_outcomes(data, out_of_fold["passages"], out_of_fold["sentences"], threshold)
        kept_refused, other_refused = refused(outcomes, True), refused(outcomes, False)
        curve.append({"threshold": round(float(threshold), 2), "answerable_refused": round(kept_refused, 4),
                      "unanswerable_refused": round(other_refused, 4)})
        score = (1 - kept_refused) + other_refused  # balanced accuracy (×2), the mean over the sets
        if kept_refused <= ANSWERABLE_REFUSED_TARGET and score > best_score:
            best, best_score = float(threshold), score
    outcomes = _question_outcomes(data, out_of_fold["passages"], out_of_fold["sentences"], best)
    return best, {"threshold": round(best, 2), "answerable_refused_mean_of_sets": round(refused(outcomes, True), 4),
                  "unanswerable_refused_mean_of_sets": round(refused(outcomes, False), 4), "curve": curve}


def _span_threshold(table, predicted):
    """Per question the best candidate; the lowest threshold whose answers reach SHORT_ANSWER_PRECISION
    exact match (out of fold)."""
    rows, labels, groups, questions = table
    best_of: dict[int, tuple[float, int]] = {}
    for i, (q, p) in enumerate(zip(questions, predicted)):
        if q not in best_of or p > best_of[q][0]:
            best_of[q] = (float(p), int(labels[i]))
    ranked = sorted(best_of.values(), reverse=True)
    chosen, correct = 0.99, 0
    for n, (p, label) in enumerate(ranked, 1):
        correct += label
        if correct / n >= SHORT_ANSWER_PRECISION:
            chosen = p
    given = [label for p, label in ranked if p >= chosen]
    return chosen, {"threshold": round(chosen, 3), "questions": len(ranked),
                    "given_share_of_sentences": round(len(given) / len(ranked), 4),
                    "exact_match_where_given": round(sum(given) / max(1, len(given)), 4)}


def _end_to_end(d, data, tables, out_of_fold, passage_threshold, span_models, span_threshold) -> dict:
    """The answer step on one set with out-of-fold models: answer-sentence hit@1, refusals, short answers
    (given share, and CMRC 2018 exact match and character F1 where given)."""
    outcomes = [o for o in _question_outcomes(data, out_of_fold["passages"], out_of_fold["sentences"],
                                              passage_threshold) if o[0] == d["name"]]
    answerable = [o for o in outcomes if o[1]]
    withheld = [o for o in outcomes if not o[1]]
    given, exact, f1 = 0, 0.0, 0.0
    for _, _, found, _, sentence, view in answerable:
        if not found or not sentence:
            continue
        asked, group, answers = view[4], view[5], view[3]
        found_spans = candidates(sentence, asked)
        if not found_spans:
            continue
        probabilities = span_models[group].proba(span_features(asked, sentence, found_spans))
        best = int(np.argmax(probabilities))
        if probabilities[best] >= span_threshold:
            text = sentence[found_spans[best].start:found_spans[best].end]
            given += 1
            exact += exact_match(text, answers)
            f1 += character_f1(text, answers)
    return {"questions": len(answerable),
            "answer_sentence_hit@1": round(sum(o[3] for o in answerable) / len(answerable), 4),
            "answerable_refused": round(sum(not o[2] for o in answerable) / len(answerable), 4),
            "unanswerable_refused": round(sum(not o[2] for o in withheld) / max(1, len(withheld)), 4),
            "short_answer_given": round(given / len(answerable), 4),
            "short_answer_exact_match": round(exact / max(1, given), 4),
            "short_answer_f1": round(f1 / max(1, given), 4)}


def _across_sets(data, features, names, passage_threshold, span_threshold) -> dict:
    """Fitted on one set, tested on the other: does the model carry across domains and scripts?"""
    if len(data) < 2:
        return {}
    out = {}
    for test in data:
        train = [d for d in data if d is not test]
        models = {}
        for k in ("sentences", "passages"):
            rows, labels, groups, _ = _merge([d[k] for d in train])
            models[k] = fit_logistic(names[k], rows, labels, features[k], weights=balance(groups))
        passage_rows = np.asarray(test["passages"].rows)
        passage_p = names_gate(passage_rows, models["passages"].proba(passage_rows))
        sentence_p = models["sentences"].proba(np.asarray(test["sentences"].rows))
        outcomes = _question_outcomes([test], passage_p, sentence_p, passage_threshold)[:]
        answerable = [o for o in outcomes if o[1]]
        withheld = [o for o in outcomes if not o[1]]
        out[f"fitted on {'+'.join(d['name'] for d in train)}, tested on {test['name']}"] = {
            "answer_sentence_hit@1": round(sum(o[3] for o in answerable) / len(answerable), 4),
            "answerable_refused": round(sum(not o[2] for o in answerable) / len(answerable), 4),
            "unanswerable_refused": round(sum(not o[2] for o in withheld) / max(1, len(withheld)), 4)}
    return out


def open_set(name: str, cache: Path):
    """The set's archive (built into ``cache`` on first use, with the real model) and its questions."""
    from ..assistant import Assistant
    folder, (articles, questions) = cache / name, SETS[name]
    if not (folder / "manifest.json").is_file():
        log.info("building the %s archive in %s", name, folder)
        Assistant.build([articles], folder, progress=True)
    return Assistant.open(folder), load_testset(questions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "embeddings" / "fitting",
                        help="where the sets' archives are built (not committed)")
    parser.add_argument("--limit", type=int, default=None, help="questions per set (for a quick run)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--write", action="store_true", help="write the fitted models into the package")
    parser.add_argument("--refresh", action="store_true", help="retrieve again (after a retrieval or model change)")
    parser.add_argument("--figures", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    data = []
    for name in args.sets:
        records_file = args.cache / f"{name}.records.json"  # retrieval results: re-used until --refresh
        if records_file.is_file() and not args.refresh:
            records = json.loads(records_file.read_text(encoding="utf-8"))
        else:
            assistant, items = open_set(name, args.cache)
            records = retrieve_set(name, assistant, items)
            records_file.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
            del assistant
        data.append(featurise(name, records[:args.limit]))
    models, figures = fit_all(data)
    sets = ", ".join(f"{d['name']} ({len({v[0] for v in d['views']})} questions)" for d in data)
    for name, model in models.items():
        notes = {"fitted_on": sets, "command": "python -m qa_assistant.learn.fit_answer --write",
                 "cross_validated": figures}
        models[name] = LinearModel(model.name, model.features, model.weights, model.bias, model.mean, model.scale,
                                   model.threshold, notes)
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if args.figures:
        args.figures.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.write:
        MODELS.mkdir(exist_ok=True)
        for name, model in models.items():
            model.save(MODELS / f"{name}.json")
            print(f"wrote {MODELS / (name + '.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
