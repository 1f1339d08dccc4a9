from model import Vocabulary, tokenize


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A dog's ball , on the GRASS .") == ["a", "dog's", "ball", "on", "the", "grass"]


def test_vocabulary_keeps_frequent_words_and_round_trips():
    v = Vocabulary.build(["a dog runs", "a dog sits", "a cat"], min_count=2)
    assert v.words == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "dog"]
    ids = v.encode("A dog flies")
    assert ids == [v.bos_id, 4, 5, v.unk_id, v.eos_id]
    assert v.decode(ids) == ["a", "dog", "<unk>"]
    assert v.encode("a dog a dog", max_length=2) == [v.bos_id, 4, 5, v.eos_id]
