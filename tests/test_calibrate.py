from training.calibrate import calibrate_threshold, content_precision


def test_content_precision_counts_words_found_in_references():
    refs = ["A black dog runs on the grass .", "A dog is running outside ."]
    assert content_precision("a dog runs on grass", refs) == 1.0
    assert content_precision("a cat sits on a sofa", refs) == 0.0
    assert content_precision("a dog on a sofa", refs) == 0.5


def test_threshold_sits_above_the_low_confidence_captions_that_are_mostly_wrong():
    conf = [0.1, 0.15, 0.2, 0.5, 0.6, 0.7, 0.8]
    qual = [0.0, 0.2, 0.4, 0.9, 1.0, 0.8, 1.0]
    assert calibrate_threshold(conf, qual) == 0.5  # hedges the three captions below 0.5
    assert calibrate_threshold(conf, [1.0] * 7) == 0.0


def test_threshold_starts_above_the_last_bin_that_is_mostly_wrong():
    conf = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    qual = [0.0, 0.9, 0.3, 0.7, 0.8, 0.9]  # the 0.3 caption is wrong although a lower one was right
    assert calibrate_threshold(conf, qual) == 0.4
    assert calibrate_threshold(conf, [0.0] * 6) > 0.6  # nothing is reliable: every caption is hedged
