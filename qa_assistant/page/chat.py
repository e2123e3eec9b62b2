"""The 问答 tab and the ``/ask`` endpoint: each reply is the assistant's quoted answer (one-line answer, block
quotes with the answering sentence in bold, citations 「[1]《标题》第N段」) followed by a collapsible list of
every retrieved passage with its scores. Every question is answered from the archive current when it
arrives (:class:`~qa_assistant.page.live.Live`). Corpus text is always shown as text: everything this
module adds to the page is escaped by the rendering module, and Gradio's sanitiser stays on."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import gradio as gr

from ..assistant import Assistant, QuestionError
from ..render import MODE_LABELS, answer_json, escape_markdown, reply_html
from ..settings import MODES, Settings
from .live import Live

log = logging.getLogger(__name__)

API_NAME = "ask"
CONCURRENCY_ID = "assistant"  # chat turns and API calls share the limit of answers computed at once


def refusal(message: str) -> gr.Error:
    """A bad request's answer: the message to the client, one line in the log, no traceback."""
    log.warning("refused: %s", message[:300])
    return gr.Error(message, print_exception=False)


def parse_history(history: Any) -> list[str]:
    """Earlier questions, oldest first: a list of strings, a JSON string of one, or nothing."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        text = history.strip()
        if not text:
            return []
        try:
            history = json.loads(text)
        except json.JSONDecodeError:
            raise refusal("history 必须是之前问题的列表（或该列表的 JSON 字符串），例如 [\"第一个问题\"]。") from None
    if isinstance(history, (list, tuple)):
        out = []
        for item in history:
            if isinstance(item, dict):  # tolerate chat messages {"role": "user", "content": ...}
                if item.get("role") not in (None, "user"):
                    continue
                item = item.get("content", "")
            if not isinstance(item, str):
                raise refusal("history 里的每一项都必须是问题文字。")
            if item.strip():
                out.append(item.strip())
        return out
    raise refusal("history 必须是之前问题的列表（或该列表的 JSON 字符串）。")


def _check_k(k: Any, most: int) -> int:
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise refusal(f"k 必须是 1 到 {most} 之间的整数。") from None
    if not 1 <= value <= most or (isinstance(k, float) and k != value):
        raise refusal(f"k 必须是 1 到 {most} 之间的整数（收到 {k!r}）。")
    return value


def _check_mode(mode: Any, default: str) -> str:
    if mode is None or mode == "":
        mode = default
    if isinstance(mode, str):
        mode = mode.strip().lower()
    if mode not in MODES:
        raise refusal(f"mode 必须是 {' / '.join(MODES)} 之一（收到 {mode!r}）。")
    return mode


def _date(value: Any) -> str | None:
    """A date control's value (``2024-01-12``, maybe with a time) as the date, or None when empty."""
    text = str(value or "").strip()
    return text[:10] if text else None


def _ask(assistant: Assistant, question: Any, history: list[str], k: int, mode: str, since: Any = None,
         until: Any = None):
    """One question through the assistant; bad input becomes a clear gr.Error, never a traceback."""
    if not isinstance(question, str) or not question.strip():
        raise refusal("问题不能为空：请输入一个问题。")
    try:
        return assistant.ask(question, history=history, k=k, mode=mode, since=_date(since), until=_date(until))
    except QuestionError as error:
        raise refusal(f"无法回答这个问题：{error}") from None
    except Exception:
        log.exception("answering %r failed", question[:200])
        raise refusal("回答时出错了，请稍后再试（详情见服务器日志）。") from None


def chat_sidebar(settings: Settings) -> tuple:
    """The page's sidebar (shown beside both tabs): top-k, retrieval mode and a new conversation."""
    with gr.Sidebar(label="设置", open=True, width=300):
        gr.Markdown("### 检索设置")
        k_slider = gr.Slider(1, settings.max_k, value=settings.k, step=1, label="检索段落数 top-k",
                             info="从资料中取回多少个段落", elem_id="qa-k")
        mode_radio = gr.Radio([(label, mode) for mode, label in MODE_LABELS.items()], value=settings.mode,
                              label="检索方式", elem_id="qa-mode")
        gr.Markdown("**日期范围**（只在这段时间的报道里找；留空为不限）")
        with gr.Row():
            since_box = gr.DateTime(include_time=False, type="string", label="从", elem_id="qa-since", min_width=120)
            until_box = gr.DateTime(include_time=False, type="string", label="到", elem_id="qa-until", min_width=120)
        new_button = gr.Button("新对话", variant="secondary", elem_id="qa-new")
        gr.Markdown("回答只引用资料原文：标亮的是回答问题的句子，「[1]《标题》第N段」注明出处。"
                    "追问时会结合上文（例如“他们”指谁）。资料里没有答案时回答「未找到」。"
                    "在「资料库」里可以上传、查看和删除资料，问答立即使用新的资料库。")
    return k_slider, mode_radio, since_box, until_box, new_button


def build_chat(live: Live, settings: Settings, examples: list[str], concurrency: int, controls: tuple) -> list[tuple]:
    """The chat tab's conversation and input, in the current Blocks, driven by the sidebar's ``controls``;
    returns the ``/ask`` endpoint as (function, options) for ``gr.api`` (registered outside the tabs)."""
    k_slider, mode_radio, since_box, until_box, new_button = controls

    def ask(question: str, history: list[str] | str | None = None, k: int = settings.k,
            mode: str = settings.mode, since: str | None = None, until: str | None = None) -> dict:
        """Answer a question by quoting the indexed news.

        Args:
            question: the question (Chinese or English)
            history: the conversation's earlier questions, oldest first (a list, or its JSON string); [] for none
            k: how many passages to retrieve (1-50)
            mode: retrieval mode: hybrid, dense or bm25
            since: only articles dated on or after this day (2024-01-12, 2024-01 or 2024); empty for no limit
            until: only articles dated on or before this day; empty for no limit
        Returns:
            the answer as JSON, the same as ``qa-assistant ask --json``
        """
        answer = _ask(live.get(), question, parse_history(history), _check_k(k, settings.max_k),
                      _check_mode(mode, settings.mode), since, until)
        return answer_json(answer)

    def start_turn(question: str, chat: list, questions: list):
        """Show the question at once, clear and lock the input; the answer follows in ``finish_turn``."""
        question = (question or "").strip()
        if not question:
            return gr.skip(), gr.skip(), gr.skip(), ""
        chat = list(chat or []) + [{"role": "user", "content": escape_markdown(question)},
                                   {"role": "assistant", "content": "正在检索资料…"}]
        return gr.Textbox(value="", interactive=False), gr.Button(interactive=False), chat, question

    def finish_turn(pending: str, chat: list, questions: list, k: float, mode: str, since: Any, until: Any):
        unlock = (gr.Textbox(interactive=True), gr.Button(interactive=True))
        if not pending:
            return (gr.skip(), gr.skip(), "") + unlock
        chat, questions = list(chat or []), list(questions or [])
        started = time.perf_counter()
        answered = False
        try:
            answer = _ask(live.get(), pending, questions, _check_k(k, settings.max_k), _check_mode(mode, settings.mode),
                          since, until)
            reply = reply_html(answer, int(k), time.perf_counter() - started)
            answered = True
        except gr.Error as error:
            reply = f"<strong>无法回答</strong>：{escape_markdown(str(error.message))}"
        except Exception:  # never leave the page locked or show a traceback
            log.exception("rendering the answer to %r failed", pending[:200])
            reply = "<strong>无法回答</strong>：回答时出错了，请稍后再试（详情见服务器日志）。"
        if chat and chat[-1].get("role") == "assistant":
            chat[-1] = {"role": "assistant", "content": reply}
        else:
            chat.append({"role": "assistant", "content": reply})
        # a question that was refused (too long, empty…) is not part of the conversation a follow-up leans on
        return (chat, questions + [pending] if answered else questions, "") + unlock

    def pick_example(selection: gr.SelectData, chat: list, questions: list):
        value = selection.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        return start_turn(text, chat, questions)

    def new_chat():
        return [], [], "", ""

    questions = gr.State([])  # the conversation's questions as typed, oldest first
    pending = gr.State("")
    chatbot = gr.Chatbot(
        elem_id="qa-chat", label="对话", show_label=False, height="66vh", min_height=420,
        layout="bubble", buttons=["copy"], sanitize_html=True, render_markdown=True, latex_delimiters=[],
        feedback_options=None, allow_tags=False,
        placeholder="**你好！** 我根据已收录的新闻回答问题，并引用原文段落作为依据。",
        examples=[{"text": q, "display_text": q} for q in examples] or None, scale=1)
    with gr.Row(equal_height=True):
        question_box = gr.Textbox(placeholder="输入问题，按回车发送（Shift+回车换行）", show_label=False,
                                  lines=1, max_lines=6, scale=8, autofocus=True, elem_id="qa-question",
                                  max_length=settings.max_question_chars, submit_btn=False)
        send_button = gr.Button("发送", variant="primary", scale=1, min_width=90, elem_id="qa-send")

    turn_outputs = [question_box, send_button, chatbot, pending]
    answer_step = dict(fn=finish_turn, inputs=[pending, chatbot, questions, k_slider, mode_radio, since_box, until_box],
                       outputs=[chatbot, questions, pending, question_box, send_button],
                       concurrency_limit=concurrency, concurrency_id=CONCURRENCY_ID, api_visibility="private",
                       show_progress="minimal")
    for trigger in (question_box.submit, send_button.click):
        trigger(start_turn, [question_box, chatbot, questions], turn_outputs, queue=False,
                api_visibility="private", show_progress="hidden").then(**answer_step)
    chatbot.example_select(pick_example, [chatbot, questions], turn_outputs, queue=False,
                           api_visibility="private", show_progress="hidden").then(**answer_step)
    new_button.click(new_chat, None, [chatbot, questions, pending, question_box], queue=False,
                     api_visibility="private")
    chatbot.clear(lambda: ([], ""), None, [questions, pending], queue=False, api_visibility="private")
    return [(ask, dict(api_name=API_NAME, concurrency_limit=concurrency, concurrency_id=CONCURRENCY_ID))]
