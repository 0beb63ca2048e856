"""Which text encoding an operator's file is in (CSV, JSONL): BOM, UTF-8, or a legacy code page.

Spreadsheets write UTF-8 with a byte-order mark ("CSV UTF-8"), UTF-16 with one ("Unicode
text"), or the system's legacy code page (cp1252 in western Europe and the Americas) without
any mark, as Excel itself reads a file without one
(https://wiki.scn.sap.com/wiki/display/ABAP/Excel+files+-+CSV+format); Windows PowerShell 5
writes UTF-16. The whole file is checked before a record is read, so a file is either read
entirely or refused with what was found.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TextEncoding", "detect_encoding"]

logger = logging.getLogger(__name__)

_SAMPLE = 1 << 20  # bytes looked at to guess a legacy code page
_CHUNK = 1 << 16
_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 with a byte-order mark"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 with a byte-order mark"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with a byte-order mark"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 with a byte-order mark"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 with a byte-order mark"),
)
_NOT_TEXT = (
    (b"PK\x03\x04", "a zip archive (an .xlsx or .ods workbook?); save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (an .xls workbook?); save the sheet as CSV"),
    (b"%PDF", "a PDF document"),
)
# The code pages spreadsheets write ("ANSI" on Windows, by system locale; Mac Excel's
# mac_roman), preferred in this order among those that read a sample equally well: left to
# itself charset_normalizer picks johab, iso8859_14 or cp1250 for short western text and turns
# "ñ" into "ń" (known on short inputs: https://github.com/jawah/charset_normalizer/issues/477,
# .../issues/130). Turkish cp1254 text reads as cp1252 when nothing tells them apart.
_CODE_PAGES = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "cp1255", "cp1256",
               "cp1258", "cp932", "cp936", "cp949", "cp950", "mac_roman")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass(frozen=True)
class TextEncoding:
    """How to open a file: ``codec`` and ``errors`` for ``open()``, and ``found`` in words."""

    codec: str
    found: str
    errors: str = "strict"


def detect_encoding(path: Path) -> TextEncoding:
    """The encoding PATH is written in; ValueError says what was found when it is not text."""
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE)
    for bom, codec, found in _BOMS:
        if sample.startswith(bom):
            return _checked(path, TextEncoding(codec, found))
    for magic, found in _NOT_TEXT:
        if sample.startswith(magic):
            raise ValueError(f"{path}: not a text file: found {found}")
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return _checked(path, TextEncoding(utf16, "UTF-16 without a byte-order mark"))
    if b"\x00" in sample:
        raise ValueError(f"{path}: not a text file: found NUL bytes (binary data?)")
    bad = _first_error(path, "utf-8")
    if bad is None:
        return TextEncoding("utf-8", "UTF-8")
    if _mostly_utf8(sample):
        # A UTF-8 file with a few damaged bytes: reading it as a code page would garble every
        # accented letter, so the damaged bytes alone are replaced (and the operator told).
        logger.warning("%s: UTF-8 with bytes that are not (first near byte %d); they are "
                       "replaced by U+FFFD", path, bad)
        return TextEncoding("utf-8", "damaged UTF-8 bytes replaced by U+FFFD", errors="replace")
    return _checked(path, _legacy(path, sample))


def _legacy(path: Path, sample: bytes) -> TextEncoding:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample, cp_isolation=list(_CODE_PAGES)))
    if not matches:
        raise ValueError(f"{path}: neither UTF-8 (with or without a byte-order mark) nor text in "
                         f"a spreadsheet code page ({', '.join(_CODE_PAGES)}); save it as UTF-8")
    least = min(match.chaos for match in matches)
    # could_be_from_charset: the code pages that decode the sample to the very same text.
    plausible = {name for match in matches if match.chaos == least
                 for name in match.could_be_from_charset}
    codec = next((name for name in _CODE_PAGES if name in plausible), matches[0].encoding)
    logger.info("%s: not UTF-8; read as %s", path, codec)
    return TextEncoding(codec, f"{codec} (no byte-order mark, not UTF-8)")


def _checked(path: Path, encoding: TextEncoding) -> TextEncoding:
    bad = _first_error(path, encoding.codec)
    if bad is not None:
        raise ValueError(f"{path}: found {encoding.found}, but the bytes near offset {bad} are "
                         f"not valid {encoding.codec}; save it again as UTF-8")
    return encoding


def _first_error(path: Path, codec: str) -> int | None:
    """Offset (within a few bytes) of the first byte that does not decode; streams the file."""
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + max(exc.start, 0)
            if not chunk:
                return None
            offset += len(chunk)


def _utf16_without_bom(sample: bytes) -> str | None:
    """utf-16-le or -be when most ASCII characters are paired with a NUL byte."""
    pairs = len(sample) // 2
    if pairs < 4:
        return None
    even, odd = sample[0:2 * pairs:2].count(0), sample[1:2 * pairs:2].count(0)
    if odd > 0.6 * pairs and even < 0.1 * pairs:
        return "utf-16-le"
    if even > 0.6 * pairs and odd < 0.1 * pairs:
        return "utf-16-be"
    return None


def _mostly_utf8(sample: bytes) -> bool:
    high = len(re.findall(rb"[\x80-\xff]", sample))
    covered = sum(len(match) for match in _UTF8_SEQUENCE.findall(sample))
    return high > 0 and covered > high / 2
