"""Architecture diagrams drawn with matplotlib, so that they render the same on the website, in Colab and in
Jupyter, and are tested like the rest of the package.

Each function returns a :class:`matplotlib.figure.Figure`; a chapter shows it with ``plt.show()``::

    from dlbook_utils import diagrams
    diagrams.residual_block(); plt.show()
    diagrams.padding_stride(size=5, kernel=3, stride=2, padding=1); plt.show()

The building block is :func:`flow`: boxes in a row, joined by arrows, with optional skip connections drawn as
arcs above them. The named diagrams (residual and bottleneck blocks, a VAE, a GAN) are flows with the book's
labels; :func:`padding_stride` draws a convolution's input grid, its zero padding and the output it produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Box", "flow", "residual_block", "bottleneck_block", "vae", "gan", "conv_output_size", "padding_stride"]

_KIND_COLOURS = {
    "data": "#e8eef7",      # inputs and outputs
    "layer": "#fdf1dc",     # learned layers
    "op": "#e9f5e9",        # fixed operations (add, ReLU, sampling)
    "loss": "#f8e1e1",      # losses and scores
}


@dataclass(frozen=True)
class Box:
    """One box of a flow diagram: its text, its kind (``data``, ``layer``, ``op`` or ``loss``), a smaller
    second line, and its width in box units (1 is the default width)."""

    label: str
    kind: str = "layer"
    note: str = ""
    width: float = 1.0

    def __post_init__(self):
        if self.kind not in _KIND_COLOURS:
            raise ValueError(f"unknown box kind {self.kind!r}; use one of {sorted(_KIND_COLOURS)}")
        if self.width <= 0:
            raise ValueError(f"a box's width must be positive, got {self.width}")


def flow(boxes: Sequence[Box | str], *, skips: Sequence[tuple[int, int, str]] = (), title: str = "",
         gap: float = 0.45, figsize: tuple[float, float] | None = None):
    """A left-to-right flow of ``boxes`` joined by arrows.

    ``skips`` are arcs drawn above the row from box ``i`` to box ``j`` (``i < j``) with a label, for shortcut
    connections. Strings are taken as ``Box(label)``. Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    items = [b if isinstance(b, Box) else Box(str(b)) for b in boxes]
    if len(items) < 2:
        raise ValueError("a flow needs at least two boxes")
    for i, j, _ in skips:
        if not (0 <= i < j < len(items)):
            raise ValueError(f"skip ({i}, {j}) must join two boxes left to right (0 ≤ i < j < {len(items)})")
    unit = 1.6
    lefts, x = [], 0.0
    for b in items:
        lefts.append(x)
        x += b.width * unit + gap
    total = x - gap
    height = 0.9
    top = 1.9 if skips else 1.2
    fig, ax = plt.subplots(figsize=figsize or (max(6.0, 1.15 * total), 2.4 if skips else 1.8))
    ax.set_xlim(-0.1, total + 0.1)
    ax.set_ylim(-0.35, top)
    ax.axis("off")
    ax.grid(False)
    centres = []
    for b, left in zip(items, lefts):
        w = b.width * unit
        ax.add_patch(FancyBboxPatch((left, 0), w, height, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=_KIND_COLOURS[b.kind], edgecolor="#444444", linewidth=1.2))
        ax.text(left + w / 2, height / 2 + (0.12 if b.note else 0), b.label, ha="center", va="center", fontsize=10)
        if b.note:
            ax.text(left + w / 2, height / 2 - 0.2, b.note, ha="center", va="center", fontsize=8, color="#555555")
        centres.append(left + w / 2)
    for k in range(len(items) - 1):
        start = lefts[k] + items[k].width * unit
        ax.add_patch(FancyArrowPatch((start, height / 2), (lefts[k + 1], height / 2), arrowstyle="-|>",
                                     mutation_scale=12, color="#333333", linewidth=1.2))
    for n, (i, j, label) in enumerate(skips):
        rise = 0.45 + 0.3 * n                               # an arc above the row: up, across, down
        ax.plot([centres[i], centres[i], centres[j]], [height, height + rise, height + rise], color="#1f5fa8",
                linewidth=1.4, solid_joinstyle="round")
        ax.add_patch(FancyArrowPatch((centres[j], height + rise), (centres[j], height), arrowstyle="-|>",
                                     mutation_scale=12, color="#1f5fa8", linewidth=1.4))
        ax.text((centres[i] + centres[j]) / 2, height + rise + 0.06, label, ha="center", va="bottom",
                fontsize=9, color="#1f5fa8")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def residual_block(*, projection: bool = False):
    """The basic residual block: Conv 3×3 → BN → ReLU → Conv 3×3 → BN (γ = 0 at the start), plus the shortcut
    (the identity, or a 1 × 1 convolution + BN when the shape changes), added before the last ReLU."""
    boxes = [Box("x", "data"), Box("Conv 3×3", note="stride s, no bias"), Box("BN → ReLU", "op"),
             Box("Conv 3×3", note="no bias"), Box("BN", "op", note="γ starts at 0"), Box("+", "op", width=0.45),
             Box("ReLU", "op", width=0.7), Box("y", "data", width=0.6)]
    shortcut = "shortcut: Conv 1×1 (stride s) + BN" if projection else "shortcut: identity"
    title = "Residual block: y = ReLU(F(x) + shortcut(x))"
    return flow(boxes, skips=[(0, 5, shortcut)], title=title)


def bottleneck_block(channels: int = 256, squeeze: int = 4):
    """The bottleneck block: 1 × 1 down to ``channels / squeeze``, 3 × 3 there, 1 × 1 back up, plus the shortcut."""
    if channels < squeeze or channels % squeeze:
        raise ValueError(f"channels ({channels}) must be a positive multiple of squeeze ({squeeze})")
    inner = channels // squeeze
    boxes = [Box("x", "data", note=f"{channels} ch."), Box("Conv 1×1", note=f"{channels} → {inner} · BN · ReLU", width=1.3),
             Box("Conv 3×3", note=f"{inner} → {inner} · BN · ReLU", width=1.3),
             Box("Conv 1×1", note=f"{inner} → {channels} · BN", width=1.3),
             Box("+", "op", width=0.45), Box("y", "data", width=0.6, note=f"{channels} ch.")]
    return flow(boxes, skips=[(0, 4, "shortcut: identity")],
                title=f"Bottleneck block: the 3×3 convolution works on {inner} channels, not {channels}")


def vae(latent_dim: int = 2):
    """A variational autoencoder: encoder → (μ, log σ²) → z = μ + σ·ε → decoder, with its two loss terms."""
    boxes = [Box("x", "data"), Box("encoder", note="Conv / Dense"), Box("μ, log σ²", "data", width=1.1,
             note=f"{latent_dim} + {latent_dim} numbers"), Box("z = μ + σ·ε", "op", width=1.2, note="ε ~ N(0, I)"),
             Box("decoder", note="Dense / ConvT"), Box("x̂", "data", width=0.7)]
    fig = flow(boxes, skips=[(2, 5, "loss = reconstruction(x, x̂) + KL(N(μ, σ²) ‖ N(0, I))")],
               title="Variational autoencoder: sampling by reparameterisation")
    return fig


def gan():
    """The two players: noise → generator → fake images; real and fake images → discriminator → P(real)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.set_xlim(0, 10.6)
    ax.set_ylim(0, 4)
    ax.axis("off")
    ax.grid(False)
    spots = {
        "z ~ N(0, I)": (0.2, 2.6, "data"), "generator G": (2.2, 2.6, "layer"), "fake G(z)": (4.4, 2.6, "data"),
        "real x": (4.4, 0.6, "data"), "discriminator D": (6.5, 1.6, "layer"), "P(real)": (9.0, 1.6, "loss"),
    }
    centres = {}
    for label, (x, y, kind) in spots.items():
        w = 1.9 if label.startswith("discriminator") else 1.4
        ax.add_patch(FancyBboxPatch((x, y), w, 0.8, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=_KIND_COLOURS[kind], edgecolor="#444444", linewidth=1.2))
        ax.text(x + w / 2, y + 0.4, label, ha="center", va="center", fontsize=10)
        centres[label] = (x, y, w)
    def arrow(a, b):
        (xa, ya, wa), (xb, yb, _) = centres[a], centres[b]
        ax.add_patch(FancyArrowPatch((xa + wa, ya + 0.4), (xb, yb + 0.4), arrowstyle="-|>", mutation_scale=12,
                                     color="#333333", linewidth=1.2))

    arrow("z ~ N(0, I)", "generator G")
    arrow("generator G", "fake G(z)")
    arrow("fake G(z)", "discriminator D")
    arrow("real x", "discriminator D")
    arrow("discriminator D", "P(real)")
    ax.text(6.3, 3.55, "D learns: P(real) → 1 on real x, → 0 on G(z)", fontsize=9, color="#1f5fa8")
    ax.text(0.2, 3.55, "G learns: make D say 'real' on G(z)", fontsize=9, color="#a83a1f")
    ax.set_title("A GAN: two networks trained against each other")
    fig.tight_layout()
    return fig


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution along one axis: ⌊(size + 2·padding − kernel) / stride⌋ + 1."""
    if size < 1 or kernel < 1 or stride < 1 or padding < 0:
        raise ValueError(f"need size, kernel, stride ≥ 1 and padding ≥ 0; got {size}, {kernel}, {stride}, {padding}")
    if size + 2 * padding < kernel:
        raise ValueError(f"a {kernel}-wide kernel does not fit in {size} pixels with padding {padding}")
    return (size + 2 * padding - kernel) // stride + 1


def padding_stride(size: int = 5, kernel: int = 3, stride: int = 1, padding: int = 1):
    """The input grid (``size`` × ``size``) with its zero padding, the kernel's first two positions, and the
    output grid, side by side; the title gives the output size formula for these numbers."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    out = conv_output_size(size, kernel, stride, padding)
    padded = size + 2 * padding
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [padded, max(out, 2)]})
    for ax in (ax_in, ax_out):
        ax.set_aspect("equal")
        ax.axis("off")
        ax.grid(False)
    for i in range(padded):
        for j in range(padded):
            inside = padding <= i < padding + size and padding <= j < padding + size
            ax_in.add_patch(Rectangle((j, padded - 1 - i), 1, 1, facecolor="#e8eef7" if inside else "white",
                                      edgecolor="#888888", hatch=None if inside else "//", linewidth=0.8))
            if not inside:
                ax_in.text(j + 0.5, padded - 0.5 - i, "0", ha="center", va="center", fontsize=8, color="#999999")
    positions = [(0, 0)] + ([(0, stride)] if out > 1 else [])
    for (r, c), colour in zip(positions, ("#d9822b", "#1f5fa8")):
        ax_in.add_patch(Rectangle((c, padded - r - kernel), kernel, kernel, fill=False, edgecolor=colour, linewidth=2.5))
    ax_in.set_xlim(-0.2, padded + 0.2)
    ax_in.set_ylim(-0.2, padded + 0.2)
    ax_in.set_title(f"input {size}×{size}, padding {padding} (hatched zeros)\nkernel {kernel}×{kernel}, stride {stride}",
                    fontsize=10)
    for i in range(out):
        for j in range(out):
            colour = "#d9822b" if (i, j) == (0, 0) else "#1f5fa8" if (i, j) == (0, 1) else "#fdf1dc"
            ax_out.add_patch(Rectangle((j, out - 1 - i), 1, 1, facecolor=colour, edgecolor="#888888", linewidth=0.8,
                                       alpha=0.9 if (i, j) in ((0, 0), (0, 1)) else 1.0))
    ax_out.set_xlim(-0.2, max(out, 2) + 0.2)
    ax_out.set_ylim(-0.2 + out - max(out, 2), out + 0.2)
    ax_out.set_title(f"output {out}×{out}", fontsize=10)
    fig.suptitle(f"⌊({size} + 2·{padding} − {kernel}) / {stride}⌋ + 1 = {out}")
    fig.tight_layout()
    return fig
