"""Reading for a listener (issue 28): dates, times and phone numbers said as such, a text line by line, and
search results and file names as words."""

from types import SimpleNamespace

import pytest

from assistant.reading import Document
from assistant.spoken import file_words, relevant, results_summary, spoken_result
from model.describing.speakable import speakable


@pytest.mark.parametrize("written, said", [
    ("14/03/2027 at 10:30 in room 12.", "14 March 2027 at 10 30 in room 12."),
    ("To change it, call 0161 496 0123.", "To change it, call 0 1 6 1, 4 9 6, 0 1 2 3."),
    ("Phone +44 161 496 0123", "Phone plus 4 4, 1 6 1, 4 9 6, 0 1 2 3"),
    ("Meet at 9:05 pm on 2027-03-14", "Meet at 9 oh 5 p m on 14 March 2027"),
    ("Opens at 10:00", "Opens at 10 o'clock"),
    ("03/25/2027", "25 March 2027"),  # the second number cannot be a month: written month first
    ("Total 1,250 pounds", "Total 1250 pounds"),
    ("Platform 4, room 12, ref 1234567", "Platform 4, room 12, ref 1234567"),  # plain numbers stay numbers
    ("EXIT ONLY", "EXIT ONLY"),
])
def test_dates_times_and_phone_numbers_are_written_as_they_are_to_be_said(written, said):
    assert speakable(written) == said


def test_a_text_is_read_whole_and_line_by_line_and_sentence_by_sentence():
    doc = Document(["Dear Ms Smith,", "Your appointment is on", "14 March 2027. Please come early.", "Yours,"])
    assert doc.intro() == "It says, in 4 lines:"
    assert doc.move_line(1) == "Dear Ms Smith,"
    assert [doc.move_line(1) for _ in range(4)] == ["Your appointment is on", "14 March 2027. Please come early.",
                                                    "Yours,", "End of the text, 4 lines."]
    assert doc.move_line(-1) == "Yours,"
    assert doc.everything()[-1] == "Yours," and doc.move_line(1) == "End of the text, 4 lines."
    assert doc.move_sentence(1) == "End of the text, 3 sentences."  # read all: the place is at the end
    doc = Document(doc.lines)
    assert doc.move_sentence(1) == "Dear Ms Smith, Your appointment is on 14 March 2027."
    assert doc.move_sentence(1) == "Please come early."
    assert doc.move_sentence(-1) == "Dear Ms Smith, Your appointment is on 14 March 2027."
    assert doc.move_sentence(-1) == "Start of the text: Dear Ms Smith, Your appointment is on 14 March 2027."
    assert Document([]).intro() == "No text in view." and "t reads" in Document([]).move_line(1)


@pytest.mark.parametrize("path, words", [
    ("/data/flickr8k/images/1001773457_577c3a7d70.jpg", ""),  # a camera number (here a hash): nothing
    ("IMG_20230101_123456.jpg", ""), ("DSC01234.JPG", ""), ("PXL_20230405_101010123.jpg", ""),
    ("beach-walk_2019.jpg", "beach walk 2019"), ("MyDogRex.png", "My Dog Rex"), ("sign 4.png", "sign 4"),
])
def test_a_file_name_is_said_as_words_and_a_camera_number_not_at_all(path, words):
    assert file_words(path) == words


def test_search_results_are_said_description_first_with_the_count_first_and_a_relevance_cut():
    hits = [SimpleNamespace(caption="A dog.", path="/p/holiday/1001773457_577c3a7d70.jpg", score=0.032),
            SimpleNamespace(caption="A dog on the grass", path="/p/Pictures/garden-dog.jpg", score=0.030),
            SimpleNamespace(caption="A cat.", path="/p/Pictures/IMG_2211.jpg", score=0.0143)]
    kept = relevant(hits)
    assert kept == hits[:2]  # below half the best score: not said at all
    assert spoken_result(hits[0]) == "A dog. A photo, in the folder holiday."
    assert spoken_result(hits[1]) == "A dog on the grass. Garden dog, in the folder Pictures."
    assert results_summary("dog", kept) == "2 photos found for dog. First: A dog. A photo, in the folder holiday."
    assert results_summary("dog", []) == "No photos match dog."
