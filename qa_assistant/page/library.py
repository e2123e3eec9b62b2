"""The 资料库 tab and the ``/upload``, ``/sources`` and ``/remove`` endpoints: upload files (drag and drop, a
progress bar while embedding, a result per file in plain words), a filterable table of sources, one source's
articles and paragraphs as the index holds them, and removal of a source or an article after a confirmation.
Uploads and removals run one at a time (one writer per index); each swaps the archive the chat answers from.
When management is off (see :func:`~qa_assistant.page.live.access_for`) the tab only lists and shows."""
from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from ..assistant import USER_ERRORS
from ..render import (SOURCE_COLUMNS, article_choices, page_title, refusal_text, removal_question, removal_report,
                      source_html, source_labels, sources_table, upload_report, upload_result)
from ..uploads import RequestError
from .chat import refusal
from .live import Access, Live

log = logging.getLogger(__name__)

WRITE_ID = "archive-write"  # uploads and removals share one slot: the index has one writer at a time

# Gradio's own words in the upload box (「Drop File Here - or - Click to Upload」), which gr.File has no
# parameter for, in Chinese: by the translation keys of its frontend, under every locale it ships (it picks
# one by the browser's language), so the box speaks Chinese whatever the browser's language. Passed to
# ``launch(i18n=...)`` by ``serve``.
UPLOAD_TEXT = {"upload_text.drop_file": "将文件拖放到这里", "common.or": "或",
               "upload_text.click_to_upload": "点击选择文件"}
GRADIO_LOCALES = ("en", "zh-CN", "zh-TW", "ar", "ca", "ckb", "de", "es", "et", "eu", "fa", "fi", "fr", "he", "hi",
                  "id", "ja", "ko", "lt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sv", "ta", "th", "tr", "uk",
                  "ur", "uz")
PAGE_I18N = gr.I18n(**{locale: dict(UPLOAD_TEXT) for locale in GRADIO_LOCALES})


def _fail(action: str, error: Exception) -> gr.Error:
    """A failed request: the user's mistake in one line (and one in the log); a bug with its traceback in the log."""
    if isinstance(error, USER_ERRORS):
        return refusal(f"{action}：{refusal_text(error)}")
    log.exception("%s failed", action)
    return refusal(f"{action}：出错了，请稍后再试（详情见服务器日志）。")


def build_library(live: Live, access: Access, suffixes: tuple[str, ...], limits: str,
                  title: gr.Markdown) -> list[tuple]:
    """The 资料库 tab and its ``/upload`` endpoint (the upload button's event), in the current Blocks;
    returns ``/sources`` and ``/remove`` as (function, options) for ``gr.api`` (registered outside the
    tabs). ``title`` is the page heading, updated after every change."""

    def upload(files: list[str] | str | None, progress=gr.Progress(track_tqdm=True)) -> list[dict]:
        """Add files to the archive: each is kept with the index and indexed; returns one result per file
        (file, status added/replaced/unchanged/error, message, articles, passages, …)."""
        if not access.manage:
            raise refusal(access.reason)
        paths = [files] if isinstance(files, str) else [p for p in (files or []) if p]
        if not paths:
            raise refusal("没有收到文件：请先选择或拖入要加入资料库的文件。")
        progress(0, desc="正在读取文件…")
        try:
            writer, results = live.get().upload([(Path(p).name, p) for p in paths], progress=True)
        except Exception as error:  # noqa: BLE001 — every failure is one clear message
            raise _fail("无法上传", error) from None
        live.publish(writer)
        log.info("upload of %d files: %s", len(results), ", ".join(f"{r['file']} {r['status']}" for r in results))
        return [upload_result(result) for result in results]

    def sources(filter: str = "") -> list[dict]:
        """The archive's source files: source, file, original, articles, passages, first_date, last_date,
        indexed; ``filter`` keeps those whose path or headlines hold it."""
        try:
            return live.get().sources(filter)
        except Exception as error:  # noqa: BLE001
            raise _fail("无法列出资料", error) from None

    def remove(keys: list[str] | str) -> dict:
        """Remove sources (path, or a file name only one source has) or articles (id) from the archive;
        returns what was removed (sources, articles, passages, passages_left, originals_deleted, not_found)."""
        if not access.manage:
            raise refusal(access.reason)
        try:
            writer, removal = live.get().withdraw(keys)
        except Exception as error:  # noqa: BLE001
            raise _fail("无法删除", error) from None
        live.publish(writer)
        log.info("removed %d passages (%s)", removal["passages"], ", ".join(removal["sources"] + removal["articles"])[:300])
        return removal

    # ------------------------------------------------------------------ what the page shows
    def table(filter_text: str):
        """The table, the sources it lists (row order) and the choices of the source picker."""
        assistant = live.get()
        try:
            rows = assistant.sources(filter_text or "")
        except RequestError as error:
            raise refusal(refusal_text(error)) from None
        listed = [row["source"] for row in rows]
        choices = list(zip(source_labels(rows), listed))
        return (gr.Dataframe(value=sources_table(rows) or None, headers=SOURCE_COLUMNS), listed,
                gr.Dropdown(choices=choices, value=None), page_title(assistant.info()))

    def pick_row(selection: gr.SelectData, listed: list[str]):
        row = selection.index[0] if isinstance(selection.index, (list, tuple)) else selection.index
        return listed[row] if isinstance(row, int) and 0 <= row < len(listed) else gr.skip()

    def show(source: str | None):
        hidden = gr.Row(visible=False)
        if not source:
            return "", gr.Dropdown(choices=[], value=None), hidden, []
        assistant = live.get()
        try:
            articles = assistant.source(source)
        except RequestError:
            return "<p>这个来源已不在资料库中。</p>", gr.Dropdown(choices=[], value=None), hidden, []
        rows = assistant.sources()
        label = dict(zip([r["source"] for r in rows], source_labels(rows)))
        return (source_html(label.get(source, Path(source).name), articles),
                gr.Dropdown(choices=article_choices(articles), value=None), hidden, [])

    def ask_source(source: str | None):
        if not source:
            raise refusal("请先选择一个来源。")
        return gr.Row(visible=True), removal_question(source=source), [source]

    def ask_article(article: str | None, source: str | None):
        if not article:
            raise refusal("请先选择一篇文章。")
        titles = {a["article_id"]: a["title"] for a in live.get().source(source)} if source else {}
        return gr.Row(visible=True), removal_question(title=titles.get(article, article)), [article]

    def confirm(keys: list[str], filter_text: str):
        if not keys:
            return (gr.Row(visible=False), "", [], gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        removal = remove(keys)
        listed_table, listed, picker_update, heading = table(filter_text)
        return (gr.Row(visible=False), removal_report(removal), [], listed_table, listed, picker_update, heading, "")

    with gr.Tab("资料库", id="archive", elem_id="qa-archive-tab") as tab:
        if not access.manage:
            gr.Markdown(access.reason, elem_id="qa-manage-off")
        with gr.Column(visible=access.manage):
            files = gr.File(file_count="multiple", file_types=list(suffixes), type="filepath", height=150,
                            label=f"上传文件：拖放到这里或点击选择（{' '.join(suffixes)}）", elem_id="qa-upload-files")
            with gr.Row(equal_height=True):
                upload_button = gr.Button("加入资料库", variant="primary", elem_id="qa-upload", scale=0, min_width=160)
                gr.Markdown(limits, elem_id="qa-limits")
        report_view = gr.Markdown(elem_id="qa-upload-report", min_height=30)
        upload_json = gr.JSON(visible=False)
        with gr.Row(equal_height=True):
            filter_box = gr.Textbox(placeholder="按文件名或标题筛选，回车确认", show_label=False, scale=6, max_length=200,
                                    elem_id="qa-filter")
            refresh_button = gr.Button("刷新", scale=1, min_width=80, elem_id="qa-refresh")
        source_table = gr.Dataframe(headers=SOURCE_COLUMNS, interactive=False, wrap=True, max_height=360,
                                    elem_id="qa-sources", label="资料来源（点一行查看）")
        listed = gr.State([])
        picker = gr.Dropdown(label="查看来源", choices=[], value=None, elem_id="qa-source-pick")
        view = gr.HTML(elem_id="qa-source-view")
        with gr.Row(visible=access.manage, equal_height=True):
            article_picker = gr.Dropdown(label="要删除的文章", choices=[], value=None, scale=4,
                                         elem_id="qa-article-pick")
            remove_article = gr.Button("删除这篇文章", scale=1, elem_id="qa-remove-article")
            remove_source = gr.Button("删除整个来源", variant="stop", scale=1, elem_id="qa-remove-source")
        with gr.Row(visible=False, elem_id="qa-confirm", equal_height=True) as confirm_row:
            confirm_text = gr.Markdown()
            confirm_button = gr.Button("确认删除", variant="stop", scale=0, min_width=110, elem_id="qa-confirm-yes")
            cancel_button = gr.Button("取消", scale=0, min_width=80, elem_id="qa-confirm-no")
        pending = gr.State([])
        removal_result = gr.Markdown(elem_id="qa-removal-report")

    table_outputs = [source_table, listed, picker, title]
    private = dict(api_visibility="private")
    uploaded = upload_button.click(lambda: gr.Button(interactive=False), None, upload_button, queue=False,
                                   **private).then(
        upload, [files], [upload_json], api_name="upload", concurrency_limit=1, concurrency_id=WRITE_ID,
        show_progress="full", show_progress_on=[report_view])
    uploaded.success(lambda results, text: (upload_report(results), None) + table(text), [upload_json, filter_box],
                     [report_view, files] + table_outputs, **private)
    uploaded.then(lambda: gr.Button(interactive=True), None, upload_button, queue=False, **private)
    for trigger in (tab.select, refresh_button.click, filter_box.submit):
        trigger(table, [filter_box], table_outputs, **private)
    source_table.select(pick_row, [listed], [picker], **private)
    picker.change(show, [picker], [view, article_picker, confirm_row, pending], **private)
    remove_source.click(ask_source, [picker], [confirm_row, confirm_text, pending], **private)
    remove_article.click(ask_article, [article_picker, picker], [confirm_row, confirm_text, pending], **private)
    confirm_button.click(confirm, [pending, filter_box], [confirm_row, removal_result, pending] + table_outputs + [view],
                         concurrency_limit=1, concurrency_id=WRITE_ID, **private)
    cancel_button.click(lambda: (gr.Row(visible=False), []), None, [confirm_row, pending], queue=False, **private)
    return [(sources, dict(api_name="sources")),
            (remove, dict(api_name="remove", concurrency_limit=1, concurrency_id=WRITE_ID))]


def limits_text(max_file_mb: float, max_files: int, max_total_mb: float) -> str:
    """The upload limits in plain words, for the tab (0 = no limit)."""
    limits = [f"每个文件不超过 {max_file_mb:g} MB" if max_file_mb else "",
              f"一次最多 {max_files} 个文件" if max_files else "", f"合计不超过 {max_total_mb:g} MB" if max_total_mb else ""]
    return "，".join(x for x in limits if x) + "。同名文件会替换之前上传的版本；内容相同的文件不会重复收录。"


__all__ = ["WRITE_ID", "build_library", "limits_text"]
