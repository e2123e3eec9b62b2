"""Fusion strategies (qa_assistant/fusion.py): model-free, plain numpy lists."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa_assistant.fusion import (DEFAULT_FUSION, AdaptiveFusion, ZScoreFusion, fusion_from_dict, has_signal,
                                 zscore)

# 40 candidates. Dense is flat across many similar stories (cosines 0.84–0.86); its best, row 107, is a
# similar story in another town that also shares some question words with BM25. BM25 is decisive: a rare
# name lifts the right passage, row 123, far above the rest, while dense finds it no closer than average.
ROWS = np.arange(100, 140)
FLAT_DENSE = 0.85 + 0.01 * np.sin(np.arange(40) * 1.7)
FLAT_DENSE[7], FLAT_DENSE[23] = 0.872, 0.832
DECISIVE_BM25 = 4.0 + np.cos(np.arange(40) * 2.3)
DECISIVE_BM25[7], DECISIVE_BM25[23] = 6.5, 12.0


def ranked(fusion, dense, sparse, prior=None, rows=ROWS):
    return fusion.fuse(rows, dense, sparse, prior)[0].tolist()


def test_decisive_bm25_outranks_flat_dense():
    assert ranked(ZScoreFusion(), FLAT_DENSE, DECISIVE_BM25)[0] == 107  # fixed weights: the similar story wins
    assert ranked(AdaptiveFusion(), FLAT_DENSE, DECISIVE_BM25)[0] == 123
    weights = AdaptiveFusion().weights(FLAT_DENSE, DECISIVE_BM25)
    assert weights[1] > 0.9 and weights[0] < 1.0  # weight moved from the flat list to the decisive one
    assert sum(weights) == pytest.approx(1.9)  # the prior total is kept


def test_decisive_dense_outranks_flat_bm25():
    dense = np.full(40, 0.80) + 0.005 * np.sin(np.arange(40))
    dense[5] = 0.95
    sparse = np.full(40, 5.0) + 0.5 * np.cos(np.arange(40))
    w_dense, w_sparse = AdaptiveFusion().weights(dense, sparse)
    assert w_dense > w_sparse
    assert ranked(AdaptiveFusion(), dense, sparse)[0] == 105


def test_empty_bm25_list_leaves_dense_order():
    dense = np.linspace(0.9, 0.7, 40)[np.random.default_rng(1).permutation(40)]
    expected = ROWS[np.argsort(-dense, kind="stable")].tolist()
    for fusion in (AdaptiveFusion(), ZScoreFusion()):
        assert ranked(fusion, dense, np.zeros(40)) == expected
        assert fusion.weights(dense, np.zeros(40))[1] == 0.0


def test_flat_bm25_list_leaves_dense_order():
    """BM25 scores that do not spread (every candidate matched the same common word once) add nothing."""
    dense = np.linspace(0.9, 0.7, 40)
    assert ranked(AdaptiveFusion(), dense, np.full(40, 2.5)) == ROWS.tolist()


def test_equally_decisive_lists_fuse_as_zscore():
    rng = np.random.default_rng(7)
    dense = rng.normal(size=30)
    sparse = (dense - dense.mean()) / dense.std() * 3 + 10  # same shape: same top z-score
    rows = np.arange(30)
    adaptive = AdaptiveFusion().fuse(rows, dense, sparse)
    fixed = ZScoreFusion().fuse(rows, dense, sparse)
    assert adaptive[0].tolist() == fixed[0].tolist()
    assert np.allclose(adaptive[1], fixed[1])


def test_sharpness_zero_is_zscore_fusion():
    prior = np.linspace(0, 1, 40)
    a = AdaptiveFusion(sharpness=0.0).fuse(ROWS, FLAT_DENSE, DECISIVE_BM25, prior)
    b = ZScoreFusion().fuse(ROWS, FLAT_DENSE, DECISIVE_BM25, prior)
    assert a[0].tolist() == b[0].tolist() and np.allclose(a[1], b[1])


def test_answer_type_prior_lifts_a_passage():
    dense = np.linspace(0.9, 0.8, 40)
    sparse = np.linspace(9, 1, 40)
    prior = np.zeros(40)
    prior[1] = 1.0
    assert ranked(AdaptiveFusion(), dense, sparse)[0] == 100
    assert ranked(AdaptiveFusion(), dense, sparse, prior)[0] == 101
    assert ranked(AdaptiveFusion(answer_type_bonus=0.0), dense, sparse, prior)[0] == 100


def test_ties_are_broken_by_row():
    rows = np.array([9, 3, 7, 1])
    same = np.ones(4)
    for fusion in (AdaptiveFusion(), ZScoreFusion()):
        assert ranked(fusion, same, same, rows=rows) == [1, 3, 7, 9]


def test_empty_and_single_candidate():
    for fusion in (AdaptiveFusion(), ZScoreFusion()):
        out_rows, scores = fusion.fuse([], [], [])
        assert out_rows.tolist() == [] and scores.tolist() == []
        out_rows, scores = fusion.fuse([4], [0.8], [3.0])
        assert out_rows.tolist() == [4] and np.isfinite(scores).all()


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        AdaptiveFusion().fuse([1, 2], [0.5], [1.0, 2.0])
    with pytest.raises(ValueError, match="prior"):
        AdaptiveFusion().fuse([1, 2], [0.5, 0.4], [1.0, 2.0], prior=[1.0])


def test_parameters_round_trip_through_json():
    for fusion in (DEFAULT_FUSION, AdaptiveFusion(candidates=80, bm25_weight=1.2, sharpness=2.0),
                   ZScoreFusion(bm25_weight=0.5)):
        record = json.loads(json.dumps(fusion.to_dict()))
        assert fusion_from_dict(record) == fusion
        assert type(fusion_from_dict(record)) is type(fusion)
    assert fusion_from_dict(None) == DEFAULT_FUSION
    assert isinstance(DEFAULT_FUSION, AdaptiveFusion)


def test_bad_records_and_parameters_are_refused():
    with pytest.raises(ValueError, match="unknown fusion"):
        fusion_from_dict({"name": "rrf"})
    with pytest.raises(ValueError, match="unknown parameter"):
        fusion_from_dict({"name": "adaptive", "temperature": 2})
    with pytest.raises(ValueError, match="sharpness"):
        fusion_from_dict({"name": "zscore", "sharpness": 1.0})
    with pytest.raises(ValueError, match="candidates"):
        AdaptiveFusion(candidates=0)
    with pytest.raises(ValueError, match="bm25_weight"):
        ZScoreFusion(bm25_weight=float("nan"))


def test_strategies_are_frozen():
    with pytest.raises(Exception):
        DEFAULT_FUSION.bm25_weight = 2.0  # type: ignore[misc]


def test_helpers():
    assert zscore(np.array([1.0, 1.0])).tolist() == [0.0, 0.0]
    assert zscore(np.array([1.0, 3.0])).tolist() == [-1.0, 1.0]
    assert not has_signal(np.zeros(3)) and not has_signal(np.zeros(0)) and has_signal(np.array([0.0, 0.1]))


scores = st.lists(st.floats(min_value=0, max_value=50, allow_nan=False, width=32), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dense=scores)
def test_fuse_is_a_deterministic_permutation(data, dense):
    n = len(dense)
    sparse = data.draw(st.lists(st.floats(min_value=0, max_value=30, allow_nan=False, width=32), min_size=n, max_size=n))
    rows = np.array(data.draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True)), dtype=np.int64)
    sharpness = data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    fusion = AdaptiveFusion(sharpness=sharpness)
    out_rows, fused = fusion.fuse(rows, dense, sparse)
    assert sorted(out_rows.tolist()) == sorted(rows.tolist())
    assert np.isfinite(fused).all()
    assert all(a > b or (a == b and r < s) for a, b, r, s in zip(fused, fused[1:], out_rows, out_rows[1:]))
    again_rows, again = fusion.fuse(rows[::-1], np.asarray(dense)[::-1], np.asarray(sparse)[::-1])
    by_row = dict(zip(out_rows.tolist(), fused.tolist()))  # the input order does not change a row's score
    assert np.allclose([by_row[r] for r in again_rows.tolist()], again, rtol=1e-9, atol=1e-9)
    w_dense, w_sparse = fusion.weights(np.asarray(dense, float), np.asarray(sparse, float))
    assert w_dense >= 0 and w_sparse >= 0
    if has_signal(np.asarray(sparse)):
        assert w_dense + w_sparse == pytest.approx(1 + fusion.bm25_weight)
