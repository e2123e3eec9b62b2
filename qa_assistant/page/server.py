"""The page as a whole and its server: the heading and two tabs (问答, 资料库) over one live archive, the
login (``--auth USER:PASSWORD`` or ``--auth-file``), and who may manage the archive: visitors of a page
on 127.0.0.1 (or localhost, ::1), or logged-in visitors; anywhere else management is off and asking open."""
from __future__ import annotations

import inspect
import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import gradio as gr

from ..assistant import Assistant
from ..render import page_title
from ..settings import SettingsError
from .chat import API_NAME, build_chat, chat_sidebar, refusal
from .library import PAGE_I18N, build_library, limits_text
from .live import Access, Live, access_for
from .style import CSS, THEME

log = logging.getLogger(__name__)

MAX_EXAMPLES = 3
MAX_AUTH_FILE_BYTES = 64 * 1024
CACHE_SECONDS = 3600  # uploads Gradio keeps in its temporary folder are deleted after an hour


def build_app(assistant: Assistant | Live, access: Access | None = None) -> gr.Blocks:
    """The page over ``assistant`` (loaded once, shared by every session, swapped whole when the archive
    changes). ``access`` says whether visitors may upload and remove (default: yes, as on 127.0.0.1)."""
    live = assistant if isinstance(assistant, Live) else Live(assistant)
    access = access or Access(True)
    first = live.get()
    settings = first.settings
    concurrency = settings.answers_at_once
    examples = first.example_questions(MAX_EXAMPLES)
    limits = limits_text(settings.max_file_mb, settings.max_upload_files, settings.max_upload_mb)
    with gr.Blocks(title="问答助手", fill_height=True, analytics_enabled=False,  # offline: no telemetry
                   delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as app:
        controls = chat_sidebar(settings)
        title = gr.Markdown(page_title(first.info()), elem_id="qa-title")
        with gr.Tabs(elem_id="qa-tabs"):
            with gr.Tab("问答", id="chat", elem_id="qa-chat-tab"):
                endpoints = build_chat(live, settings, examples, concurrency, controls)
            endpoints += build_library(live, access, Assistant.readable_suffixes(), limits, title)
        for function, options in endpoints:
            gr.api(function, **options)
        app.load(lambda: page_title(live.get().info()), None, title, api_visibility="private", queue=False)
    app.queue(default_concurrency_limit=concurrency, max_size=256)
    _refuse_missing_arguments(app)
    return app


def _refuse_missing_arguments(app: gr.Blocks) -> None:
    """An API call with too few arguments gets a one-line error naming them (and one log line): Gradio's own
    check answers it with ``{"error": null}`` and a traceback in the log."""
    check = app.validate_inputs

    def validate(block_fn, inputs: list) -> None:
        if len(inputs) < len(block_fn.inputs):
            names = list(inspect.signature(block_fn.fn).parameters) if block_fn.fn else []
            wanted = f"（{', '.join(names)}）" if len(names) == len(block_fn.inputs) else ""
            raise refusal(f"/{block_fn.api_name or block_fn.name} 需要 {len(block_fn.inputs)} 个参数{wanted}，"
                          f"收到 {len(inputs)} 个。")
        check(block_fn, inputs)
    app.validate_inputs = validate


def read_credentials(auth: str | None = None, auth_file: str | Path | None = None) -> list[tuple[str, str]]:
    """Logins from ``--auth USER:PASSWORD`` and from a file of ``user:password`` lines (blank lines and
    ``#`` comments skipped). The user name is trimmed; the password is everything after the first colon
    exactly as written, spaces included (only the line break goes). A user given twice is refused, by line."""
    pairs = [_credential(auth, "--auth")] if auth is not None else []
    first = {user: "given with --auth" for user, _ in pairs}  # user → where it was first given
    if auth_file is not None:
        path = Path(auth_file)
        try:
            if path.stat().st_size > MAX_AUTH_FILE_BYTES:
                raise SettingsError(f"{path}: credentials file over {MAX_AUTH_FILE_BYTES // 1024} KB")
            text = path.read_text(encoding="utf-8-sig")  # a byte order mark is not part of the first user name
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"{path}: cannot read the credentials file ({error})") from None
        found = []
        for number, line in enumerate(text.split("\n"), 1):
            line = line[:-1] if line.endswith("\r") else line
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            user, password = _credential(line, f"{path}:{number}")
            if user in first:
                raise SettingsError(f"{path}:{number}: user {user!r} is listed twice (also {first[user]}); "
                                    f"give each user one line")
            first[user] = f"on line {number}"
            found.append((user, password))
        if not found:
            raise SettingsError(f"{path}: no user:password line in the credentials file")
        pairs += found
    return pairs


def _credential(text: str, where: str) -> tuple[str, str]:
    """(user, password) of ``USER:PASSWORD``: the user trimmed, the password as written after the first colon."""
    user, colon, password = text.partition(":")
    if not colon or not user.strip() or not password:
        raise SettingsError(f"{where}: expected USER:PASSWORD (a user name, a colon, a password)")
    return user.strip(), password


def serve(index_dir: str | Path, host: str = "127.0.0.1", port: int = 7860, changes: Mapping[str, Any] | None = None,
          auth: Sequence[tuple[str, str]] | None = None, assistant: Assistant | None = None,
          **launch_kwargs) -> None:
    """Load the index and its model once (or serve ``assistant``, already open on it), then serve the page
    until interrupted. ``changes`` are settings that differ from the ones the index was built with; ``auth``
    (user, password) pairs make every visitor log in, and let them manage the archive on any address."""
    started = time.perf_counter()
    log.info("loading index %s", index_dir)
    assistant = assistant or Assistant.open(index_dir, **(changes or {}))
    info = assistant.info()
    model = info["model"]
    log.info("index %s: %d articles, %d passages; model %s (weights %s…, %d dims); loaded in %.1f s",
             index_dir, info["articles"], info["passages"], model["name"], model["fingerprint"][:12],
             model["dimension"], time.perf_counter() - started)
    access = access_for(host, bool(auth))
    concurrency = assistant.settings.answers_at_once
    app = build_app(Live(assistant), access)
    log.info("page on http://%s:%d/ (API endpoints /%s, /upload, /sources, /remove; up to %d answers at a time); "
             "archive management %s%s", host, port, API_NAME, concurrency, "on" if access.manage else "OFF",
             " (login required)" if auth else "" if access.manage else f" (listening on {host} without --auth)")
    max_mb = assistant.settings.max_file_mb
    launch_kwargs.setdefault("max_file_size", int(max_mb * (1 << 20)) if max_mb else None)
    launch_kwargs.setdefault("i18n", PAGE_I18N)  # the upload box's own words in Chinese
    try:
        app.launch(server_name=host, server_port=port, show_error=False, ssr_mode=False, theme=THEME, css=CSS,
                   footer_links=["api"], auth=list(auth) if auth else None,
                   auth_message="问答助手：请登录" if auth else None, **launch_kwargs)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise SettingsError(f"--host {host} --port {port}: cannot serve the page there ({error})") from None


__all__ = ["build_app", "read_credentials", "serve"]
