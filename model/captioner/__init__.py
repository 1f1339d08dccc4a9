"""The captioner, Show, Attend and Tell: photo -> region features -> an attention LSTM -> beam search -> words.

    encoder.py      EfficientNet-Lite (or ResNet) -> region features (B, P, E), ImageNet logits, pooled features
    attention.py    soft, hard and multi-head attention over the regions
    decoder.py      the LSTM decoder, one step at a time
    beam_search.py  the search every engine runs (hypotheses.py ranks its finished beams)
    caption.py      a caption as every engine returns it: words, per-word probabilities, attention
    vocabulary.py   words <-> ids; checkpoint.py, config.py: what a checkpoint holds (no pickled modules)
    torch_engine.py PyTorch: training, evaluation and the fallback engine
    onnx_engine.py  ONNX Runtime: the graphs `seesay export-onnx` compiles; seesay's default engine

It imports nothing of model.describing: how it decodes (beam size, blocked repeats) is passed in.
"""
