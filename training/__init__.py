"""Training, evaluation and contrastive pre-training for seesay's captioner. Entry point: training.loop.fit."""
