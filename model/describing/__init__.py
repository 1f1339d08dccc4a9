"""Describing: what seesay says of a photo, and only what its evidence supports.

    describer.py    the one describer: runs every source of evidence, composes what is said (Description)
    recognition.py  ImageNet logits -> groups said with calibrated thresholds; the calibration file's reader
    detection.py    the object detector (NanoDet, COCO's 80 categories) and the pose model (MoveNet), ONNX
    objects.py      detector, recognizer and caption evidence fused per COCO category; counts and places
    concepts.py     what the caption, the recognizer and the objects say, as concepts to be weighed
    people.py       the people evidence; phrasing.py: the part of a caption its evidence supports
    lexicon.py      the words for things; description.py: the answer, with its evidence, as --json has it
    text_reader.py  text in the photo (PP-OCR through rapidocr); reading.py, speakable.py: how it is read out
    codes.py        QR codes and barcodes (zxing-cpp); colour.py, light.py: colour names and light level

It uses the captioner (model.captioner) through its engines; the captioner never imports it.
"""
