"""Small matplotlib helpers the notebooks share.

Every function draws on the ``ax`` it is given (or on a new figure when ``ax`` is None) and
returns that ``matplotlib.axes.Axes`` (``plot_history``: a pair of them), so a notebook can add
titles or combine plots:

- :func:`plot_rating_histogram`: how often each rating value occurs;
- :func:`plot_long_tail`: ratings per user and per movie, sorted, on a log scale;
- :func:`draw_user_subgraph`: the bipartite graph around one user (networkx drawing);
- :func:`plot_history`: training loss and validation metric from a ``history`` dict, on two
  labelled axes;
- :func:`plot_embedding_map`: 2-D points (e.g. projected embeddings) coloured by label.

Only matplotlib (and networkx for the subgraph) is used; nothing is shown or saved here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .errors import InvalidArgumentError, UnknownUserError

__all__ = [
    "draw_user_subgraph",
    "plot_embedding_map",
    "plot_history",
    "plot_long_tail",
    "plot_rating_histogram",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 3.5)) -> Axes:
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


def plot_rating_histogram(
    ratings: pd.DataFrame | Sequence[float] | np.ndarray,
    *,
    ax: Axes | None = None,
    title: str = "How often each rating is given",
) -> Axes:
    """Bar chart of how many times each rating value occurs.

    Args:
      ratings: a ratings DataFrame (its ``rating`` column is used) or the ratings ``[E]``.
      ax: axes to draw on; a new figure when None.
      title: axes title.

    Returns:
      The axes, with one bar per distinct rating value (half stars get their own bar).
    """
    values = ratings["rating"] if isinstance(ratings, pd.DataFrame) else ratings
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    levels, counts = np.unique(values, return_counts=True)
    ax = _axes(ax)
    width = 0.8 * (np.min(np.diff(levels)) if len(levels) > 1 else 1.0)
    ax.bar(levels, counts, width=width, color="tab:blue")
    ax.set_xticks(levels)
    ax.set_xlabel("rating")
    ax.set_ylabel("number of ratings")
    ax.set_title(title)
    return ax


def plot_long_tail(
    ratings: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str = "Ratings per user and per movie (long tail)",
) -> Axes:
    """Number of ratings of each user and of each movie, sorted from most to least, log y.

    A few users and movies have hundreds of ratings; most have few. That long tail is why
    predictions for rarely rated movies are hard.

    Args:
      ratings: DataFrame with columns ``user_id`` and ``movie_id`` (one row per rating).
      ax: axes to draw on; a new figure when None.
      title: axes title.

    Returns:
      The axes, with two lines ("per user", "per movie"): x = rank, y = count (log scale).
    """
    ax = _axes(ax)
    for column, label in (("user_id", "per user"), ("movie_id", "per movie")):
        counts = np.sort(ratings[column].value_counts().to_numpy())[::-1]
        ax.plot(np.arange(1, len(counts) + 1), counts, label=f"{label} ({len(counts)})")
    ax.set_yscale("log")
    ax.set_xlabel("rank (sorted by number of ratings)")
    ax.set_ylabel("number of ratings (log)")
    ax.set_title(title)
    ax.legend()
    return ax


def _neighbourhood(
    ratings: pd.DataFrame, user_id: int, max_movies: int, max_other_users: int, seed: int
) -> tuple[list[int], list[int], pd.DataFrame]:
    """The user's (sampled) movies, the other users who rated most of them, and those ratings."""
    mine = ratings[ratings["user_id"] == user_id]
    if mine.empty:
        raise UnknownUserError(f"User {user_id} has no rating in this table; pick another user id.")
    if len(mine) > max_movies:
        mine = mine.sample(n=max_movies, random_state=seed)
    movies = mine["movie_id"].tolist()
    shared = ratings[ratings["movie_id"].isin(movies) & (ratings["user_id"] != user_id)]
    others = shared["user_id"].value_counts().head(max_other_users).index.tolist()
    return movies, others, pd.concat([mine, shared[shared["user_id"].isin(others)]])


def _short_title(movie_id: int, titles: Mapping[int, str] | pd.Series | None) -> str:
    """A movie's title cut to 18 characters, or "movie <id>" without titles."""
    if titles is None or movie_id not in titles:
        return f"movie {movie_id}"
    name = str(titles[movie_id])
    return name if len(name) <= 18 else name[:17] + "…"


def _three_columns(columns: Sequence[list[str]]) -> dict[str, tuple[float, float]]:
    """Positions of nodes in columns at x = 0, 1, 2, ..., each column centred on y = 0."""
    pos: dict[str, tuple[float, float]] = {}
    for x, column in enumerate(columns):
        for i, node in enumerate(column):
            pos[node] = (float(x), (len(column) - 1) / 2 - i)
    return pos


def _draw_rating_graph(
    g, pos: dict, labels: dict, users: list[str], movies: list[str], scale: tuple, ax: Axes
) -> None:
    """Users as orange circles, movies as blue squares, edges coloured and labelled by rating."""
    import networkx as nx

    lo, hi = scale
    nx.draw_networkx_nodes(g, pos, nodelist=users, node_color="tab:orange", ax=ax)
    nx.draw_networkx_nodes(g, pos, nodelist=movies, node_color="tab:blue", node_shape="s", ax=ax)
    nx.draw_networkx_edges(
        g,
        pos,
        edge_color=[d["rating"] for _, _, d in g.edges(data=True)],
        edge_cmap=plt.cm.coolwarm,
        edge_vmin=lo,
        edge_vmax=hi,
        width=1.5,
        ax=ax,
    )
    nx.draw_networkx_labels(
        g,
        {n: (x, y + 0.28) for n, (x, y) in pos.items()},
        labels=labels,
        font_size=8,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        ax=ax,
    )
    nx.draw_networkx_edge_labels(
        g,
        pos,
        edge_labels={(a, b): f"{d['rating']:g}" for a, b, d in g.edges(data=True)},
        font_size=7,
        ax=ax,
    )


def draw_user_subgraph(
    ratings: pd.DataFrame,
    user_id: int,
    *,
    max_movies: int = 8,
    max_other_users: int = 4,
    titles: Mapping[int, str] | pd.Series | None = None,
    ax: Axes | None = None,
    seed: int = 0,
) -> Axes:
    """Draw the bipartite rating graph around one user.

    The user (left) is joined to up to ``max_movies`` of the movies they rated (middle), and
    those movies to up to ``max_other_users`` other users who rated the most of them (right).
    Edge label and colour (blue = low, red = high) give the rating. This is the 2-hop
    neighbourhood a 2-layer GNN sees when it predicts a rating of this user.

    Args:
      ratings: DataFrame with columns ``user_id``, ``movie_id``, ``rating``.
      user_id: raw id of the user in the centre.
      max_movies: how many of the user's movies to show (a seeded sample if they rated more).
      max_other_users: how many other users to show.
      titles: optional raw movie id -> title, used for the movie labels (cut to 18 chars).
      ax: axes to draw on; a new figure when None.
      seed: seed of the movie sample.

    Returns:
      The axes.

    Raises:
      UnknownUserError: if ``user_id`` has no rating in ``ratings``.
    """
    import networkx as nx  # imported here: only this helper needs it

    movies, others, edges = _neighbourhood(ratings, user_id, max_movies, max_other_users, seed)
    users = [f"u{user_id}", *(f"u{u}" for u in others)]
    movie_nodes = [f"m{m}" for m in movies]
    labels = {n: f"user {n[1:]}" for n in users}
    labels.update({f"m{m}": _short_title(m, titles) for m in movies})
    pos = _three_columns([users[:1], movie_nodes, users[1:]])
    g = nx.Graph()
    g.add_nodes_from(pos)
    for row in edges.itertuples(index=False):
        g.add_edge(f"u{row.user_id}", f"m{row.movie_id}", rating=float(row.rating))

    ax = _axes(ax, figsize=(9.0, 4.5))
    scale = (float(ratings["rating"].min()), float(ratings["rating"].max()))
    _draw_rating_graph(g, pos, labels, users, movie_nodes, scale, ax)
    ax.set_title(f"Ratings around user {user_id} (label = rating; red = high, blue = low)")
    ax.set_axis_off()
    return ax


# y-axis labels (with units) of the series that ``training.fit`` records.
HISTORY_LABELS = {
    "train_loss": "training loss",
    "val_rmse": "validation RMSE (stars)",
    "val_mae": "validation MAE (stars)",
}


def _series(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray:
    if key not in history:
        keys = ", ".join(repr(k) for k in history if k != "epoch") or "none"
        raise InvalidArgumentError(f"history has no series {key!r}; its series are {keys}.")
    return np.asarray(history[key], dtype=np.float64)


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    loss: str = "train_loss",
    metric: str = "val_rmse",
    loss_label: str | None = None,
    axes: Sequence[Axes] | None = None,
    title: str = "Training history",
    label: str | None = None,
) -> tuple[Axes, Axes]:
    """Training curves on two labelled axes: training loss (left), validation metric (right).

    The two quantities have different units and scales, so each gets its own axes.

    Args:
      history: e.g. ``{"epoch": [1, 2, ...], "train_loss": [...], "val_rmse": [...]}``, as
        ``training.fit`` records it; series of length ``[T]``. Without ``"epoch"``, 1..T.
      loss: the key of the training loss.
      metric: the key of the validation metric (its label gives the unit, e.g. stars).
      loss_label: the loss axis label with its unit, e.g. ``"training MSE (stars²)"`` or
        ``"training L1 loss (stars)"``; default :data:`HISTORY_LABELS` or the key.
      axes: two axes to draw on (e.g. to overlay several runs); a new figure when None.
      title: figure title.
      label: legend entry of these curves, for overlaying runs (no legend when None).

    Returns:
      ``(loss_axes, metric_axes)``.
    """
    loss_values, metric_values = _series(history, loss), _series(history, metric)
    epochs = np.asarray(history.get("epoch", np.arange(1, len(loss_values) + 1)))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10.0, 3.5), layout="constrained")
    loss_ax, metric_ax = axes
    series = (
        (loss_ax, loss_values, loss_label or HISTORY_LABELS.get(loss, loss), "tab:blue"),
        (metric_ax, metric_values, HISTORY_LABELS.get(metric, metric), "tab:orange"),
    )
    for ax, values, y_label, colour in series:
        ax.plot(epochs[: len(values)], values, label=label, color=None if label else colour)
        ax.set_xlabel("epoch")
        ax.set_ylabel(y_label)
        name = y_label.split(" (")[0]  # the label without its unit
        ax.set_title(name[0].upper() + name[1:])
        if label is not None:
            ax.legend()
    loss_ax.figure.suptitle(title)
    return loss_ax, metric_ax


def plot_embedding_map(
    xy: np.ndarray,
    labels: Sequence[object] | np.ndarray | None = None,
    *,
    annotate: Mapping[int, str] | None = None,
    ax: Axes | None = None,
    title: str = "Embedding map",
    max_legend: int = 12,
) -> Axes:
    """Scatter plot of 2-D points, coloured by label (e.g. a movie's first genre).

    Args:
      xy: float ``[K, 2]``, e.g. movie embeddings projected with PCA.
      labels: ``[K]`` labels, one colour per distinct label; None for one colour.
      annotate: optional row index -> text to write next to a few points (e.g. titles).
      ax: axes to draw on; a new figure when None.
      title: axes title.
      max_legend: labels beyond the ``max_legend`` most frequent are grouped as "other".

    Returns:
      The axes.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InvalidArgumentError(f"xy must have shape [K, 2]; got {xy.shape}.")
    ax = _axes(ax, figsize=(6.5, 5.0))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.7)
    else:
        lab = pd.Series(np.asarray(labels, dtype=object).reshape(-1)).astype(str)
        if len(lab) != len(xy):
            raise InvalidArgumentError(
                f"labels has {len(lab)} entries but xy has {len(xy)} points."
            )
        keep = lab.value_counts().index[:max_legend]
        lab = lab.where(lab.isin(keep), "other")
        for name in [*keep, "other"]:
            mask = (lab == name).to_numpy()
            if mask.any():
                ax.scatter(xy[mask, 0], xy[mask, 1], s=8, alpha=0.7, label=name)
        ax.legend(fontsize=7, markerscale=2, loc="best")
    for i, text in (annotate or {}).items():
        ax.annotate(text, xy[i], fontsize=7)
    ax.set_title(title)
    return ax
