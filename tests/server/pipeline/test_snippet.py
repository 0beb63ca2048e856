from __future__ import annotations

from index.records import Passage
from server.pipeline.snippet import SNIPPET_CHARS, section, snippet, title

FIELD = (
    "the army's main task is fighting the insurgent group, which holds much of the south; "
    "the army is supported by an African Union mission of about 11,000 troops from six countries; "
    "Turkey and the United Arab Emirates also train and equip several army units; "
    "regional states keep their own forces, which have at times clashed with federal troops; "
    "the police force counts about 17,000 officers and answers to the interior ministry"
)


def test_a_passage_that_fits_is_shown_whole():
    assert snippet("One short sentence.", "anything") == "One short sentence."


def test_a_long_field_leads_with_the_part_that_matches():
    shown = snippet(FIELD, "Turkey and the Emirates train the army, officials said.")
    assert "Turkey and the United Arab Emirates also train and equip" in shown
    assert len(shown) <= SNIPPET_CHARS + 4
    assert shown.startswith("… ") and shown.endswith("…")
    assert shown.replace("… ", "").rstrip("…") in FIELD


def test_the_first_part_when_it_matches_starts_without_an_ellipsis():
    shown = snippet(FIELD, "The insurgent group holds much of the south.")
    assert shown.startswith("the army's main task")
    assert shown.endswith("…")


def test_one_part_longer_than_the_limit_is_cut_at_a_word():
    text = " ".join(["word"] * 200) + "."
    shown = snippet(text, "word")
    assert len(shown) <= SNIPPET_CHARS + 1 and shown.endswith("word…")


def _passage(**fields):
    base = {"doc_id": "claimreview:https://fc.example/1#abc", "text": "A claim.", "embed_text": "A claim.",
            "source": "claimreview:x", "kind": "fact-check"}
    return Passage(**{**base, **fields})


def test_titles_are_never_internal_ids():
    assert title(_passage(title=None, publisher="PolitiFact")) == "Fact-check by PolitiFact"
    assert title(_passage(title=None)) == "Fact-check"
    jsonl = _passage(doc_id="jsonl:docs:42", title="42", kind="document", publisher="Our newsroom")
    assert title(jsonl) == "Our newsroom"
    assert title(_passage(title="Did the bridge open in 1937?")) == "Did the bridge open in 1937?"


def test_factbook_cards_name_their_field():
    fb = _passage(kind="factbook", title="Somalia — Military - note", doc_id="factbook:so:Military/x")
    assert section(fb) == "Military - note"
    assert section(_passage(kind="wikipedia", title="Herat")) is None
