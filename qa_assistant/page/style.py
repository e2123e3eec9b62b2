"""The page's look: Gradio's Soft theme with system fonts only (offline; Chinese in the platform's CJK font)
and the few styles of the chat replies and the archive tab."""
from __future__ import annotations

import gradio as gr

THEME = gr.themes.Soft(
    primary_hue="blue", neutral_hue="slate",
    font=["system-ui", "-apple-system", "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
          "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)
CSS = """
#qa-title h1 { margin-bottom: 0.1em; }
#qa-title p { margin-top: 0; color: var(--body-text-color-subdued); }
#qa-chat blockquote { border-left: 4px solid var(--color-accent); margin: 0.6em 0; padding: 0.3em 0.9em;
  background: var(--background-fill-secondary); border-radius: 0 6px 6px 0; }
#qa-chat blockquote strong { background: rgba(255, 214, 10, 0.35); font-weight: 600; border-radius: 2px; }
#qa-chat details.qa-hits { margin-top: 0.8em; font-size: 0.92em; }
#qa-chat details.qa-hits summary { cursor: pointer; color: var(--body-text-color-subdued); }
#qa-chat details.qa-hits ol { padding-left: 1.4em; }
#qa-chat details.qa-hits li { margin: 0.45em 0; }
#qa-chat .qa-cite { font-weight: 600; }
#qa-chat .qa-score { color: var(--body-text-color-subdued); font-size: 0.9em; font-variant-numeric: tabular-nums; }
#qa-chat .qa-quoted { color: var(--color-accent); font-size: 0.9em; }
#qa-chat .qa-note { color: var(--body-text-color-subdued); font-size: 0.9em; }
#qa-chat mark { background: rgba(255, 214, 10, 0.35); color: inherit; }
#qa-manage-off { border-left: 4px solid #d97706; padding: 0.2em 0.9em; background: var(--background-fill-secondary); }
#qa-confirm { border: 1px solid #dc2626; border-radius: 8px; padding: 0.4em 0.8em; }
#qa-source-view .qa-note { color: var(--body-text-color-subdued); font-size: 0.92em; }
#qa-source-view details.qa-article { margin: 0.5em 0; padding: 0.3em 0.8em; border-radius: 6px;
  background: var(--background-fill-secondary); }
#qa-source-view details.qa-article summary { cursor: pointer; font-weight: 600; }
#qa-source-view .qa-para { color: var(--body-text-color-subdued); font-size: 0.85em; margin-right: 0.4em; }
#qa-source-view .qa-ocr { color: #b45309; font-size: 0.85em; cursor: help; }
#qa-source-view { max-height: 60vh; overflow-y: auto; }
"""
