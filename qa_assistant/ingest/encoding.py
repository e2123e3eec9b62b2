"""Text files → str: UTF-8 first, then the encoding a Chinese archive may hold (GB18030/GBK, Big5,
Big5-HKSCS, UTF-16/32), detected by charset-normalizer. A file whose encoding cannot be told with
confidence is refused by name, never decoded into mojibake."""
from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from .model import IngestError

CANDIDATES = ("gb18030", "big5", "big5hkscs")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_SAMPLE = 1 << 16  # bytes looked at to tell text from binary
_MAX_CONTROLS_SHARE = 0.01


def decode_bytes(raw: bytes, path: str | Path = "<bytes>") -> str:
    """Decode a text file's bytes (see the module docstring); newlines become ``\\n``."""
    text = _decode(raw, path).rstrip("\x00")  # NUL padding at the end (an export artefact) is not content
    if "\x00" in text[:_SAMPLE]:
        raise IngestError(path, "looks like a binary file (NUL bytes), not text")
    sample = text[:_SAMPLE]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t\f")
    if controls > max(8, int(len(sample) * _MAX_CONTROLS_SHARE)):
        raise IngestError(path, "looks like a binary file (control characters), not text")
    unassigned = sum(1 for ch in sample if ch in "\ufffd\ufeff" or unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    if unassigned > max(2, int(len(sample) * _MAX_CONTROLS_SHARE)):
        raise IngestError(path, "does not decode to text (unassigned characters); is it a binary file?")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: str | Path) -> str:
    """Read and decode a text file, naming it in every error."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IngestError(path, f"cannot read: {error.strerror or error}") from None
    return decode_bytes(raw, path)


def _decode(raw: bytes, path: str | Path) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _strict(_whole_units(raw, encoding), encoding, path)
    wide = _utf16_or_32_without_bom(raw[:_SAMPLE])
    if wide:
        return _strict(_whole_units(raw, wide), wide, path)
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw[:_SAMPLE]:
        raise IngestError(path, "looks like a binary file (NUL bytes), not text")
    from charset_normalizer import from_bytes
    matches = list(from_bytes(raw, cp_isolation=list(CANDIDATES), preemptive_behaviour=False))
    tried = "UTF-8, " + ", ".join(c.upper() for c in CANDIDATES)
    if not matches:
        raise IngestError(path, f"cannot tell the text encoding (tried {tried}); save it as UTF-8")
    best = matches[0]
    rival = next((m for m in matches[1:] if _family(m.encoding) != _family(best.encoding)), None)
    if rival is not None and abs(rival.chaos - best.chaos) < 0.01 and abs(rival.coherence - best.coherence) < 0.01:
        raise IngestError(path, f"the text encoding is ambiguous ({best.encoding} or {rival.encoding}; "
                                f"tried {tried}); save it as UTF-8")
    return str(best)


def _family(encoding: str) -> str:
    return "big5" if encoding.startswith(("big5", "cp950")) else encoding


def _utf16_or_32_without_bom(sample: bytes) -> str | None:
    """UTF-16/32 text without a byte order mark: UTF-32 by its NUL bytes in fixed positions of each code
    unit, UTF-16 by the byte order that decodes to characters news text is made of."""
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    def zero_share(offset: int, step: int) -> float:
        units = sample[offset::step]
        return units.count(0) / len(units) if units else 0.0
    sample = sample[:len(sample) - len(sample) % 4]
    if zero_share(2, 4) > 0.9 and zero_share(3, 4) > 0.9:
        return "utf-32-le"
    if zero_share(0, 4) > 0.9 and zero_share(1, 4) > 0.9:
        return "utf-32-be"
    best, share = None, 0.0
    for encoding in ("utf-16-le", "utf-16-be"):
        text = sample[:len(sample) - len(sample) % 2].decode(encoding, errors="replace")
        plausible = sum(1 for ch in text if _plausible(ch)) / max(len(text), 1)
        if plausible > share:
            best, share = encoding, plausible
    return best if share >= 0.95 else None


def _plausible(ch: str) -> bool:
    """A character Chinese news text is made of: CJK, ASCII, CJK and general punctuation, full-width forms."""
    code = ord(ch)
    return (0x20 <= code < 0x7F or ch in "\n\r\t" or 0x4E00 <= code <= 0x9FFF or 0x3000 <= code <= 0x303F
            or 0xFF00 <= code <= 0xFFEF or 0x2000 <= code <= 0x206F or 0x3400 <= code <= 0x4DBF or code == 0xB7)


def _whole_units(raw: bytes, encoding: str) -> bytes:
    """UTF-16/32 bytes without a trailing partial code unit of NUL padding."""
    unit = 4 if "32" in encoding else 2 if "16" in encoding else 1
    extra = len(raw) % unit
    return raw[:len(raw) - extra] if extra and not raw[len(raw) - extra:].strip(b"\x00") else raw


def _strict(raw: bytes, encoding: str, path: str | Path) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise IngestError(path, f"not valid {encoding.upper()} text (byte {error.start})") from None
