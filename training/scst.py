"""Self-critical sequence training (Rennie et al. 2017) with a CIDEr-D reward, after cross-entropy.

The decoder samples several captions per photo; each is rewarded by its CIDEr-D against the photo's
references, and the mean reward of the photo's other samples is its baseline (Luo 2020, "A better variant
of self-critical sequence training"), so no greedy decode is needed. Sampling is the one decoding loop
outside model.beam_search: it keeps gradients and draws words instead of keeping the best beams.

Shapes: B photos, N samples per photo, P regions, E channels, T steps, V vocabulary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from pycocoevalcap.cider.cider_scorer import CiderScorer, cook_refs, cook_test

from model import Vocabulary, tokenize
from model.captioner.decoder import AttentionDecoder

from .config import TrainConfig
from .feature_cache import FeatureCache
from .steps import RunState, autocast, optimizer_step


class CorpusCider(CiderScorer):
    """pycocoevalcap's CIDEr-D with document frequencies from the whole training corpus.

    pycocoevalcap counts document frequencies over the photos it is scoring, which for a batch of 64 is far
    too few; SCST needs the corpus's (the "coco-train-idxs" of Rennie et al.). compute_cider() sets
    ref_len from the photos it scores, so ref_len is a property that keeps the corpus's value.
    """

    ref_len = property(lambda self: self._corpus_ref_len, lambda self, value: None)

    def __init__(self, references: Sequence[Sequence[str]]) -> None:
        """references: each training photo's reference captions, in the order photos are indexed."""
        super().__init__()
        self.cooked = [cook_refs([" ".join(tokenize(r)) for r in refs]) for refs in references]
        self.crefs = self.cooked
        self.compute_doc_freq()
        self._corpus_ref_len = float(np.log(len(self.cooked)))

    def compute_doc_freq(self) -> None:
        if not self.document_frequency:  # only the corpus's, once
            super().compute_doc_freq()

    def scores(self, hypotheses: Sequence[str], photos: Sequence[int]) -> np.ndarray:
        """CIDEr-D of each hypothesis (words joined by spaces) against the references of its photo."""
        self.crefs = [self.cooked[i] for i in photos]
        self.ctest = [cook_test(h) for h in hypotheses]
        return np.asarray(self.compute_cider(), dtype=np.float64)


def sample_captions(
    decoder: AttentionDecoder, features: torch.Tensor, vocab: Vocabulary, *, samples: int, max_length: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw `samples` captions per photo from features (B, P, E).

    Returns word ids (B*N, T) with EOS and padding after it, their log-probabilities (B*N, T) with
    gradients, and a mask (B*N, T) of the steps that count (the words and the EOS that ends them).
    """
    feats = features.repeat_interleave(samples, dim=0)  # (B*N, P, E)
    memory = decoder.project(feats)
    state = decoder.init_state(feats)
    tokens = torch.full((feats.size(0),), vocab.bos_id, dtype=torch.long, device=feats.device)
    banned = torch.tensor([vocab.pad_id, vocab.bos_id, vocab.unk_id], device=feats.device)
    done = torch.zeros_like(tokens, dtype=torch.bool)
    words, log_probs, masks = [], [], []
    for _ in range(max_length + 1):
        logits, state, _ = decoder.step(tokens, state, feats, memory)
        logits = logits.float().index_fill(1, banned, float("-inf"))
        dist = torch.distributions.Categorical(logits=logits)
        tokens = dist.sample()
        log_probs.append(dist.log_prob(tokens))  # before padding: a banned word's -inf would turn 0 * lp to NaN
        masks.append(~done)
        tokens = tokens.masked_fill(done, vocab.pad_id)
        words.append(tokens)
        done = done | (tokens == vocab.eos_id)
        if bool(done.all()):
            break
    return torch.stack(words, 1), torch.stack(log_probs, 1), torch.stack(masks, 1).float()


def scst_loss(
    decoder: AttentionDecoder, features: torch.Tensor, photos: Sequence[int], vocab: Vocabulary,
    cider: CorpusCider, *, samples: int, max_length: int,
) -> tuple[torch.Tensor, float]:
    """Policy-gradient loss for one batch of photos (features (B, P, E) and their indices in the corpus
    cider was built from), and the mean CIDEr-D of the sampled captions."""
    words, log_probs, mask = sample_captions(decoder, features, vocab, samples=samples, max_length=max_length)
    hyps = [" ".join(vocab.decode(row)) for row in words.tolist()]
    owners = [i for i in photos for _ in range(samples)]
    reward = torch.from_numpy(cider.scores(hyps, owners)).float().to(features.device).view(-1, samples)  # (B, N)
    baseline = (reward.sum(1, keepdim=True) - reward) / (samples - 1)  # mean of the photo's other samples
    advantage = (reward - baseline).view(-1, 1)  # (B*N, 1)
    loss = -(advantage * log_probs * mask).sum() / mask.sum().clamp_min(1.0)
    return loss, float(reward.mean())


def self_critical_epoch(
    decoder: AttentionDecoder, cache: FeatureCache, photos: np.ndarray, vocab: Vocabulary, cider: CorpusCider,
    optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter], cfg: TrainConfig, state: RunState,
) -> dict[str, float]:
    """One pass over the training photos (indices into cache and cider) in batches of cfg.batch_size,
    moving state.step; the mean loss and reward, and throughput."""
    order = np.random.default_rng(cfg.seed + state.epoch).permutation(photos)
    device = next(decoder.parameters()).device
    loss_sum = reward_sum = 0.0
    n = 0
    start = time.perf_counter()
    for lo in range(0, len(order), cfg.batch_size):
        idx = order[lo : lo + cfg.batch_size]
        feats = cache.batch(torch.from_numpy(idx)).to(device)  # (B, P, E)
        with autocast(cfg, device):
            loss, reward = scst_loss(decoder, feats, idx.tolist(), vocab, cider, samples=cfg.scst_samples,
                                     max_length=cfg.model.max_length)
        optimizer_step(loss, optimizer, None, params, cfg.grad_clip)
        state.step += 1
        loss_sum, reward_sum, n = loss_sum + float(loss.detach()), reward_sum + reward, n + 1
    seconds = time.perf_counter() - start
    return {"loss": loss_sum / max(n, 1), "reward_cider": reward_sum / max(n, 1),
            "images_per_s": len(order) / seconds, "seconds": seconds, "batches": n}
