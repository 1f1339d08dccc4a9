"""Trimming a caption to what its evidence supports (model.describing.phrasing), on the bundled model's captions."""

from __future__ import annotations

import pytest

from model.captioner.vocabulary import tokenize
from model.describing.phrasing import Span, chunks, render, supported_prefix


def said(text: str, sure: set[str], objects: dict[str, bool]) -> str:
    """What of a caption is said when the words in `sure` are sure and `objects` (word -> supported) are
    the objects it names."""
    tokens = tokenize(text)
    spans = [Span(i, i + 1, objects[w]) for i, w in enumerate(tokens) if w in objects]
    probs = [0.9 if w in sure else 0.1 for w in tokens]
    return render(supported_prefix(tokens, probs, spans, threshold=0.5))


def test_a_caption_is_cut_into_phrases():
    tokens = tokenize("a man in a blue shirt is standing on a mountain")
    cut = chunks(tokens, [Span(1, 2, True), Span(10, 11, True)])
    assert [" ".join(tokens[a:b]) for a, b in cut] == ["a man", "in a blue shirt", "is standing", "on a mountain"]
    tokens = tokenize("a dog running through the grass")
    assert [" ".join(tokens[a:b]) for a, b in chunks(tokens, [Span(1, 2, True)])] == [
        "a dog", "running", "through the grass"]


@pytest.mark.parametrize(("text", "sure", "objects", "expected"), [
    ("a man in a blue shirt is standing on a mountain", {"shirt"}, {"man": True, "mountain": True},
     "a man in a shirt"),
    ("a man in a blue shirt is standing on a mountain", {"blue", "shirt", "standing"},
     {"man": True, "mountain": True}, "a man in a blue shirt is standing on a mountain"),
    ("a man is standing on a mountain", {"standing"}, {"man": True, "mountain": False}, "a man is standing"),
    ("a man is standing", {"standing"}, {"man": False}, ""),  # its subject has no support: nothing
    ("a group of people are walking", set(), {"people": True}, "people"),
    ("a group of people are walking", {"group", "walking"}, {"people": True}, "a group of people are walking"),
    ("two dogs are running", set(), {"dogs": True}, "dogs"),
    ("a brown and white dog", {"brown"}, {"dog": True}, "a dog"),  # not "a brown dog"
    ("a brown and white dog", {"brown", "white"}, {"dog": True}, "a brown and white dog"),
    ("an orange cat", set(), {"cat": True}, "a cat"),
    ("two men are playing basketball", {"basketball"}, {"men": True}, "men"),  # a verb is not a modifier
    ("a man in a black jacket and white shirt", set(), {"man": True, "jacket": True, "shirt": True},
     "a man in a jacket and shirt"),
    ("a man in a black hat and a hat", set(), {"man": True, "hat": True}, "a man in a hat"),  # said once
    ("a car car on a track", {"track"}, {"car": True}, "a car on a track"),
    # what a careless trim would turn around
    ("a man with no shirt", set(), {"man": True, "shirt": True}, "a man"),  # not "a man with shirt"
    ("a man not wearing a shirt", {"wearing"}, {"man": True, "shirt": True}, "a man"),
    ("a toy car on the floor", {"floor"}, {"car": True}, ""),  # not "a car on the floor"
    ("a dog in black and white", {"white"}, {"dog": True}, "a dog"),  # not "a dog in white"
    ("a man with a hat and a man with a hat", set(), {"man": True, "hat": True}, "a man with a hat"),
    ("a few people are walking", {"walking"}, {"people": True}, "people are walking"),  # not "a people"
    ("a man holding it", {"holding", "it"}, {"man": True}, "a man holding it"),
    ("a man in a uniform", {"uniform"}, {"man": True}, "a man in a uniform"),
])
def test_only_sure_details_and_supported_objects_are_said(text, sure, objects, expected):
    assert said(text, sure, objects) == expected


def test_without_word_probabilities_no_detail_is_said():
    tokens = tokenize("a dog is running")
    assert render(supported_prefix(tokens, [], [Span(1, 2, True)], threshold=0.05)) == "a dog"


def test_an_unsure_object_word_gives_way_to_its_plain_word():
    tokens = tokenize("a skateboarder is jumping on a ramp")
    spans = [Span(1, 2, True, plain="person")]
    probs = [0.9, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9]
    assert render(supported_prefix(tokens, probs, spans, threshold=0.5)) == "a person is jumping on a ramp"
    probs[1] = 0.8
    assert render(supported_prefix(tokens, probs, spans, threshold=0.5)) == "a skateboarder is jumping on a ramp"


def test_people_words_give_way_to_person_without_their_unsure_adjectives_or_owners():
    tokens = tokenize("a little girl is smiling")
    probs = [0.9, 0.9, 0.1, 0.9, 0.9]  # "little" sure, "girl" not
    said = supported_prefix(tokens, probs, [Span(2, 3, True, plain="person")], threshold=0.5)
    assert render(said) == "a person is smiling"  # not "a little person"
    tokens = tokenize("a man holding his son")
    spans = [Span(1, 2, True, plain="person"), Span(4, 5, True, plain="person")]
    said = supported_prefix(tokens, [0.9, 0.9, 0.9, 0.9, 0.1], spans, threshold=0.5)
    assert render(said) == "a man"  # not "a man holding his person"
