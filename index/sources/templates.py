"""MediaWiki templates that carry article text, rendered as the page shows them.

A dump holds templates, not what they expand to, and many of them are part of
a sentence: "about {{convert|210|km|mi}} south", "a population of
{{formatnum:412907}}". ``render_template`` gives their text from ``_RENDERERS``
(one entry per template and its common redirects, names compared as MediaWiki
does: case-insensitively, ``_`` as a space):

- numbers and units: ``convert``/``cvt`` (see ``convert.py``), ``formatnum:``,
  ``percentage``, ``frac``/``sfrac``, ``ordinal``, ``val``, currencies (``US$``, ``£``, ``€``…);
- dates: ``circa``/``c.``, ``as of``, ``start date``/``end date``/``birth date``/``death date``
  (and their "and age" forms, without the age that changes with the day it is read);
- wrappers that keep their text: ``nowrap``, ``small``, ``abbr``, ``sort``, ``lang``,
  ``transl``, ``native name``, ``ill``, ``sic``, ``flag``, ``math``…;
- languages and pronunciation: ``lang-xx``/``langx`` ("Spanish: …"), ``IPA-xx``/``IPA``
  ("Spanish pronunciation: […]"), ``IPAc-en``, ``respell``, ``nihongo``;
- characters: ``nbsp``, ``snd``/``spnd``, ``ndash``, ``mdash``, ``'``, ``dot``…;
- magic words: ``lc:``/``uc:``/``lcfirst:``/``ucfirst:``, ``PAGENAME``.

Templates that carry no article text (infoboxes, citations and footnotes,
navigation boxes, maintenance and hatnote tags, ``NO_TEXT``) render as "".
Any other template gives ``None``: it cannot be rendered, and the caller
decides what to do with the hole it would leave.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from index.sources.convert import render_convert

__all__ = ["NO_TEXT", "TemplateCall", "language_name", "make_call", "render_template", "template_name"]


@dataclass(frozen=True)
class TemplateCall:
    """One template as written: its normalised name, arguments already rendered to plain text."""

    name: str
    positional: tuple[str, ...] = ()
    named: Mapping[str, str] = field(default_factory=dict)
    page: str = ""  # the title of the page it sits on ({{PAGENAME}})

    def arg(self, number: int, default: str = "") -> str:
        """The NUMBERth positional argument (from 1), stripped, or default."""
        value = self.positional[number - 1].strip() if len(self.positional) >= number else ""
        return value or default


# Exact names and name prefixes of templates that add nothing to the article's prose.
NO_TEXT = frozenset({
    "reflist", "refbegin", "refend", "notelist", "efn", "efn-ua", "efn-lr", "refn", "sfn", "sfnp",
    "sfnm", "r", "rp", "ref", "note", "notetag", "cn", "citation needed", "fact", "clarify",
    "dubious", "vague", "when", "who", "which", "by whom", "according to whom", "specify",
    "dead link", "better source needed", "failed verification", "page needed",
    "full citation needed", "verify source", "update inline", "update after", "main", "main article",
    "see also", "further", "about", "for", "redirect", "distinguish", "hatnote", "other uses",
    "short description", "toc", "toc limit", "clear", "-", "defaultsort", "authority control",
    "portal", "portal bar", "commons", "commons category", "commonscat", "wiktionary",
    "sister project links", "coord missing", "good article", "featured article", "anchor",
    "multiple issues", "unreferenced", "more citations needed", "refimprove", "cleanup", "orphan",
    "stub", "flagicon", "webarchive", "engvar", "italic title", "lowercase title", "pp",
    "use dmy dates", "use mdy dates", "respell-key", "listen", "wikisource", "cbignore",
})
_NO_TEXT_PREFIXES = ("infobox", "cite ", "citation", "navbox", "sidebar", "pp-", "use ", "harv",
                     "wikiproject", "taxobox", "speciesbox", "automatic taxobox", "s-", "portal ")
# Inline maintenance tags ("{{Weasel inline}}", "{{Year needed}}", "{{Unreliable source?}}")
# render as a bracketed note, not text; "… span" tags ("{{Dubious span|text}}") show their text.
_NO_TEXT_SUFFIXES = ("-stub", " navbox", " sidebar", " topics", " inline", "-inline", " needed", "?")

_CURRENCIES = {"us$": "US$", "usd": "US$", "£": "£", "gbp": "£", "€": "€", "eur": "€",
               "euro": "€", "¥": "¥", "jpy": "¥", "ca$": "CA$", "cad": "CA$", "a$": "A$",
               "aud": "A$", "nz$": "NZ$", "nzd": "NZ$", "hk$": "HK$", "hkd": "HK$", "mex$": "Mex$",
               "mxn": "Mex$", "₹": "₹", "inr": "₹", "r$": "R$", "brl": "R$", "cn¥": "CN¥",
               "cny": "CN¥", "rmb": "CN¥", "chf": "CHF\u00a0", "₽": "₽", "rub": "₽"}
_CHARACTERS = {"nbsp": "\u00a0", "snd": " – ", "spnd": " – ", "spaced ndash": " – ",
               "spaced en dash": " – ", "ndash": "–", "en dash": "–", "mdash": "—", "em dash": "—",
               "spaced mdash": " — ", "dot": " · ", "middot": " · ", "·": " · ", "bull": " • ",
               "bullet": " • ", "'": "'", "'s": "'s", "okina": "ʻ", "=": "=", "!": "|",
               "colon": ":", "pipe": "|", "shy": "", "zwsp": "", "thinsp": "\u2009"}
# Templates that show their first argument as it is.
_FIRST = {"nowrap", "nobr", "nobreak", "small", "smaller", "big", "larger", "midsize", "em",
          "strong", "var", "mvar", "math", "not a typo", "notatypo", "tooltip", "abbr", "abbrlink",
          "visible anchor", "vanchor", "noitalic", "nocaps", "smallcaps", "sc", "serif", "sup",
          "sub", "flagcountry", "flag", "flagu", "citation needed span", "highlight", "ipa-all",
          "wikt-lang", "keypress", "small caps", "dfn", "text"}
_IPAC_LABELS = {"lang": "English pronunciation: ", "pron": "pronounced ", "us": "US: ",
                "uk": "UK: ", "local": "locally "}
_MAGIC_CASES: dict[str, Callable[[str], str]] = {
    "lc": str.lower, "uc": str.upper, "lcfirst": lambda s: s[:1].lower() + s[1:],
    "ucfirst": lambda s: s[:1].upper() + s[1:]}


def template_name(raw: str) -> str:
    """A template's name as MediaWiki compares it: "Template:As_of " -> "as of"."""
    name = " ".join(raw.replace("_", " ").split()).lower()
    return name[len("template:"):].strip() if name.startswith("template:") else name


def make_call(raw_name: str, positional: Sequence[str], named: Mapping[str, str], *,
              page: str = "") -> TemplateCall:
    """A call as written; a parser function ("formatnum:412907") is named "formatnum:" and
    its argument comes first."""
    if ":" in raw_name and not raw_name.strip().lower().startswith("template:"):
        function, argument = raw_name.split(":", 1)
        return TemplateCall(template_name(function) + ":", (argument, *positional), named, page)
    return TemplateCall(template_name(raw_name), tuple(positional), named, page)


def language_name(code: str) -> str | None:
    """The English name of a language code ("es" -> "Spanish"), from Babel's CLDR data."""
    languages = _languages()
    return languages.get(code) or languages.get(code.replace("-", "_"))


@cache
def _languages() -> Mapping[str, str]:
    try:
        from babel import Locale  # lazy: only MediaWiki dumps need it
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("MediaWiki dumps need Babel: pip install 'aside[mediawiki]'") from exc
    languages: Mapping[str, str] = Locale("en").languages
    return languages


def render_template(call: TemplateCall) -> str | None:
    """The text a template shows on the page, "" for one that shows none, None if unknown."""
    name = call.name
    if name.endswith(":"):
        return _magic(call)
    if name in NO_TEXT or name.startswith(_NO_TEXT_PREFIXES) or name.endswith(_NO_TEXT_SUFFIXES):
        return ""
    if name in _CHARACTERS:
        return _CHARACTERS[name]
    if name in _FIRST or name.endswith(" span"):
        return call.arg(1)
    if name in _CURRENCIES:
        return _CURRENCIES[name] + call.arg(1)
    if renderer := _RENDERERS.get(name):
        return renderer(call)
    if name.startswith(("lang-", "ipa-", "ipac-")):
        return _by_language_prefix(call)
    return None


def _magic(call: TemplateCall) -> str | None:
    """Parser functions, ``{{name:argument|…}}``: named "name:", the argument first."""
    function = call.name[:-1]
    if function == "formatnum":
        return _formatnum(call.arg(1), reverse=call.arg(2).upper() == "R")
    if function in _MAGIC_CASES:
        return _MAGIC_CASES[function](call.arg(1))
    return None


def _formatnum(text: str, *, reverse: bool = False) -> str | None:
    text = text.strip()
    if reverse:
        return text.replace(",", "")
    match = re.fullmatch(r"([+\-−]?)(\d+)(\.\d+)?", text)
    if not match:
        return text if re.fullmatch(r"[\d,.]+", text) else None
    return f"{match.group(1)}{int(match.group(2)):,}{match.group(3) or ''}"


def _date(year: str, month: str = "", day: str = "", *, day_first: bool = False) -> str | None:
    if not re.fullmatch(r"\d{1,4}", year.strip()):
        return None
    year = year.strip()
    if not month.strip():
        return year
    try:
        number = int(month)
        name = calendar.month_name[number] if 1 <= number <= 12 else ""
    except ValueError:
        name = month.strip().capitalize() if month.strip().capitalize() in calendar.month_name else ""
    if not name:
        return None
    if not day.strip().isdigit():
        return f"{name} {year}"
    return f"{int(day)} {name} {year}" if day_first else f"{name} {int(day)}, {year}"


def _day_first(call: TemplateCall) -> bool:
    return any(call.named.get(key, "").lower() in ("y", "yes", "true", "1")
               for key in ("df", "dmy")) or call.named.get("df", "").lower() == "dmy"


def _start_date(call: TemplateCall) -> str | None:
    return _date(call.arg(1), call.arg(2), call.arg(3), day_first=_day_first(call))


def _death_date_and_age(call: TemplateCall) -> str | None:
    died = _date(call.arg(1), call.arg(2), call.arg(3), day_first=_day_first(call))
    born = [call.arg(n) for n in (4, 5, 6)]
    if died is None or not all(p.isdigit() for p in born) or not call.arg(2).isdigit():
        return died
    end = (int(call.arg(1)), int(call.arg(2)), int(call.arg(3) or 1))
    start = (int(born[0]), int(born[1]), int(born[2]))
    age = end[0] - start[0] - (end[1:] < start[1:])
    return f"{died} (aged {age})"


def _as_of(call: TemplateCall) -> str | None:
    if alt := call.named.get("alt", "").strip():
        return alt
    when = _date(call.arg(1), call.arg(2), call.arg(3), day_first=_day_first(call))
    if when is None:
        return None
    if call.named.get("bare", "").lower() in ("y", "yes"):
        return when
    words = "since" if call.named.get("since", "").lower() in ("y", "yes") else "as of"
    lower = call.named.get("lc", "").lower() in ("y", "yes")
    return f"{words if lower else words.capitalize()} {when}"


def _circa(call: TemplateCall) -> str:
    first, second = call.arg(1), call.arg(2)
    if not first:
        return "c."
    return f"c. {first}" + (f" – c. {second}" if second else "")


def _percentage(call: TemplateCall) -> str | None:
    try:
        part, whole = float(call.arg(1).replace(",", "")), float(call.arg(2).replace(",", ""))
        places = int(call.arg(3, "0"))
    except ValueError:
        return None
    return f"{part / whole * 100:.{places}f}%" if whole else None


def _fraction(call: TemplateCall) -> str | None:
    parts = [p for p in (call.arg(1), call.arg(2), call.arg(3)) if p]
    if len(parts) == 1:
        return f"1/{parts[0]}"
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    return f"{parts[0]} {parts[1]}/{parts[2]}" if parts else None


def _ordinal(call: TemplateCall) -> str | None:
    text = call.arg(1)
    if not text.isdigit():
        return None
    number = int(text)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _val(call: TemplateCall) -> str | None:
    number = _formatnum(call.arg(1))
    if number is None:
        return None
    error = f" ± {call.arg(2)}" if call.arg(2) else ""
    exponent = f"×10^{call.named['e'].strip()}" if call.named.get("e", "").strip() else ""
    unit = call.named.get("u", call.named.get("ul", "")).strip()
    return f"{number}{error}{exponent}" + (f" {unit}" if unit else "")


def _labelled(code: str, text: str, label: str) -> str:
    language = language_name(code)
    return f"{language}{label}{text}" if language else text


def _by_language_prefix(call: TemplateCall) -> str | None:
    """``lang-es``, ``IPA-es`` and ``IPAc-xx``: the language comes from the name."""
    kind, code = call.name.split("-", 1)
    if kind == "lang":
        return _labelled(code, call.arg(1), ": ")
    if kind == "ipa":
        return _labelled(code, f"[{call.arg(1).strip('[]')}]", " pronunciation: ")
    return _ipac(call)


def _ipac(call: TemplateCall) -> str:
    parts = list(call.positional)
    labels = ""
    while parts and parts[0].strip().lower() in _IPAC_LABELS:
        labels += _IPAC_LABELS[parts.pop(0).strip().lower()]
    return f"{labels}/{''.join(p.strip() for p in parts)}/"


def _ipa(call: TemplateCall) -> str:
    """``{{IPA|es|ˈpweɾto}}`` (the 2024 form, language first) or ``{{IPA|[ˈpweɾto]}}``."""
    if len(call.positional) >= 2 and re.fullmatch(r"[a-z]{2,3}(-[a-z]+)?", call.arg(1)):
        return _labelled(call.arg(1), f"[{call.arg(2).strip('[]')}]", " pronunciation: ")
    return call.arg(1)


def _nihongo(call: TemplateCall) -> str:
    inner = ", ".join(p for p in (call.arg(2), call.arg(3)) if p)
    return f"{call.arg(1)} ({inner})" if inner else call.arg(1)


_RENDERERS: dict[str, Callable[[TemplateCall], str | None]] = {
    "convert": lambda c: render_convert(c.positional, dict(c.named)),
    "cvt": lambda c: render_convert(c.positional, {"abbr": "on", **c.named}),
    "circa": _circa, "c.": _circa, "ca.": _circa,
    "as of": _as_of,
    **dict.fromkeys(("start date", "end date", "start date and age", "end date and age",
                     "birth date", "death date", "birth date and age", "dts", "film date",
                     "start and end dates", "bda", "dob"), _start_date),
    "death date and age": _death_date_and_age, "dda": _death_date_and_age,
    "percentage": _percentage, "frac": _fraction, "sfrac": _fraction, "fraction": _fraction,
    "ordinal": _ordinal, "val": _val,
    "lang": lambda c: c.arg(2), "native name": lambda c: c.arg(2), "script": lambda c: c.arg(2),
    "transl": lambda c: c.arg(len(c.positional)), "transliteration": lambda c: c.arg(len(c.positional)),
    "langx": lambda c: _labelled(c.arg(1), c.arg(2), ": "),
    "ipa": _ipa, "respell": lambda c: "-".join(p.strip() for p in c.positional if p.strip()),
    "audio": lambda c: c.arg(2), "nihongo": _nihongo,
    "sort": lambda c: c.arg(2, c.arg(1)), "sortname": lambda c: f"{c.arg(1)} {c.arg(2)}",
    "ill": lambda c: c.named.get("lt", "").strip() or c.arg(1),
    "interlanguage link": lambda c: c.named.get("lt", "").strip() or c.arg(1),
    "sic": lambda c: f"{c.arg(1)} [sic]" if c.arg(1) else "[sic]",
    "resize": lambda c: c.arg(len(c.positional)),
    "hlist": lambda c: " · ".join(p.strip() for p in c.positional if p.strip()),
    "pagename": lambda c: c.page, "fullpagename": lambda c: c.page,
    "basepagename": lambda c: c.page,
}
