"""Pictures of a profile: producers per feature next to the users' feature distribution.

``producer mass`` of feature ``f`` is ``sum_i s_if``: the number of producers on
``e_f`` when every producer plays a basis vector. ``producer share`` divides it
by the total mass (all zeros when no producer posts anything), so it compares
directly with the users' distribution ``U.sum(0) / U.sum()``.

``ansi_table`` returns text; ``rgb_image`` draws a grouped bar chart with
matplotlib's Agg canvas (no window, no global ``pyplot`` state).
"""

from __future__ import annotations

import numpy as np

BAR_WIDTH = 20  # characters of the longest text bar (a share of 1)
FIGURE_INCHES = (6.4, 3.2)  # width, height of the rgb_array image
FIGURE_DPI = 100  # pixels per inch, so images are 640 x 320


def producer_shares(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Producer mass ``(d,)`` per feature and its normalised share ``(d,)``."""
    mass = profile.sum(axis=0)
    total = mass.sum()
    share = mass / total if total > 0 else np.zeros_like(mass)
    return mass, share


def ansi_table(profile: np.ndarray, user_distribution: np.ndarray, header: str) -> str:
    """A text table, one line per feature.

    Parameters
    ----------
    profile : array, shape (n, d)
    user_distribution : array, shape (d,)
    header : str
        First line (step, rule, rewards).

    Returns
    -------
    str
        Columns: feature, producer mass, producer share, user share, and bars
        (``#`` producers, ``.`` users).
    """
    mass, share = producer_shares(profile)
    lines = [header, f"{'feature':>7}  {'producers':>9}  {'prod share':>10}  {'user share':>10}"]
    for f, (m, p, u) in enumerate(zip(mass, share, user_distribution, strict=True)):
        bars = "#" * round(p * BAR_WIDTH) + " | " + "." * round(u * BAR_WIDTH)
        lines.append(f"{f:>7}  {m:>9.3f}  {p:>10.3f}  {u:>10.3f}  {bars}")
    return "\n".join(lines)


def rgb_image(profile: np.ndarray, user_distribution: np.ndarray, title: str) -> np.ndarray:
    """A grouped bar chart of producer share and user share per feature.

    Returns
    -------
    array, shape (320, 640, 3), uint8
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _, share = producer_shares(profile)
    features = np.arange(len(user_distribution))
    figure = Figure(figsize=FIGURE_INCHES, dpi=FIGURE_DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(features - 0.2, share, width=0.4, label="producers")
    axes.bar(features + 0.2, user_distribution, width=0.4, label="users")
    axes.set_xticks(features)
    axes.set_xlabel("feature")
    axes.set_ylabel("share")
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=9)
    axes.legend(loc="upper right")
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
