"""Markup that carries text: MediaWiki templates and links, ZIM superscripts, ClaimReview JSON-LD
as publishers write it. Fixtures under tests/fixtures/mediawiki and tests/fixtures/claimreview."""

from __future__ import annotations

import logging

import pytest

from index.sources import SourceStats
from index.sources.claimreview import iter_claimreviews
from index.sources.convert import render_convert
from index.sources.jsonld import read_blocks
from index.sources.mediawiki import iter_mediawiki
from index.sources.wikitext import article_text
from index.sources.zim import html_paragraphs
from tests.conftest import FIXTURES

WIKI = FIXTURES / "mediawiki"
REVIEWS = FIXTURES / "claimreview"


def _article(name: str) -> tuple[str, SourceStats]:
    stats = SourceStats("mediawiki")
    [record] = list(iter_mediawiki(stats, WIKI / name))
    return record.text, stats


# --- MediaWiki: templates that carry text -------------------------------------------------

def test_a_wikipedia_article_keeps_the_values_its_templates_carry():
    text, stats = _article("geography.xml")
    for kept in ("Valdomar (Vale do Mar; Portuguese pronunciation: [ˈvali du ˈmaɾ]) is a river town",
                 "about 85 km (53 mi) upstream from the estuary made famous by the memoir.",
                 "It was settled c. 1642 and had 58,214 inhabitants at the 2021 census.",
                 "The town's quays handled 2.4 million tonnes of grain in 2022.",
                 "As of 2023, roughly 27% of it was shipped to Ostrand.",
                 "worth US$310 million that year", "1,500 MW",
                 "received its town charter on 4 September 1871.",
                 "The summer average is 24 °C (75 °F) and the river is 3 to 5 m (9.8 to 16.4 ft) deep"):
        assert kept in text
    # Boxes, citations, files, categories and language links leave no trace and no note.
    for gone in ("Infobox", "Towns of Castelva", "quay at", "Category", "pt:", "simple:", "topics"):
        assert gone not in text
    assert "  " not in text and "()" not in text and " ," not in text
    assert not stats.notes


def test_a_biography_keeps_dates_pronunciations_and_names():
    text, stats = _article("people.xml")
    assert text.startswith("Mirela Stanton (/ˈmɪrɛlə/ MIRR-el-ə; February 17, 1931 – June 9, 2004 "
                           "(aged 73)) was a Castelvan bridge engineer, known in France as French: "
                           "la dame des ponts.")
    for kept in ("the 3rd woman admitted to the RIE", "stood 5 ft 6 in (1.68 m) tall",
                 "spans 1.2 mi (1.9 km) across the Ostra", "finished c. 1968",
                 "designed with Jan Halvorsen and Tomas Ribeiro", "carries 2 1/2 lanes each way—an odd"):
        assert kept in text
    assert "engineer, the painter" not in text and not stats.notes


def test_a_sentence_with_a_template_that_cannot_be_rendered_is_left_out_and_counted():
    text, stats = _article("unrendered.xml")
    assert text == ("Ostrand is the largest port of Castelva. The port has 14 deep-water berths."
                    "\n\nThe old lighthouse dates from 1788.")
    assert stats.notes == {"sentences left out: unrendered template": 2,
                           "asides in parentheses left out: unrendered template": 1}


def test_the_dumps_own_namespace_names_drop_its_files_and_categories():
    text, _ = _article("frwiki-namespaces.xml")
    assert text == ("Valdomar est une ville fluviale du nord de la Castelva, fondée vers 1642 "
                    "sur la rive droite de l'Ostra.")


@pytest.mark.parametrize(("wikitext", "shown"), [
    ("See [[Ana: A Life at Sea|her memoir]] now.", "See her memoir now."),
    ("See [[War: A Novel]] now.", "See War: A Novel now."),
    ("A [[wikt:quay|quay]] here.", "A quay here."),
    ("In [[:fr:Valdomar|French]] here.", "In French here."),
    ("Text here.[[es:Valdomar]][[zh-min-nan:Valdomar]][[Category:Towns]]", "Text here."),
    ("Text here.[[Image:Map.png|thumb|A map]]", "Text here."),
])
def test_links_show_their_text_unless_they_show_nothing(wikitext, shown):
    assert article_text(wikitext).text == shown


@pytest.mark.parametrize(("wikitext", "shown"), [
    ("{{formatnum:1234567.5}} and {{formatnum:1,234|R}}", "1,234,567.5 and 1234"),
    ("{{circa|1780|1790}}, {{c.}}", "c. 1780 – c. 1790, c."),
    ("{{as of|2024|5}}, {{As of|2024|5|12|df=US}}, {{as of|2024|since=y}}",
     "As of May 2024, As of May 12, 2024, Since 2024"),
    ("{{End date|2020|1|31|df=y}} / {{birth date and age|1950|3|4}}", "31 January 2020 / March 4, 1950"),
    ("{{percentage|1|3|1}} {{percentage|5|0}}x", "33.3%"),
    ("{{£|2 million}}, {{€|40}}, {{US$}}", "£2 million, €40, US$"),
    ("{{Lang|de|Hafen}} {{langx|it|porto}} {{lang-es|puerto}}", "Hafen Italian: porto Spanish: puerto"),
    ("{{IPA|es|ˈpweɾto}} {{IPAc-en|lang|p|ɔːr|t}}", "Spanish pronunciation: [ˈpweɾto] "
     "English pronunciation: /pɔːrt/"),
    ("A{{nbsp}}B{{snd}}C{{ndash}}D{{mdash}}E", "A B – C–D—E"),
    ("{{small|tiny}} {{abbr|UN|United Nations}} {{sort|Smith|John Smith}} {{nowrap|{{frac|3|4}} mi}}",
     "tiny UN John Smith 3/4 mi"),
    ("{{ill|Ana Ruiz|es|lt=Ana R.}} {{ordinal|12}} {{ordinal|22}} {{val|9.81|u=m/s2}}",
     "Ana R. 12th 22nd 9.81 m/s2"),
    ("{{ucfirst:river}} {{PAGENAME}}", "River Valdomar"),
])
def test_text_bearing_templates_render_as_the_page_shows_them(wikitext, shown):
    article = article_text(wikitext + " is here.", title="Valdomar")
    if "{{percentage|5|0}}" in wikitext:  # a division by zero cannot be shown: a hole
        assert article.text == "" and article.sentences_left_out == 1
        return
    assert article.text == shown + " is here."


def test_a_formula_in_a_sentence_is_a_hole_and_inline_code_keeps_its_text():
    article = article_text("The energy is <math>mc^2</math> here. Type <code>ls -l</code> to list. "
                           "Fine sentence.")
    assert article.text == "Type ls -l to list. Fine sentence."
    assert article.sentences_left_out == 1


@pytest.mark.parametrize(("args", "named", "shown"), [
    (["210", "km", "mi"], {}, "210 km (130 mi)"),
    (["210", "km"], {}, "210 km (130 mi)"),
    (["1,000", "km"], {}, "1,000 km (620 mi)"),
    (["5", "km"], {}, "5 km (3.1 mi)"),
    (["10.25", "km"], {}, "10.25 km (6.37 mi)"),
    (["318", "km2"], {}, "318 km² (123 sq mi)"),
    (["37", "C"], {}, "37 °C (99 °F)"),
    (["-40", "F"], {}, "−40 °F (−40 °C)"),
    (["3", "to", "5", "km"], {}, "3 to 5 km (1.9 to 3.1 mi)"),
    (["10", "-", "12", "km"], {}, "10–12 km (6.2–7.5 mi)"),
    (["5", "ft", "6", "in"], {}, "5 ft 6 in (1.68 m)"),
    (["1,200", "km", "mi nmi"], {}, "1,200 km (750 mi; 650 nmi)"),
    (["210", "km", "mi", "1"], {}, "210 km (130.5 mi)"),
    (["210", "km", "mi"], {"abbr": "off"}, "210 kilometres (130 miles)"),
    (["1", "mi"], {"abbr": "off", "sp": "us"}, "1 mile (1.6 kilometers)"),
    (["10", "km"], {"adj": "on"}, "10-kilometre (6.2 mi)"),
    (["50", "kg"], {"disp": "flip"}, "110 lb (50 kg)"),
    (["50", "kg"], {"disp": "or"}, "50 kg or 110 lb"),
    (["40", "mph"], {}, "40 mph (64 km/h)"),
    (["2", "acre"], {}, "2 acres (0.81 ha)"),
])
def test_convert_renders_common_units_with_sensible_rounding(args, named, shown):
    assert render_convert(args, named) == shown


@pytest.mark.parametrize("args", [["210", "parsec"], ["about", "km"], ["210", "km", "kg"], []])
def test_convert_that_is_not_understood_is_unrenderable(args):
    assert render_convert(args, {}) is None


def test_unknown_templates_outside_sentences_and_citations_inside_them_cost_nothing():
    wikitext = ("{{Valdomar navigation}}\n{{Some unknown banner|x=1}} {{Another one}}\n"
                "The town grew fast.{{sfn|Ortega|2020}}{{citation needed|date=May 2024}} "
                "It has a quay.{{efn|Built in 1901.}}{{Weasel inline}}{{Year needed}}\n\n"
                "== History ==\nIt was founded {{dubious span|very early|date=May 2024}}.")
    article = article_text(wikitext)
    assert article.text == "The town grew fast. It has a quay.\n\nIt was founded very early."
    assert (article.sentences_left_out, article.asides_left_out) == (0, 0)


# --- ZIM: HTML keeps the text in superscripts ------------------------------------------

def test_zim_paragraphs_keep_superscripts_that_are_text_and_drop_footnote_markers():
    page = ('<p>An area of 96&nbsp;km<sup>2</sup>, the 3<sup>rd</sup> quay, <sup>1</sup>&frasl;<sub>2</sub>'
            ' mile wide<sup id="cite_ref-2" class="reference"><a href="#cite_note-2">[2]</a></sup>'
            '<sup class="noprint Inline-Template">[<i>citation needed</i>]</sup><sup>[a]</sup>.</p>')
    assert html_paragraphs(page) == "An area of 96 km2, the 3rd quay, 1⁄2 mile wide."


# --- ClaimReview as publishers write it -----------------------------------------------

def _reviews(name: str) -> tuple[list, SourceStats]:
    stats = SourceStats("claimreview")
    return list(iter_claimreviews(stats, str(REVIEWS / name))), stats


def test_graph_references_give_each_review_its_reviewer_claimant_and_rating():
    records, stats = _reviews("graph-refs.html")
    assert [(r.text, r.rating, r.publisher, r.claimant, r.published) for r in records] == [
        ("Dredging the channel cost more than the new terminal.", "False", "Quayside Checks",
         "Ines Marlow", "2024-10-14"),
        ("Ferry crossings doubled after the fare cut.", "Half true", "Quayside Checks",
         "Otto Brenn", "2024-10-15"),
        ("The port has not bought a crane since 1990.", "Pants on fire", "Quayside Checks",
         "Ines Marlow, Otto Brenn", "2024-10-16"),
    ]
    assert [r.url.rsplit("#", 1)[1] for r in records] == ["dredging", "ferries", "cranes"]
    assert {r.title for r in records} == {"Three claims from the harbour debate, checked"}
    assert len({r.doc_id for r in records}) == 3 and stats.skipped == 0


def test_wrapped_blocks_entities_type_arrays_and_an_encoded_block_are_read():
    records, stats = _reviews("wrapped.html")
    first, second = records
    assert first.title == "The mayor’s \"free parking\" promise"
    assert first.text == "The mayor promised free parking in every district."
    assert (first.publisher, first.claimant, first.rating) == ("Tidewater & Co. Verify", "Paul O’Hara",
                                                               "Mostly false")
    assert first.language == "en-GB" and first.published == "2024-05-02"
    assert (second.text, second.rating, second.publisher) == (
        "Bus lanes slowed every route in town.", "Unproven", "Tidewater Verify")
    # Two reviews on the page: its <title> names only one of them, so it titles neither.
    assert second.title == "Fact-check by Tidewater Verify"
    assert stats.skipped == 0


def test_a_review_nested_in_a_page_takes_the_pages_url_title_and_publisher():
    [record], _ = _reviews("nested.html")
    assert record.url == "https://lanternfacts.example/2024/ferry-subsidy"
    assert record.title == "Is the ferry subsidy the largest in the country?"
    assert (record.publisher, record.claimant, record.rating) == ("Lantern Facts", "Greta Vance",
                                                                  "Mostly true")
    assert record.language == "en-US"


def test_a_review_without_a_headline_is_titled_by_its_reviewer_never_an_id():
    records, stats = _reviews("feed-no-headlines.json")
    assert [r.title for r in records] == ["Fact-check by Beacon Check"] * 2
    assert all(not r.title.startswith("claimreview:") for r in records)
    assert [r.rating for r in records] == ["Correct", "Exaggerated"]
    assert records[1].published is None and stats.notes["no readable date"] == 1


def test_what_cannot_be_read_is_skipped_with_a_precise_reason(caplog):
    with caplog.at_level(logging.WARNING):
        records, stats = _reviews("unreadable.html")
    assert [r.text for r in records] == ["The pier lights run on tidal power."]
    assert stats.skipped == 4
    assert "not valid JSON (Expecting ',' delimiter at line 1, column 91)" in stats.reasons
    assert any(r.startswith("ClaimReview without a rating") for r in stats.reasons)
    assert any(r.startswith("ClaimReview without a claim") for r in stats.reasons)
    assert any(r.startswith("ClaimReview without a reviewer") for r in stats.reasons)
    assert "unreadable.html: JSON-LD block 2: review 2" in caplog.text


@pytest.mark.parametrize(("block", "count"), [
    ('{"a": 1};', 1),
    ("<!--\n{\"a\": 1}\n-->", 1),
    ('//<![CDATA[\n[{"a": 1}, {"b": 2}]\n//]]>', 1),
    ('{"a": 1}\n{"b": 2}', 2),
    ('{"text": "a line\nbreak"}', 1),
])
def test_json_ld_blocks_are_read_tolerantly(block, count):
    assert len(read_blocks(block)) == count
