"""English news style: whether a period after an abbreviation, or an ellipsis, ends a sentence.

sentencex keeps a sentence going after any word on its abbreviation list unless
the next word is a common sentence starter ("The", "He"), so "into the U.S.
Officials said" and "until 11 P.M. Police arrived" stay one sentence, while it
splits AP-style abbreviations that never end one ("Ft. | Worth", "Thurs. |
Oct. 9"). These rules decide by the kind of abbreviation and the word after
it, as the Pragmatic Segmenter's golden rules and the AP Stylebook use them
(https://github.com/diasks2/pragmatic_segmenter#the-golden-rules).
"""

from __future__ import annotations

import re

__all__ = ["ends_sentence"]

# Titles and prefixes that stand before a name or a number: never the end of a sentence.
_BEFORE_NAME = frozenset(
    "mr mrs ms messrs mmes dr drs prof profs sen sens rep reps gov govs lt gen gens col maj capt "
    "cmdr comdr cpl sgt pvt pfc spc adm brig rev revs msgr hon supt atty pres fr det insp amb "
    "mt ft st vs v e.g i.e cf approx viz".split())
# Before a number ("No. 3", "p. 14"); "no" before a capital is the word no.
_BEFORE_NUMBER = frozenset("no nos vol vols fig figs pp p art ch sec para op".split())
_MONTH_ABBREVIATIONS = frozenset("jan feb mar apr jun jul aug sep sept oct nov dec".split())
_WEEKDAY_ABBREVIATIONS = frozenset("mon tue tues wed thu thur thurs fri sat sun".split())
_MONTHS = _MONTH_ABBREVIATIONS | frozenset(
    "january february march april may june july august september october november december".split())
_WEEKDAYS = _WEEKDAY_ABBREVIATIONS | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split())
_ZONES = frozenset("et edt est ct cdt cst mt mdt mst pt pdt pst gmt utc bst cet cest eastern "
                   "central pacific mountain local".split())
# After a name or a number: the end of a sentence when a capital follows, except where the
# next word still belongs to the name ("Martin Luther King Jr. Day", "Acme Inc. CEO").
_AFTER_NAME = frozenset("jr sr esq".split())
_COMPANY = frozenset("inc corp co cos ltd plc assn mfg intl".split())
_UNITS = frozenset("etc al ave blvd rd hwy pkwy lb lbs oz yd yds sq".split())
_DEGREES = frozenset("ph.d m.d b.a m.a b.s m.s m.b.a j.d d.d.s r.n ll.b ll.m ed.d psy.d".split())
# AP state abbreviations and D.C.: they end a sentence only after a city and a comma
# ("Dalton, Ga."); elsewhere they start a name ("the N.H. Republican Party", "Del. Roe").
_STATES = frozenset("ala ariz ark calif colo conn del fla ga ill ind kan ky la md mass mich "
                    "minn miss mo mont neb nev okla ore pa tenn vt va wash wis wyo n.h n.j n.m "
                    "n.y n.c n.d r.i s.c s.d w.va d.c".split())
_COUNTRIES = frozenset("u.s u.k u.n e.u u.s.a u.a.e".split())
_NAMED_AFTER = frozenset("day boulevard blvd avenue ave drive street memorial center library "
                         "park bridge high elementary middle school hall stadium airport "
                         "hospital parkway highway plaza square foundation institute".split())
_ROLES = frozenset("ceo cfo coo cto chief chairman chairwoman chair president founder "
                   "co-founder spokesman spokeswoman spokesperson".split())
# Capitalised words that continue "U.S.", "U.N." or "E.U." into a proper name ("U.S. Army",
# "U.N. Security Council") or a title before a name ("U.S. Sen. Roe"); with titles
# (_BEFORE_NAME), the commonest continuations in news and encyclopedia text.
_PROPER_AFTER_ACRONYM = frozenset(
    "government army navy marines marine air coast space national congress senate house capitol "
    "supreme district circuit court courts attorney attorneys marshal marshals department "
    "embassy embassies consulate mission treasury mint postal census border customs immigration "
    "citizenship forces force military naval central southern northern european pacific "
    "special secretary secretary-general president vice ambassador envoy representative "
    "senator judge magistrate trade chamber conference constitution open olympic soccer women "
    "men steel bank bancorp geological forest fish agency food drug energy justice commerce "
    "labor agriculture defense homeland health education interior state security general human "
    "high children refugee relief development environment environmental transportation "
    "peacekeeping climate council commission commissioner parliament foreign federal bureau "
    "secret centers holocaust route highway news world office charter mayor police united "
    "public prime sen rep amb gen adm".split())
# Words that begin sentences and never continue a name (a subset of English function words).
_STARTERS = frozenset(
    "the a an he she it they we i you this that these those there their his her its our my "
    "but and or so yet however meanwhile still then in on at for after before when while if as "
    "what why how who where did does do is are was were not all both each every some many "
    "most because with thus by from to during since although though despite one also "
    "instead later here now today yesterday according".split())
# Words a time ("at 9 a.m.") is fronted after: the clause the time belongs to follows it.
_CLAUSE_OPENERS = frozenset("and but or so then that when while because as if since until "
                            "after before although though where which who".split())
_TIME_PREPOSITIONS = frozenset("at by until till before after around about from since past to "
                               "approximately roughly nearly shortly just near between on "
                               "early late".split())
_FRONTED_OPENERS = frozenset("on by at early late shortly just from starting beginning around "
                             "about before after until since overnight last this next each "
                             "every".split())

_CLOSERS = "\"'”’»)]"
_ELLIPSIS = re.compile(r"(?:\.\s?){2,}\.$|…$")
_NEXT_WORD = re.compile(r"[\"'“‘«(\[]*([^\s\"'”’»)\],;:]+)")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_NUMBER = re.compile(r"\d+")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_WORD = re.compile(r"\S+")
_TOKEN_SEPARATORS = re.compile(r"[-,/;:(\[\"'“‘«]")
_THEN = re.compile(r"\s*(\S*)")
_TRAILING_NUMBER = re.compile(r"\s*\d[\d:.,]*$")


def _key(word: str) -> str:
    return re.sub(r"['’]s$", "", word.rstrip(".")).lower()


def ends_sentence(text: str, start: int, stop: int, following: int) -> bool | None:
    """Whether text[start:stop], a sentence so far ending in "." or "…", ends before text[following:].

    Returns None where these rules have no opinion (the caller keeps its splitter's).
    """
    match = _NEXT_WORD.match(text, following)
    if match is None:
        return None
    word = match.group(1)
    if not (word[0].isupper() or word[0].isdigit()):
        return None  # lower case continues; callers join that already
    head = text[start:stop].rstrip(_CLOSERS)
    ellipsis = _ELLIPSIS.search(head, max(0, len(head) - 12))  # the end is all that counts
    if ellipsis:
        if not any(c.isalnum() for c in head[: ellipsis.start()]):
            return None  # "... The IRS was": a leading ellipsis joins what it introduces
        if head[: ellipsis.start()].endswith("["):
            return False  # "[...]" marks words left out of a quotation
        # "...I didn't mean it": a lone "I" after an ellipsis is a pause, not a new sentence.
        return None if word[0].isdigit() or _key(word) == "i" else True
    if not head.endswith(".") or text[following] in "([":
        return None  # "Jr. (1903-1977)", "Inc. (AMD)": a parenthesis goes on after a name
    before = head[:-1]
    token = _TOKEN_SEPARATORS.split(before.rsplit(None, 1)[-1] if before.strip() else "")[-1]
    if not token or token[-1].isdigit():
        return None
    then = _THEN.match(text, match.end())
    return _decide(token, before[: len(before) - len(token)], word, then.group(1) if then else "")


def _decide(token: str, earlier: str, word: str, then: str) -> bool | None:
    """The rule for one abbreviation ``token`` (without its last period) before ``word``.

    ``then`` is what follows ``word``: its case tells a name ("U.S. Patent and
    Trademark Office") from a new sentence ("the U.S. Officials in Mexico said").
    """
    key, after, digit = token.lower(), _key(word), word[0].isdigit()
    words = _WORD.findall(earlier[-40:])  # the last few words are all most rules read
    if key in ("st", "dr", "ft") and _after_number(words):
        return None if digit else True  # "10 Downing St.", "3rd St.", "12 ft.": not a title
    if len(token) == 1 and token.isupper():
        return None if digit else _after_initial(token, words, word)
    if key in _BEFORE_NAME:
        return False
    if key in _BEFORE_NUMBER:
        return False if digit else (True if key in ("no", "nos") else None)
    if key in _MONTH_ABBREVIATIONS:
        return not digit
    if key == "may":  # the month is never shortened: "in May. Tariffs…" ends a sentence
        return None if digit else True
    if key in _WEEKDAY_ABBREVIATIONS:
        return False if digit or after in _MONTHS else True
    if key in ("a.m", "p.m"):
        return False if digit else _after_time(_WORD.findall(earlier), after, then)
    if digit:
        return None
    if key in _AFTER_NAME or key in _COMPANY:
        if after in _STARTERS:
            return True
        # "King Jr. Day", "Acme Inc. CEO", "O'Neill Jr. Tunnel.": the name goes on.
        return not (after in _NAMED_AFTER or after in _ROLES or _name_goes_on(word, then))
    if key in _UNITS:
        return True
    if key in _DEGREES and after in _STARTERS:
        return True  # "a Ph.D. The"; but "J.D. Hayworth" may be initials
    if key in _STATES:
        return True if earlier.rstrip().endswith(",") else None
    if key in _COUNTRIES:
        return _after_country(words, word, after, then)
    if _DOTTED.fullmatch(token) and token.isupper():
        return _after_initial(token, words, word)  # "J.P. Morgan", "George H.W. Bush"
    return None


def _after_country(earlier: list[str], word: str, after: str, then: str) -> bool:
    """After "U.S.", "U.N.", "E.U.": a new sentence only where the noun ends a clause.

    "into the U.S. Officials said" ends one; "the U.S. Army", "of U.S. Muslims"
    (no "the": an adjective) and "the U.S. Patent and Trademark Office" (a name
    goes on in capitals) do not.
    """
    if after in _STARTERS:
        return True
    if after in _PROPER_AFTER_ACRONYM or after in _BEFORE_NAME or _name_goes_on(word, then):
        return False
    # A noun has its article: "into the U.S.", "the southeastern U.S."; without one it is an
    # adjective ("of U.S. Muslims", "the 1916 U.S. Presidential election").
    return len(earlier) > 1 and (earlier[-1].lower() == "the" or (
        earlier[-2].lower() == "the" and earlier[-1].isalpha() and earlier[-1].islower()))


def _name_goes_on(word: str, then: str) -> bool:
    """Whether ``word`` and what follows it (``then``) read as one name in capitals.

    "Patent and Trademark Office", "Steel Corporation", "Tunnel." go on;
    "Officials in Mexico", "Young served" are a new sentence's subject and verb.
    """
    return word.endswith(".") or not then or not then[0].islower() or then in ("and", "of")


def _after_number(earlier: list[str]) -> bool:
    """Whether an address or a measure precedes: "10 Downing", "3rd", "12"."""
    return bool(earlier) and (
        _NUMBER.fullmatch(earlier[-1]) is not None or _ORDINAL.fullmatch(earlier[-1]) is not None
        or (len(earlier) > 1 and _NUMBER.fullmatch(earlier[-2]) is not None
            and earlier[-1][:1].isupper()))


def _after_time(earlier: list[str], after: str, then: str) -> bool:
    """After "a.m."/"p.m.": a new sentence unless a day, month or zone follows or the time is fronted.

    "At 5 a.m. Mr. Smith left" and "said that at 9 a.m. Ms. Roe left" front the
    time before their clause; "He left at 6 P.M. Mr. Smith stayed" ends one.
    """
    if after in _WEEKDAYS or after in _MONTHS or after in _ZONES or then == "time":
        return False  # "6 p.m. Tuesday", "9 a.m. EDT", "7:48 a.m. Hawaiian time"
    clause = " ".join(earlier)
    while True:  # drop the time itself and its preposition: "On Friday at 11"
        shorter = _TRAILING_NUMBER.sub("", clause).rstrip()
        last = shorter.rsplit(None, 1)[-1] if shorter else ""
        if last.lower() in _TIME_PREPOSITIONS:
            shorter = shorter[: len(shorter) - len(last)].rstrip()
        if shorter == clause:
            break
        clause = shorter
    if not clause or clause[-1] in ",;:(—–-":
        return False
    rest = clause.split()
    if rest[-1].lower() in _CLAUSE_OPENERS:
        return False
    return not (rest[0].lower() in _FRONTED_OPENERS and len(rest) <= 3)


def _after_initial(letter: str, earlier: list[str], word: str) -> bool | None:
    """After capital initials: joined to more initials, split before a starter, else no opinion.

    sentencex already tells "Tamsin R. Okafor" from "World War I. Early models".
    """
    if _DOTTED.fullmatch(word.rstrip(".")) or re.fullmatch(r"[A-Z]\.", word):
        return False  # "J. R. R. Tolkien", "J. P. Ardley"
    if _key(word) in _STARTERS:
        return True
    # "you and I. Did": the pronoun after a lower-case word ends the sentence.
    return True if letter == "I" and earlier and earlier[-1][:1].islower() else None
