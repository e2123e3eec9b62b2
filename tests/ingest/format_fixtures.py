"""Fixture builders for the format readers' tests: the sample page's six articles (parsed with parse_page,
never hard-coded) written as e-paper PDFs printed by headless Chromium, as website HTML pages with
boilerplate (one an older GBK page), and as a DOCX; a scanned (image-only) PDF; scans of the printed pages
(blur, grain, specks, skew) as image-only and mixed PDFs, a phone photo, small A5 pages; shared checks and
the character error rate."""
from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

from qa_assistant.ingest import Page, parse_page, read_text

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PAGE = ROOT / "qa_assistant" / "data" / "page_000.txt"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAPER = "劳动午报"
DATE_LINE = "2024年1月12日 星期五"
DATE = "2024-01-12"
FURNITURE = (PAPER, "星期五", "第3版", "责任编辑", "美术编辑", "出版物号", "版权所有", "首页", "相关新闻",
             "京ICP备", "当前位置", "分享到", "document.", "font-family")
SLOGAN_PIECE = "二十大精神"


def sample_page() -> Page:
    return parse_page(read_text(SAMPLE_PAGE), str(SAMPLE_PAGE))


def has_chromium() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


def print_pdf(html_file: Path, pdf_file: Path, timeout: float = 120) -> Path:
    """Print an HTML file to PDF with headless Chromium (the page's own @page size and margin boxes)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={profile}", f"--print-to-pdf={pdf_file}", "--no-pdf-header-footer",
                   html_file.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if not pdf_file.is_file() or pdf_file.stat().st_size == 0:
        raise RuntimeError(f"chromium did not print {html_file}: {done.stderr[-2000:]}")
    return pdf_file


def _paragraphs_html(article, in_columns: bool) -> str:
    parts = []
    for paragraph in article.paragraphs:
        text = html.escape(paragraph.text)
        if paragraph.kind == "caption":
            parts.append(f'<figure><div class="photo"></div><figcaption>{text}</figcaption></figure>')
        else:
            parts.append(f"<p>{text}</p>")
    return "\n".join(parts)


def epaper_html(page: Page, paper: str = PAPER, date_line: str = DATE_LINE, edition: str = "第3版 要闻",
                credits: str = "责任编辑：王文 美术编辑：李丽") -> str:
    """A3 e-paper page: masthead (paper name, date, edition), banner slogan, the lead story under a headline
    spanning three columns, the other stories flowing through three columns with in-column headlines;
    running header and footer (paper, date, page number, editor credits) on every printed page."""
    lead, *rest = page.articles

    def story(article, spanning: bool) -> str:
        head = f'<h2 class="{"span" if spanning else "col"}">{html.escape(article.title)}</h2>'
        if article.subtitle:
            head += f'<h3>{html.escape(article.subtitle)}</h3>'
        return head + "\n" + _paragraphs_html(article, True)

    banner = "".join(f'<div class="banner">{html.escape(b)}</div>' for b in page.banner)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{paper}</title><style>
@page {{ size: A3; margin: 22mm 16mm 20mm 16mm;
  @top-left {{ content: "{paper}"; font: 9pt "WenQuanYi Micro Hei"; }}
  @top-center {{ content: "{date_line}"; font: 9pt "WenQuanYi Micro Hei"; }}
  @top-right {{ content: "第" counter(page) "版"; font: 9pt "WenQuanYi Micro Hei"; }}
  @bottom-center {{ content: "{credits}"; font: 9pt "WenQuanYi Micro Hei"; }} }}
body {{ font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 13pt; line-height: 1.7; margin: 0; }}
.masthead {{ display: flex; justify-content: space-between; align-items: flex-end;
  border-bottom: 3px double #000; padding-bottom: 2mm; }}
.paper {{ font-size: 54pt; font-weight: bold; letter-spacing: 4pt; line-height: 1.1; }}
.meta {{ font-size: 10pt; text-align: right; line-height: 1.5; }}
.banner {{ text-align: center; font-size: 22pt; color: #b00; margin: 4mm 0; }}
.flow {{ column-count: 3; column-gap: 9mm; column-rule: 0.5pt solid #888; }}
h2 {{ font-weight: bold; line-height: 1.3; margin: 0; }}
h2.span {{ font-size: 28pt; text-align: center; margin: 3mm 0 5mm; }}
h2.col {{ font-size: 19pt; text-align: center; margin: 5mm 0 3mm; break-after: avoid; }}
h3 {{ font-size: 15pt; font-weight: normal; text-align: center; margin: 0 0 3mm; }}
p {{ margin: 0; text-indent: 2em; text-align: justify; }}
figure {{ margin: 3mm 0; break-inside: avoid; }}
.photo {{ height: 45mm; background: #bbb; }}
figcaption {{ font-size: 10pt; line-height: 1.5; }}
.sep {{ height: 6mm; }}
</style></head><body>
<div class="masthead"><div class="paper">{paper}</div>
<div class="meta"><div>{date_line}</div><div>{edition}</div><div>国内统一连续出版物号 CN11-0031</div></div></div>
{banner}
<h2 class="span">{html.escape(lead.title)}</h2>
<div class="flow">{_paragraphs_html(lead, True)}</div>
<div class="sep"></div>
<div class="flow">{"".join(story(a, False) for a in rest)}</div>
</body></html>"""


def epaper_bands_html(page: Page) -> str:
    """Another e-paper layout: every story a band under a headline spanning three columns, block paragraphs
    (no first-line indent, a blank between them), 10.5pt text, masthead only on the first page."""
    stories = "".join(f"<h2>{html.escape(a.title)}</h2>" + (f"<h3>{html.escape(a.subtitle)}</h3>" if a.subtitle else "")
                      + f'<div class="flow">{_paragraphs_html(a, True)}</div>' for a in page.articles)
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>@page {{ size: A3; margin: 15mm; }}
body {{ font-family: "WenQuanYi Micro Hei"; margin: 0; font-size: 10.5pt; line-height: 1.6; }}
.mast {{ font-size: 40pt; text-align: center; }} .date {{ text-align: center; font-size: 9pt; border-bottom: 2px solid; }}
.flow {{ column-count: 3; column-gap: 6mm; }} h2 {{ font-size: 20pt; text-align: center; margin: 6mm 0 1mm; }}
h3 {{ font-size: 13pt; text-align: center; font-weight: normal; margin: 0 0 2mm; }}
p {{ margin: 0 0 0.8em; text-align: justify; }} figure {{ margin: 2mm 0; break-inside: avoid; }}
.photo {{ height: 30mm; background: #bbb; }} figcaption {{ font-size: 8pt; line-height: 1.4; }}</style></head><body>
<div class="mast">{PAPER}</div><div class="date">{DATE_LINE} 第3版</div>
<div style="text-align:center;font-size:16pt;margin:3mm">{"".join(html.escape(b) for b in page.banner)}</div>
{stories}</body></html>"""


def epaper_grid_html(page: Page) -> str:
    """A third layout: the lead story over two of three columns (its photo inside a paragraph, the caption
    beside it), two stories in the third column, a short centred headline over three columns, then two
    stories side by side; a one-line running head and small editor credits at the foot."""
    a = page.articles

    def lead_body(article) -> str:
        caption = next((p.text for p in article.paragraphs if p.kind == "caption"), "")
        out = []
        for i, p in enumerate(article.paragraphs):
            if p.kind == "caption":
                continue
            text = html.escape(p.text)
            if i == 2 and caption:
                half = len(p.text) // 2
                text = (html.escape(p.text[:half]) + '<span class="fig"><span class="photo"></span>'
                        f'<span class="cap">{html.escape(caption)}</span></span>' + html.escape(p.text[half:]))
            out.append(f"<p>{text}</p>")
        return "".join(out)

    def story(article) -> str:
        head = f'<h2 class="col">{html.escape(article.title)}</h2>'
        head += f"<h3>{html.escape(article.subtitle)}</h3>" if article.subtitle else ""
        return head + _paragraphs_html(article, True)

    return f"""<!doctype html><html><head><meta charset="utf-8"><style>@page {{ size: A3; margin: 15mm; }}
body {{ font-family: "WenQuanYi Micro Hei"; margin: 0; font-size: 11pt; line-height: 1.65; }}
.grid {{ display: grid; grid-template-columns: 2fr 1fr; column-gap: 7mm; }}
.two {{ column-count: 2; column-gap: 7mm; }} .three {{ column-count: 3; column-gap: 7mm; }}
h2 {{ font-size: 22pt; text-align: center; margin: 2mm 0 3mm; }} h2.col {{ font-size: 16pt; }}
h3 {{ font-size: 13pt; text-align: center; font-weight: normal; margin: 0 0 2mm; }}
p {{ margin: 0; text-indent: 2em; text-align: justify; }} figure {{ margin: 2mm 0; }}
.fig {{ display: block; text-indent: 0; margin: 2mm 0; }} .photo {{ display: block; height: 35mm; background: #bbb; }}
.cap, figcaption {{ display: block; font-size: 8.5pt; line-height: 1.4; }}
.mast {{ display: flex; justify-content: space-between; font-size: 9pt; border-bottom: 1px solid; margin-bottom: 3mm; }}
</style></head><body>
<div class="mast"><span>{PAPER}</span><span>{DATE_LINE}</span><span>第3版 要闻</span></div>
<div class="grid"><div><h2>{html.escape(a[0].title)}</h2><div class="two">{lead_body(a[0])}</div></div>
<div>{story(a[1])}{story(a[2])}</div></div>
<h2 style="margin-top:6mm">{html.escape(a[4].title)}</h2><div class="three">{_paragraphs_html(a[4], True)}</div>
<div class="two" style="margin-top:5mm">{story(a[3])}{story(a[5])}</div>
<div style="text-align:center;font-size:8pt;margin-top:4mm">责任编辑：王文 美术编辑：李丽 校对：赵晓</div>
</body></html>"""


def article_page_html(article, date: str, charset: str = "utf-8", url: str = "") -> str:
    """A saved website article page: navigation, breadcrumb, the article, related news, footer, scripts."""
    lead_note = f'<div class="info"><span class="time">{date} 08:30</span> <span class="source">来源：劳动午报</span>'
    author = f'<span class="author">作者：{"、".join(article.reporters)}</span></div>' if article.reporters else "</div>"
    body = "\n".join(f'<figure><img src="photo{i}.jpg" alt="现场照片"><figcaption>{html.escape(p.text)}</figcaption>'
                     f'</figure>' if p.kind == "caption"
                     else f"<p>{html.escape(p.text)}</p>" for i, p in enumerate(article.paragraphs))
    subtitle = f"<h2>{html.escape(article.subtitle)}</h2>" if article.subtitle else ""
    return f"""<!DOCTYPE html>
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{html.escape(article.title)}_劳动午报</title>
<meta name="author" content="{"、".join(article.reporters)}">
<meta property="og:title" content="{html.escape(article.title)}">
<meta property="article:published_time" content="{date}T08:30:00+08:00">
<meta name="publishdate" content="{date}">
<link rel="canonical" href="{url}">
<style>body {{ font-family: "Microsoft YaHei"; }} .nav li {{ display: inline; }}</style>
<script>var _hmt = _hmt || []; document.write("统计代码");</script>
</head><body>
<div class="top-bar">欢迎访问劳动午报网站 | 登录 | 注册</div>
<nav class="nav"><ul><li><a href="/">首页</a></li><li><a href="/news/">要闻</a></li><li><a href="/gh/">工会</a></li>
<li><a href="/wq/">维权</a></li><li><a href="/sh/">社会</a></li></ul></nav>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/news/">要闻</a> &gt; 正文</div>
<div class="main"><div class="article">
<h1>{html.escape(article.title)}</h1>
{subtitle}
{lead_note}{author}
<div class="content" id="content">
{body}
</div>
<div class="share">分享到：微信 微博 QQ空间</div>
<div class="editor">责任编辑：王文</div>
</div>
<div class="related"><h3>相关新闻</h3><ul>
<li><a href="/news/1.html">市总工会召开全委会议部署2024年工作重点任务</a></li>
<li><a href="/news/2.html">本市启动“两节”送温暖活动，走访慰问一线职工</a></li>
<li><a href="/news/3.html">职工书屋建设经验交流会在京举行</a></li></ul></div></div>
<div class="footer"><p>版权所有 &copy; 劳动午报社 未经授权禁止转载 京ICP备05012345号</p>
<p>地址：北京市东城区 联系电话：010-12345678</p></div>
<script>document.getElementById("content").style.fontSize = "16px";</script>
</body></html>"""


def legacy_page_html(article, date: str, charset: str = "gbk") -> str:
    """An older site's article page: table layout, paragraphs as full-width-indented runs between <br>,
    the date only in the text of an info line, links menu and footer in other table cells."""
    body = "<br>\n<br>\n".join("\u3000\u3000" + html.escape(p.text) for p in article.paragraphs)
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{html.escape(article.title)}--劳动午报</title>
<script language="javascript">function show(){{ document.all.menu.style.display = "block"; }}</script>
</head><body><table width="980" align="center"><tr><td class="menu">
<a href="/">首页</a> | <a href="/news/">新闻中心</a> | <a href="/gh/">工会动态</a> | <a href="/ft/">法治维权</a></td></tr>
<tr><td>您现在的位置：<a href="/">首页</a> &gt;&gt; <a href="/gh/">工会动态</a></td></tr>
<tr><td><table width="700"><tr><td align="center"><font size="5"><b>{html.escape(article.title)}</b></font></td></tr>
<tr><td align="center">发布时间：{date} 来源：劳动午报 点击数：128</td></tr>
<tr><td class="content"><font style="font-size:14px;line-height:26px">
{body}
</font></td></tr>
<tr><td>【<a href="javascript:window.print()">打印本页</a>】 【<a href="javascript:window.close()">关闭窗口</a>】</td></tr>
</table></td><td width="260" valign="top"><b>热点推荐</b><br>
<a href="/a/1.html">全市职工技能大赛决赛落幕</a><br><a href="/a/2.html">工会驿站冬季服务温暖户外劳动者</a><br>
<a href="/a/3.html">新就业形态劳动者入会集中行动启动</a></td></tr>
<tr><td colspan="2" align="center">Copyright &copy; 2024 劳动午报社 版权所有 京ICP备05012345号</td></tr></table>
</body></html>"""


def write_site(page: Page, folder: Path, date: str = DATE, gbk_index: int = 2) -> list[Path]:
    """One HTML file per article; the one at ``gbk_index`` is an older GBK page in table layout."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for index, article in enumerate(page.articles):
        path = folder / f"article_{index + 1}.html"
        if index == gbk_index:
            path.write_bytes(legacy_page_html(article, date).encode("gbk"))
        else:
            url = f"https://www.example.com/news/{date.replace('-', '')}/{index + 1}.html"
            path.write_bytes(article_page_html(article, date, "utf-8", url).encode("utf-8"))
        files.append(path)
    return files


def write_docx(page: Page, path: Path, date_line: str = DATE_LINE) -> Path:
    """The page as a Word file: masthead date line, banner as Title, headlines as Heading 1, subtitles as
    Heading 2, paragraphs (long ones with a soft line break inside a sentence), captions in their place."""
    import docx
    document = docx.Document()
    document.add_paragraph(date_line)
    for line in page.banner:
        document.add_heading(line, level=0)
    for article in page.articles:
        document.add_heading(article.title, level=1)
        if article.subtitle:
            document.add_heading(article.subtitle, level=2)
        for paragraph in article.paragraphs:
            if len(paragraph.text) > 80:  # a soft line break inside the sentence, as pasted text has
                run = document.add_paragraph().add_run(paragraph.text[:60])
                run.add_break()
                run.add_text(paragraph.text[60:])
            else:
                document.add_paragraph(paragraph.text)
    document.save(path)
    return path


def scanned_pdf(path: Path) -> Path:
    """A one-page PDF holding only a grey image (what a scanner produces): no text layer."""
    pixels = zlib.compress(bytes(range(0, 256, 4)) * 64)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 5 0 R >> >> "
               b"/Contents 4 0 R >>"]
    content = b"q 500 0 0 700 48 70 cm /Im1 Do Q"
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceGray "
                   b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % len(pixels)
                   + pixels + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


JINGKAIQU = ("北京先瑞达医疗科技有限公司", "北京华联印刷有限公司", "13名困难职工")


def assert_jingkaiqu_whole(articles) -> None:
    """The paragraph naming the six companies holds the first and last of them and the 13 workers."""
    holding = [p.text for a in articles for p in a.paragraphs if any(n in p.text for n in JINGKAIQU[1:])]
    assert len(holding) == 1 and all(name in holding[0] for name in JINGKAIQU), holding
    assert holding[0].startswith("为落实") and holding[0].endswith("为13名困难职工送上冬日慰问。")


def assert_same_articles(articles, page: Page, bylines: tuple[str, ...] = ("reporters", "correspondents")) -> None:
    """A reader gave the page's articles: headlines, subtitles, the date, paragraphs (kinds and texts
    whole) and the ``bylines`` fields named."""
    assert [a.title for a in articles] == [a.title for a in page.articles]
    assert [a.subtitle for a in articles] == [a.subtitle for a in page.articles]
    assert {a.date for a in articles} == {DATE}
    for got, want in zip(articles, page.articles):
        assert [(p.kind, p.text) for p in got.paragraphs] == [(p.kind, p.text) for p in want.paragraphs]
        assert [getattr(got, name) for name in bylines] == [getattr(want, name) for name in bylines]


SCAN_DPI = 200


def scan_images(pdf: Path, dpi: int = SCAN_DPI, skew: float = 0.6, seed: int = 23) -> list:
    """The pages of a text-layer PDF as a flatbed scanner gives them: rendered at ``dpi`` in grey, a little
    blur, turned by ``skew`` degrees (alternating sign page by page), greyish paper with grain and dark
    specks. PIL images (grey), with their resolution in ``info['dpi']``."""
    import numpy as np
    import pypdfium2
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    document = pypdfium2.PdfDocument(str(pdf))
    try:
        rendered = [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
                    for i in range(len(document))]
    finally:
        document.close()
    scans = []
    for number, image in enumerate(rendered):
        image = image.filter(ImageFilter.GaussianBlur(0.7))
        image = image.rotate(skew if number % 2 == 0 else -skew, resample=Image.Resampling.BICUBIC,
                             fillcolor=255)
        pixels = np.asarray(image, np.float32) * (236 / 255) + 8  # greyish paper, ink not quite black
        pixels += rng.normal(0, 6, pixels.shape)  # grain
        specks = rng.random(pixels.shape) < 0.0004
        pixels[specks] = rng.uniform(20, 120, int(specks.sum()))
        scan = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
        scan.info["dpi"] = (dpi, dpi)
        scans.append(scan)
    return scans


def image_pdf(images: list, path: Path, dpi: int = SCAN_DPI) -> Path:
    """Page images saved as a PDF with no text layer (JPEG pages, as scanners write them)."""
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=dpi, quality=85)
    return path


def mixed_pdf(text_pdf: Path, scanned: Path, path: Path, scanned_pages: tuple[int, ...] = (2,)) -> Path:
    """A PDF whose pages come from the text-layer PDF, but the numbers given from the scanned one."""
    import pypdfium2

    text, scan = pypdfium2.PdfDocument(str(text_pdf)), pypdfium2.PdfDocument(str(scanned))
    out = pypdfium2.PdfDocument.new()
    try:
        for number in range(1, len(text) + 1):
            out.import_pages(scan if number in scanned_pages else text, [number - 1])
        out.save(str(path))
    finally:
        for document in (out, text, scan):
            document.close()
    return path


def clipping_html(articles, paper: str = PAPER, date_line: str = DATE_LINE) -> str:
    """Small A5 pages, one story on each: a running head (paper, date, page number), the headline over
    two columns, indented paragraphs in two columns (what a cut-out page or a small paper looks like)."""
    stories = "".join(
        f'<section><h2>{html.escape(a.title)}</h2>'
        + (f"<h3>{html.escape(a.subtitle)}</h3>" if a.subtitle else "")
        + f'<div class="flow">{_paragraphs_html(a, True)}</div></section>' for a in articles)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
@page {{ size: A5; margin: 16mm 12mm 14mm 12mm;
  @top-left {{ content: "{paper}"; font: 8pt "WenQuanYi Micro Hei"; }}
  @top-center {{ content: "{date_line}"; font: 8pt "WenQuanYi Micro Hei"; }}
  @top-right {{ content: "第" counter(page) "版"; font: 8pt "WenQuanYi Micro Hei"; }} }}
body {{ font-family: "WenQuanYi Micro Hei"; font-size: 11pt; line-height: 1.7; margin: 0; }}
section + section {{ break-before: page; }} .flow {{ column-count: 2; column-gap: 7mm; }}
h2 {{ font-size: 18pt; text-align: center; margin: 0 0 4mm; }}
h3 {{ font-size: 13pt; font-weight: normal; text-align: center; margin: 0 0 3mm; }}
p {{ margin: 0; text-indent: 2em; text-align: justify; }} figure {{ margin: 2mm 0; break-inside: avoid; }}
.photo {{ height: 25mm; background: #bbb; }} figcaption {{ font-size: 8.5pt; line-height: 1.4; }}
</style></head><body>{stories}</body></html>"""


def photo_of(scan, turn: float = 1.2, shrink: float = 0.8):
    """A phone photo of a scanned page: turned ``turn`` more degrees, lit unevenly (darker to one side),
    smaller, with no stated resolution."""
    import numpy as np
    from PIL import Image

    image = scan.rotate(turn, resample=Image.Resampling.BICUBIC, fillcolor=235)
    image = image.resize((round(image.width * shrink), round(image.height * shrink)), Image.Resampling.LANCZOS)
    pixels = np.asarray(image, np.float32)
    light = np.linspace(0.78, 1.0, pixels.shape[1])[None, :] * np.linspace(0.9, 1.0, pixels.shape[0])[:, None]
    return Image.fromarray(np.clip(pixels * light, 0, 255).astype(np.uint8), "L")


def edit_distance(reference: str, hypothesis: str) -> int:
    """Levenshtein distance, one row at a time in numpy (insertions along the row by a running minimum)."""
    import numpy as np

    if not reference or not hypothesis:
        return max(len(reference), len(hypothesis))
    target = np.frombuffer(hypothesis.encode("utf-32-le"), dtype=np.uint32)
    positions = np.arange(len(hypothesis) + 1)
    row = positions.copy()
    for index, char in enumerate(reference, start=1):
        cost = (target != ord(char)).astype(np.int64)
        best = np.empty_like(row)
        best[0] = index
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        row = np.minimum.accumulate(best - positions) + positions
    return int(row[-1])


def char_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance over the reference's length, spaces left out (OCR does not hear Chinese spaces)."""
    reference, hypothesis = "".join(reference.split()), "".join(hypothesis.split())
    return edit_distance(reference, hypothesis) / max(1, len(reference))


def article_text(article) -> str:
    return "\n".join([article.title, article.subtitle] + [p.text for p in article.paragraphs])
