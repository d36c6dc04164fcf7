"""dlbook_utils.diagrams: architecture pictures drawn with matplotlib, rendered and checked for their content."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlbook_utils import diagrams  # noqa: E402


def _texts(fig) -> str:
    return " | ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip())


def _renders(fig) -> int:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    return len(buffer.getvalue())


@pytest.mark.parametrize("make, words", [
    (diagrams.residual_block, ["Conv 3×3", "shortcut: identity", "γ starts at 0", "+"]),
    (lambda: diagrams.residual_block(projection=True), ["Conv 1×1 (stride s) + BN"]),
    (diagrams.bottleneck_block, ["256 → 64", "64 → 64", "64 → 256", "64 channels, not 256"]),
    (lambda: diagrams.vae(latent_dim=2), ["encoder", "μ, log σ²", "z = μ + σ·ε", "decoder", "KL", "2 + 2"]),
    (diagrams.gan, ["generator G", "discriminator D", "real x", "P(real)"]),
])
def test_each_diagram_shows_its_parts_and_renders(make, words):
    fig = make()
    text = _texts(fig)
    for word in words:
        assert word in text, f"{word!r} is not drawn: {text}"
    assert fig.axes[0].get_title() or fig._suptitle is not None, "every diagram has a title"
    assert _renders(fig) > 2000


@pytest.mark.parametrize("size, kernel, stride, padding", [(5, 3, 1, 1), (5, 3, 2, 1), (28, 5, 1, 2), (7, 2, 2, 0),
                                                           (6, 3, 1, 0)])
def test_output_size_matches_keras(size, kernel, stride, padding):
    import keras

    x = keras.ops.zeros((1, size + 2 * padding, size + 2 * padding, 1))     # explicit zero padding, then "valid"
    y = keras.layers.Conv2D(1, kernel, strides=stride, padding="valid")(x)
    assert diagrams.conv_output_size(size, kernel, stride, padding) == y.shape[1]


def test_padding_stride_draws_the_grids_it_names():
    fig = diagrams.padding_stride(size=5, kernel=3, stride=2, padding=1)
    text = _texts(fig)
    assert "output 3×3" in text and "input 5×5, padding 1" in text and "= 3" in text
    in_ax = fig.axes[0]
    assert len(in_ax.patches) == 7 * 7 + 2, "49 padded input cells and two kernel positions"
    assert _renders(fig) > 2000


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="does not fit"):
        diagrams.conv_output_size(2, 5)
    with pytest.raises(ValueError, match="stride"):
        diagrams.conv_output_size(5, 3, stride=0)
    with pytest.raises(ValueError, match="multiple"):
        diagrams.bottleneck_block(channels=30, squeeze=4)
    with pytest.raises(ValueError, match="kind"):
        diagrams.Box("x", kind="cloud")
    with pytest.raises(ValueError, match="left to right"):
        diagrams.flow(["a", "b"], skips=[(1, 0, "back")])
    with pytest.raises(ValueError, match="two boxes"):
        diagrams.flow(["a"])
