"""The book plan's full-mode targets and their anchors, chapter by chapter.

Written from the "full-mode target" column of the book plan, for the chapters the book has.  The
results page (:mod:`dlbook_utils.results_page`) shows them beside what each chapter recorded; the
recorded ``target`` and ``met`` of each metric (:func:`dlbook_utils.metrics.record`) stay the source
of truth for pass or fail.  An anchor is the public reference result a target is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedChapter:
    """One chapter of the book plan: its title, its full-mode target and the anchor it cites, if any."""

    number: str
    title: str
    target: str
    anchor: str | None = None


_CHAPTERS: tuple[PlannedChapter, ...] = (
    PlannedChapter(
        "01",
        "Vectors, tensors and embeddings",
        "nearest neighbours of frequent words are sensible (shown); a shape/broadcasting self-check",
    ),
    PlannedChapter(
        "02",
        "The artificial neuron",
        "perceptron separates a separable set; 2-layer net solves XOR (100%)",
    ),
    PlannedChapter(
        "03",
        "Backpropagation and gradient descent",
        "NumPy MLP ≥ 96% test accuracy; manual vs autodiff gradients agree to 1e-6",
    ),
    PlannedChapter(
        "04",
        "Neural networks with Keras",
        "MLP ≥ 89% on Fashion-MNIST",
        "Fashion-MNIST benchmark (zalandoresearch/fashion-mnist README): MLP 88.3%",
    ),
    PlannedChapter(
        "05",
        "Training deep networks",
        "plain deep sigmoid net fails / residual + BN net trains (≥ 88%), shown side by side",
    ),
    PlannedChapter(
        "06",
        "Generalisation and regularisation",
        "regularised model beats the unregularised one on test by a margin shown in a table",
    ),
    PlannedChapter(
        "07",
        "Convolutional networks",
        "MNIST ≥ 99.2% in ≤ 3 epochs; Fashion-MNIST ≥ 92.5%",
        "keras-io “Simple MNIST convnet”: 99.19% after 15 epochs; "
        "Fashion-MNIST benchmark: 2-conv with < 100k parameters, 92.5%",
    ),
    PlannedChapter(
        "08",
        "Modern CNNs and transfer learning",
        "mini-ResNet ≥ 93.5%; at 10 labels per class fine-tuned beats scratch by ≥ 5 points; "
        "the crossover measured",
    ),
    PlannedChapter(
        "09",
        "Autoencoders and latent spaces",
        "VAE with 2-D latent: samples and a latent map that a reader recognises; test ELBO reported",
    ),
    PlannedChapter(
        "10",
        "Generative adversarial networks",
        "conditional GAN samples classified as their intended class ≥ 80% of the time by the chapter-07 classifier",
    ),
    PlannedChapter(
        "11",
        "Word embeddings and Word2Vec",
        "neighbours of frequent words are semantically related (shown); similarity of hand-picked related pairs "
        "> unrelated pairs",
    ),
    PlannedChapter(
        "12",
        "Recurrent networks: RNN, LSTM, GRU",
        "forecast beats the naive and linear baselines on MAE; IMDB sentiment ≥ 86%",
        "keras-io bidirectional LSTM: 84.3% after 2 epochs; about 87% is the LSTM ceiling",
    ),
    PlannedChapter(
        "13",
        "Sequence labelling: POS tagging, NER and dependency parsing",
        "POS accuracy ≥ 95%; chunking F1 ≥ 90; NER entity F1 ≥ 70 on esp.testb; unlabelled attachment ≥ 75% "
        "(vs the next-word baseline)",
    ),
    PlannedChapter(
        "14",
        "Encoder–decoder and attention",
        "exact match ≥ 99% with attention",
        "keras-io addition RNN: 99.7% per character (about 98.8% whole-answer exact match)",
    ),
    PlannedChapter(
        "15",
        "Transformers",
        "classifier ≥ 88% on IMDB; MLM pretraining measurably helps a classifier fine-tuned on 1k labels",
        "keras-io “Text classification with Transformer”: 87.5%",
    ),
    PlannedChapter(
        "16",
        "Tokenisation and language models",
        "BPE round-trips the corpus exactly; n-gram validation cross-entropy (nats per character) reported as the "
        "baseline for chapter 17",
    ),
    PlannedChapter(
        "17",
        "Building a GPT",
        "character-level validation loss ≤ 1.80 nats within the full-mode budget on 2 CPU cores; KV-cache "
        "generation ≥ 3× faster than recomputing; power law fitted over ≥ 5 sizes",
        "nanoGPT shakespeare-char: 1.47 with 10.7M parameters on a GPU; its CPU “baby GPT” about 1.88",
    ),
    PlannedChapter(
        "18",
        "Prompting, in-context, few-shot and zero-shot learning",
        "in-context accuracy rises with the number of shots (plot); 5-way 5-shot ≥ 80% on the held-out classes "
        "{0, 1, 3, 5, 8}",
        "naive features: 79.9% on {0, 1, 3, 5, 8}, 62.7% with classes 5–9 held out",
    ),
    PlannedChapter(
        "19",
        "Fine-tuning and parameter-efficient fine-tuning",
        "LoRA's loss on the instruction task within 5% of full fine-tuning's, with < 5% of its trainable "
        "parameters",
        "LoRA (Hu et al., 2021): rank 4–8 on the attention projections matches full fine-tuning of GPT-3",
    ),
    PlannedChapter(
        "20",
        "Deep reinforcement learning",
        "PPO mean return ≥ 475 over 100 episodes (CartPole-v1 solved); DQN ≥ 195",
        "Gymnasium CartPole-v1: solved at 475; CleanRL after 500k steps: PPO 490, DQN 489",
    ),
    PlannedChapter(
        "21",
        "Reinforcement learning from human feedback",
        "the annotator prefers the PPO policy's reviews over the SFT policy's ≥ 75% of the time; KL to the "
        "reference reported and bounded",
        "TRL gpt2-sentiment PPO: reward 0.24 → 2.48",
    ),
)

PLAN: dict[str, PlannedChapter] = {c.number: c for c in _CHAPTERS}
"""Chapter number (``"07"``) → its entry in the book plan."""


def planned(chapter: str) -> PlannedChapter | None:
    """The plan's entry for ``chapter`` (``"07"``), or ``None`` for a chapter the table does not list."""
    return PLAN.get(chapter)
