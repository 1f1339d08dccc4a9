"""CHAIR-style hallucination: which COCO objects a description names that its references do not."""

from __future__ import annotations

import pytest

from training.hallucination import check_objects, coco_objects, detail_scores, hallucination_scores


def test_people_words_fold_into_person_and_plurals_into_their_singular():
    assert coco_objects("Two women and a little boy watch the skateboarders.") == {"person"}
    assert coco_objects("Three dogs chase puppies past some buses.") == {"dog", "bus"}


def test_a_longer_phrase_wins_over_the_words_inside_it():
    assert coco_objects("a child holds a teddy bear and a hot dog") == {"person", "teddy bear", "hot dog"}
    assert coco_objects("people wait at the bus stop by the train tracks") == {"person"}


def test_a_description_naming_an_object_no_reference_names_is_hallucinated():
    [check] = check_objects(["a brown dog is running through the grass"],
                            [["A cup of espresso on a saucer.", "Coffee in a white cup."]])
    assert check.hallucinated == {"dog"} and not check.correct


def test_scores_count_hallucinated_informative_and_silent_descriptions():
    texts = ["A dog runs with a frisbee.", "A cat.", "I can't tell what this is."]
    refs = [["a dog catches a ball"], ["a kitten asleep on a bed"], ["a man on a bike"]]
    s = hallucination_scores(texts, refs)
    assert s["hallucinated"] == pytest.approx(1 / 3)  # the frisbee
    assert s["informative"] == pytest.approx(2 / 3)  # the dog and the cat
    assert s["no_object"] == pytest.approx(1 / 3)
    assert s["chair_i"] == pytest.approx(1 / 3)  # 1 of 3 named objects


def test_mismatched_lists_are_refused():
    with pytest.raises(ValueError, match="one list of references per description"):
        hallucination_scores(["a dog"], [])


def test_details_are_founded_by_a_reference_word_of_the_same_stem():
    from model.describing.concepts import Concepts

    objects = Concepts.load().lexicon
    refs = [["A black dog runs on the grass .", "A dog is running outside ."],
            ["A woman rides a skateboard down a ramp ."]]
    texts = ["a brown dog is running through the grass", "a skateboarder is jumping"]
    s = detail_scores(texts, refs, objects)
    # details: brown (no), running (runs), grass (yes); skateboarder (skateboard), jumping (no)
    assert s["details_per_description"] == pytest.approx(5 / 2)
    assert s["details_unfounded"] == pytest.approx(2 / 5)
    assert detail_scores(["a person", "a dog"], refs, objects)["details_per_description"] == 0.0
