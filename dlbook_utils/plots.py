"""Plot helpers every chapter wants.  Each returns a Matplotlib ``Figure`` with a title and labelled axes."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def MaxNLocator(**kwargs: Any) -> Any:  # noqa: N802 - imported lazily, named as in Matplotlib
    from matplotlib.ticker import MaxNLocator as locator

    return locator(**kwargs)


def _as_history(history: Any) -> dict[str, list[float]]:
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping) or not hist:
        raise ValueError("history must be a Keras History or a non-empty dict of metric name -> list of values")
    return {k: list(map(float, v)) for k, v in hist.items()}


def plot_history(
    history: Any,
    metrics: Sequence[str] | None = None,
    *,
    title: str = "Learning curves",
) -> Any:
    """Learning curves: one panel per metric, training and validation (``val_*``) together.

    ``history`` is what ``model.fit`` returns, or a plain ``{"loss": [...], "val_loss": [...]}``.
    """
    hist = _as_history(history)
    if metrics is None:
        metrics = [k for k in hist if not k.startswith("val_") and k != "learning_rate"]
    missing = [m for m in metrics if m not in hist]
    if missing:
        raise ValueError(f"no metric {missing} in the history; it has {sorted(hist)}")
    plt = _plt()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics), 3.6), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(hist[name]) + 1)
        ax.plot(epochs, hist[name], "o-", ms=3, label="training")
        if f"val_{name}" in hist:
            ax.plot(epochs, hist[f"val_{name}"], "s--", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name.replace("_", " "))
        ax.set_title(name.replace("_", " "))
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(
    images: np.ndarray,
    labels: Sequence[Any] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    predictions: Sequence[Any] | None = None,
    ncols: int = 8,
    title: str = "Examples",
    cmap: str = "gray_r",
) -> Any:
    """A grid of images with optional labels; wrong predictions are captioned in red.

    ``images`` has shape ``(n, h, w)`` or ``(n, h, w, c)``.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}")
    n = len(images)
    if n == 0:
        raise ValueError("images is empty")
    for name, seq in (("labels", labels), ("predictions", predictions)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} images")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    plt = _plt()
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows + 0.5), squeeze=False)

    def name(v: Any) -> str:
        return class_names[int(v)] if class_names is not None else str(v)

    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        caption, colour = "", "black"
        if labels is not None:
            caption = name(labels[i])
        if predictions is not None:
            caption = f"{name(predictions[i])}" if labels is None else f"{name(predictions[i])}\n(true: {caption})"
            if labels is not None and predictions[i] != labels[i]:
                colour = "red"
        ax.set_title(caption, fontsize=8, color=colour)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_rows(
    rows: Sequence[tuple[str, np.ndarray]],
    *,
    title: str = "",
    column_titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str = "gray_r",
    label_size: int = 9,
) -> Any:
    """Rows of images to compare, one row per ``(name, images)`` pair, with the name to the left of its row.

    Every row shows its first ``ncols`` images (all of the shortest row by default), as grey images with values in
    [0, 1] (clipped), so that reconstructions line up under their originals. ``column_titles`` label the columns.
    """
    if not rows:
        raise ValueError("image_rows needs at least one (name, images) row")
    arrays = [np.asarray(images) for _, images in rows]
    for (name, _), images in zip(rows, arrays):
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 1):
            raise ValueError(f"row {name!r}: images must have shape (n, h, w) or (n, h, w, 1), got {images.shape}")
    shortest = min(len(a) for a in arrays)
    ncols = shortest if ncols is None else ncols
    if not 1 <= ncols <= shortest:
        raise ValueError(f"ncols must be between 1 and {shortest} (the shortest row), got {ncols}")
    if column_titles is not None and len(column_titles) != ncols:
        raise ValueError(f"{len(column_titles)} column titles for {ncols} columns")
    plt = _plt()
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.15 * ncols, 1.2 * len(rows) + 0.4), squeeze=False)
    for r, ((name, _), images) in enumerate(zip(rows, arrays)):
        for c in range(ncols):
            ax = axes[r, c]
            img = images[c][..., 0] if images.ndim == 4 else images[c]
            ax.imshow(np.clip(img, 0, 1), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes[r, 0].set_ylabel(name, fontsize=label_size, rotation=0, ha="right", va="center")
    for c, column in enumerate(column_titles or []):
        axes[0, c].set_title(column, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j``."""
    y_true = np.asarray(y_true, dtype=int).ravel()
    y_pred = np.asarray(y_pred, dtype=int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    k = int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1) if n_classes is None else n_classes
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def plot_confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    *,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Any:
    """A confusion matrix as a heat-map (rows: true class, columns: predicted class)."""
    k = len(class_names) if class_names is not None else None
    cm = confusion_matrix(y_true, y_pred, k)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    plt = _plt()
    size = max(4.0, 0.55 * len(cm) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, label="fraction of the true class" if normalize else "count")
    ax.set_xticks(range(len(cm)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(cm)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(len(cm)):
        for j in range(len(cm)):
            text = f"{shown[i, j]:.2f}" if normalize else str(cm[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > threshold else "black")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    ax: Any = None,
    resolution: int = 200,
    margin: float = 0.5,
    title: str = "Decision boundary",
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
) -> Any:
    """Colour the plane by a model's predicted class and overlay labelled 2-D points.

    ``predict`` maps an ``(n, 2)`` array to class scores ``(n, k)``, probabilities ``(n,)``/``(n, 1)``
    for two classes, or integer labels ``(n,)``.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels")
    x0 = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    x1 = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    scores = np.asarray(predict(np.c_[g0.ravel(), g1.ravel()]))
    if scores.ndim == 2 and scores.shape[1] > 1:
        zz = scores.argmax(axis=1)
    elif np.issubdtype(scores.dtype, np.integer):
        zz = scores.ravel()
    else:
        zz = (scores.ravel() > 0.5).astype(int)
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.2))
    else:
        fig = ax.figure
    classes = np.unique(y)
    levels = np.arange(max(zz.max(), classes.max()) + 2) - 0.5
    ax.contourf(g0, g1, zz.reshape(g0.shape), levels=levels, cmap="coolwarm", alpha=0.25)
    # Each class's points take the colour of its own region, so the picture reads at a glance.
    n_bands = len(levels) - 1
    for c in classes:
        pts = X[y == c]
        colour = plt.get_cmap("coolwarm")(int(c) / max(n_bands - 1, 1))
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colour, edgecolor="k", linewidth=0.3, label=f"class {c}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return fig
