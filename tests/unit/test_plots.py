import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook_utils import plots  # noqa: E402


def _titles_and_labels(fig):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return title, axes


def test_plot_history_has_one_labelled_panel_per_metric():
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8],
            "val_accuracy": [0.4, 0.6, 0.7]}
    fig = plots.plot_history(hist, title="MLP")
    title, axes = _titles_and_labels(fig)
    assert title == "MLP" and len(axes) == 2
    for ax in axes:
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() and ax.get_title()
        assert len(ax.get_lines()) == 2  # training and validation
    with pytest.raises(ValueError, match="no metric"):
        plots.plot_history(hist, metrics=["auc"])
    with pytest.raises(ValueError):
        plots.plot_history({})
    plt.close("all")


def test_image_grid_captions_mistakes_in_red():
    imgs = np.random.rand(5, 8, 8)
    fig = plots.image_grid(imgs, labels=[0, 1, 2, 3, 4], predictions=[0, 1, 9, 3, 4],
                           class_names=[str(i) for i in range(10)], ncols=5, title="Predictions")
    title, axes = _titles_and_labels(fig)
    assert title == "Predictions" and len(axes) == 5
    colours = [matplotlib.colors.to_hex(ax.title.get_color()) for ax in axes]
    assert colours[2] == "#ff0000" and colours[0] == "#000000"
    with pytest.raises(ValueError, match="shape"):
        plots.image_grid(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="labels"):
        plots.image_grid(imgs, labels=[1, 2])
    plt.close("all")


def test_confusion_matrix_counts():
    cm = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    fig = plots.plot_confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["a", "b"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class" and ax.get_title()
    with pytest.raises(ValueError):
        plots.confusion_matrix([0, 1], [0])
    plt.close("all")


def test_decision_boundary_colours_the_plane_by_prediction():
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    fig = plots.plot_decision_boundary(lambda p: (p[:, 0] > 0).astype(float), X, y, title="x1 > 0")
    ax = fig.axes[0]
    assert ax.get_title() == "x1 > 0" and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.collections) >= 2  # the filled contour and the points
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plots.plot_decision_boundary(lambda p: p, np.zeros((3, 3)), np.zeros(3))
    plt.close("all")


def test_image_rows_lines_up_rows_with_their_names_and_clips_values():
    original = np.random.default_rng(0).random((5, 6, 6))
    fig = plots.image_rows([("original", original), ("noisy", original[..., None] + 2.0)],
                           title="rows", column_titles=list("abcde"))
    axes = np.array(fig.axes).reshape(2, 5)
    assert [axes[r, 0].get_ylabel() for r in range(2)] == ["original", "noisy"]
    assert [ax.get_title() for ax in axes[0]] == list("abcde")
    shown = axes[1, 0].get_images()[0].get_array()
    assert float(np.max(shown)) == 1.0, "values are clipped to [0, 1]"
    np.testing.assert_allclose(axes[0, 3].get_images()[0].get_array(), original[3])
    assert len(plots.image_rows([("a", original), ("b", original[:3])]).axes) == 6, "as many columns as the shortest row"
    for bad in ([], [("rgb", np.zeros((2, 4, 4, 3)))]):
        with pytest.raises(ValueError):
            plots.image_rows(bad)
    with pytest.raises(ValueError, match="column titles"):
        plots.image_rows([("a", original)], column_titles=["x"])
    with pytest.raises(ValueError, match="ncols"):
        plots.image_rows([("a", original)], ncols=9)
