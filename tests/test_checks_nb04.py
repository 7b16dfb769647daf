"""The self-checks of notebook 04 reject wrong answers, skip stubs and pass the reference."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from gnnrec_course.checks import nb04, nb04_branches
from gnnrec_course.models import GCNRecommender, gcn_propagate
from gnnrec_course.reference import rating_model as rm
from gnnrec_course.reference import training_steps as ref

# --- deliberately wrong implementations -------------------------------------------------


def mse_divide_by_all(pred, target, mask):
    return jnp.sum(mask * (pred - target) ** 2) / pred.shape[0]


def mse_ignores_mask(pred, target, mask):
    return jnp.mean((pred - target) ** 2)


def mse_is_l1(pred, target, mask):
    return jnp.sum(mask * jnp.abs(pred - target)) / jnp.sum(mask)


def mse_is_rmse(pred, target, mask):
    return jnp.sqrt(jnp.sum(mask * (pred - target) ** 2) / jnp.sum(mask))


def mse_no_division(pred, target, mask):
    return jnp.sum(mask * (pred - target) ** 2)


def mse_inverted_mask(pred, target, mask):
    keep = 1.0 - mask
    return jnp.sum(keep * (pred - target) ** 2) / jnp.sum(keep)


def mse_boolean_indexing(pred, target, mask):
    """Right values outside jit, but boolean indexing fails inside it."""
    return jnp.mean((pred[mask] - target[mask]) ** 2)


def mse_nan_on_empty(pred, target, mask):
    return jnp.sum(mask * (pred - target) ** 2) / jnp.sum(mask)


def mse_per_pair(pred, target, mask):
    return mask * (pred - target) ** 2


def mse_no_return(pred, target, mask):
    jnp.sum(mask * (pred - target) ** 2)


def _loss_fn(state, graph, users, movies, ratings, kind="mse"):
    def loss_fn(params):
        pred = state.apply_fn({"params": params}, graph, users, movies)
        if kind == "l1":
            return jnp.mean(jnp.abs(pred - ratings))
        return jnp.mean((pred - ratings) ** 2)

    return loss_fn


def step_l1(state, graph, users, movies, ratings):
    loss, grads = jax.value_and_grad(_loss_fn(state, graph, users, movies, ratings, "l1"))(
        state.params
    )
    return state.apply_gradients(grads=grads), loss


def step_forgets_update(state, graph, users, movies, ratings):
    loss = _loss_fn(state, graph, users, movies, ratings)(state.params)
    return state, loss


def step_loss_after_update(state, graph, users, movies, ratings):
    loss_fn = _loss_fn(state, graph, users, movies, ratings)
    grads = jax.grad(loss_fn)(state.params)
    new_state = state.apply_gradients(grads=grads)
    return new_state, loss_fn(new_state.params)


def step_ascent(state, graph, users, movies, ratings):
    loss, grads = jax.value_and_grad(_loss_fn(state, graph, users, movies, ratings))(state.params)
    grads = jax.tree_util.tree_map(lambda g: -g, grads)
    return state.apply_gradients(grads=grads), loss


def step_manual_sgd(state, graph, users, movies, ratings):
    """Moves the params by hand: the optimiser state and step counter stay behind."""
    loss, grads = jax.value_and_grad(_loss_fn(state, graph, users, movies, ratings))(state.params)
    params = jax.tree_util.tree_map(lambda p, g: p - 0.05 * g, state.params, grads)
    return state.replace(params=params), loss


def step_swapped(state, graph, users, movies, ratings):
    new_state, loss = ref.train_step(state, graph, users, movies, ratings)
    return loss, new_state


def step_float_loss(state, graph, users, movies, ratings):
    new_state, loss = ref.train_step(state, graph, users, movies, ratings)
    return new_state, float(loss)


def step_rmse(state, graph, users, movies, ratings):
    new_state, loss = ref.train_step(state, graph, users, movies, ratings)
    return new_state, jnp.sqrt(loss)


def step_unwrapped_params(state, graph, users, movies, ratings):
    def loss_fn(params):
        return jnp.mean((state.apply_fn(params, graph, users, movies) - ratings) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


def step_no_return(state, graph, users, movies, ratings):
    ref.train_step(state, graph, users, movies, ratings)


# --- Exercise 4.3: branch A written wrongly ---------------------------------------------


def _embed(module, graph):
    return module.embed(jnp.asarray(graph.nodes)[:, 0])


class LastLayerOnly(rm.LightGCNBranch):
    def encode(self, graph):
        x = _embed(self, graph)
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)
        return x


class SumOfLayers(rm.LightGCNBranch):
    def encode(self, graph):
        x = total = _embed(self, graph)
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)
            total = total + x
        return total


class MeanOverK(rm.LightGCNBranch):
    def encode(self, graph):
        x = total = _embed(self, graph)
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)
            total = total + x
        return total / self.num_layers


class MeanWithoutE0(rm.LightGCNBranch):
    def encode(self, graph):
        x, layers = _embed(self, graph), []
        for _ in range(self.num_layers):
            x = gcn_propagate(graph, x)
            layers.append(x)
        return jnp.mean(jnp.stack(layers), axis=0)


def _propagate_no_loops(graph, x):
    conv = jraph.GraphConvolution(
        update_node_fn=lambda h: h, add_self_edges=False, symmetric_normalization=True
    )
    return conv(graph._replace(nodes=x)).nodes


def _with_self_loops(graph):
    n = graph.nodes.shape[0]
    loops = jnp.arange(n, dtype=jnp.int32)
    return graph._replace(
        senders=jnp.concatenate([jnp.asarray(graph.senders), loops]),
        receivers=jnp.concatenate([jnp.asarray(graph.receivers), loops]),
        edges=None,
    )


class NoSelfLoops(rm.LightGCNBranch):
    def encode(self, graph):
        x = _embed(self, graph)
        layers = [x]
        for _ in range(self.num_layers):
            x = _propagate_no_loops(graph, x)
            layers.append(x)
        return jnp.mean(jnp.stack(layers), axis=0)


class SelfLoopsTwice(rm.LightGCNBranch):
    def encode(self, graph):
        return super().encode(_with_self_loops(graph))


class OnePropagationTooMany(rm.LightGCNBranch):
    def encode(self, graph):
        x = _embed(self, graph)
        layers = [x]
        for _ in range(self.num_layers + 1):
            x = gcn_propagate(graph, x)
            layers.append(x)
        return jnp.mean(jnp.stack(layers), axis=0)


class NoBiases(rm.LightGCNBranch):
    def __call__(self, graph, users, movies):
        z = self.encode(graph)
        self.bias(users)  # declared (the parameters match) but not added
        return self.mu + jnp.sum(z[users] * z[movies], axis=-1)


class NoGlobalBias(rm.LightGCNBranch):
    def __call__(self, graph, users, movies):
        return super().__call__(graph, users, movies) - self.mu


class ClippedScores(rm.LightGCNBranch):
    def __call__(self, graph, users, movies):
        return jnp.clip(super().__call__(graph, users, movies), 1.0, 5.0)


class KeepDimsBiases(rm.LightGCNBranch):
    def __call__(self, graph, users, movies):
        z = self.encode(graph)
        dots = jnp.sum(z[users] * z[movies], axis=-1, keepdims=True)
        return self.mu + self.bias(users) + self.bias(movies) + dots  # [B, 1]


class WrongParamNames(nn.Module):
    num_nodes: int
    embed_dim: int = 32
    num_layers: int = 3
    rating_mean: float = 3.5

    @nn.compact
    def __call__(self, graph, users, movies):
        z = nn.Embed(self.num_nodes, self.embed_dim)(jnp.asarray(graph.nodes)[:, 0])
        return jnp.sum(z[users] * z[movies], axis=-1)


# --- Exercise 4.4: branch B written wrongly ---------------------------------------------


def _codes(module, graph, weight=True, reduce="sum", table=None, sigmoid=True, bias=True):
    senders, receivers = jnp.asarray(graph.senders), jnp.asarray(graph.receivers)
    ratings = jnp.asarray(graph.edges, jnp.float32).reshape(-1)
    rated = senders < module.num_users
    table = module.user_in if table is None else table
    values = table[senders] * (ratings[:, None] if weight else 1.0)
    messages = jnp.where(rated[:, None], values, 0.0)
    rows = jnp.where(rated, receivers - module.num_users, 0)
    summed = jax.ops.segment_sum(messages, rows, num_segments=module.num_movies)
    if reduce == "mean":
        count = jax.ops.segment_sum(rated.astype(jnp.float32), rows, module.num_movies)
        summed = summed / jnp.maximum(count, 1.0)[:, None]
    out = summed + (module.hidden_bias if bias else 0.0)
    return nn.sigmoid(out) if sigmoid else out


class UnweightedMessages(rm.RatingBranch):
    def movie_codes(self, graph):
        return _codes(self, graph, weight=False)


class MeanMessages(rm.RatingBranch):
    def movie_codes(self, graph):
        return _codes(self, graph, reduce="mean")


class NoSigmoid(rm.RatingBranch):
    def movie_codes(self, graph):
        return _codes(self, graph, sigmoid=False)


class NoHiddenBias(rm.RatingBranch):
    def movie_codes(self, graph):
        self.hidden_bias  # noqa: B018 - declared in setup, left out of the code
        return _codes(self, graph, bias=False)


class NoUserOffset(rm.RatingBranch):
    def __call__(self, graph, users, movies):
        return super().__call__(graph, users, movies) - self.user_out_bias[users]


class OutputReadsUserIn(rm.RatingBranch):
    def __call__(self, graph, users, movies):
        codes = self.movie_codes(graph)[movies - self.num_users]
        return self.user_out_bias[users] + jnp.sum(self.user_in[users] * codes, axis=-1)


class MessagesReadUserOut(rm.RatingBranch):
    def movie_codes(self, graph):
        return _codes(self, graph, table=self.user_out)


class MoviesNotShifted(rm.RatingBranch):
    def __call__(self, graph, users, movies):
        codes = self.movie_codes(graph)[movies]  # node ids, not rows of H
        return self.user_out_bias[users] + jnp.sum(self.user_out[users] * codes, axis=-1)


CHECKS = [
    ("4.1", nb04.check_masked_mse, ref.masked_mse),
    ("4.2", nb04.check_train_step, ref.train_step),
    ("4.3", nb04_branches.check_lightgcn_branch, rm.LightGCNBranch),
    ("4.4", nb04_branches.check_rating_branch, rm.RatingBranch),
]

WRONG = [
    ("4.1", nb04.check_masked_mse, mse_divide_by_all, "number of masked pairs"),
    ("4.1", nb04.check_masked_mse, mse_ignores_mask, "mask is ignored"),
    ("4.1", nb04.check_masked_mse, mse_is_l1, "L1"),
    ("4.1", nb04.check_masked_mse, mse_is_rmse, "RMSE"),
    ("4.1", nb04.check_masked_mse, mse_no_division, "divide it by mask.sum()"),
    ("4.1", nb04.check_masked_mse, mse_inverted_mask, "outside"),
    ("4.1", nb04.check_masked_mse, mse_boolean_indexing, "inside jax.jit"),
    ("4.1", nb04.check_masked_mse, mse_nan_on_empty, "empty mask"),
    ("4.1", nb04.check_masked_mse, mse_per_pair, "shape"),
    ("4.1", nb04.check_masked_mse, mse_no_return, "return"),
    ("4.2", nb04.check_train_step, step_l1, "L1"),
    ("4.2", nb04.check_train_step, step_forgets_update, "did not change"),
    ("4.2", nb04.check_train_step, step_loss_after_update, "after"),
    ("4.2", nb04.check_train_step, step_ascent, "up"),
    ("4.2", nb04.check_train_step, step_manual_sgd, "apply_gradients"),
    ("4.2", nb04.check_train_step, step_swapped, "wrong way round"),
    ("4.2", nb04.check_train_step, step_float_loss, "inside jax.jit"),
    ("4.2", nb04.check_train_step, step_rmse, "RMSE"),
    ("4.2", nb04.check_train_step, step_no_return, "None"),
    ("4.2", nb04.check_train_step, step_unwrapped_params, "{'params': params}"),
    ("4.3", nb04_branches.check_lightgcn_branch, LastLayerOnly, "no layer mean"),
    ("4.3", nb04_branches.check_lightgcn_branch, SumOfLayers, "summed the layers"),
    ("4.3", nb04_branches.check_lightgcn_branch, MeanOverK, "divided the sum of the K + 1 layers"),
    ("4.3", nb04_branches.check_lightgcn_branch, MeanWithoutE0, "leaves out E_0"),
    ("4.3", nb04_branches.check_lightgcn_branch, NoSelfLoops, "self-loops are missing"),
    ("4.3", nb04_branches.check_lightgcn_branch, SelfLoopsTwice, "counted twice"),
    ("4.3", nb04_branches.check_lightgcn_branch, OnePropagationTooMany, "one propagation too many"),
    ("4.3", nb04_branches.check_lightgcn_branch, NoBiases, "b_u + b_m are missing"),
    ("4.3", nb04_branches.check_lightgcn_branch, NoGlobalBias, "mu is missing"),
    ("4.3", nb04_branches.check_lightgcn_branch, ClippedScores, "clipped"),
    ("4.3", nb04_branches.check_lightgcn_branch, KeepDimsBiases, "shape (20,)"),
    ("4.3", nb04_branches.check_lightgcn_branch, WrongParamNames, "exactly"),
    ("4.4", nb04_branches.check_rating_branch, UnweightedMessages, "ratings are not used"),
    ("4.4", nb04_branches.check_rating_branch, MeanMessages, "averaged the messages"),
    ("4.4", nb04_branches.check_rating_branch, NoSigmoid, "sigmoid is missing"),
    ("4.4", nb04_branches.check_rating_branch, NoHiddenBias, "hidden bias h is missing"),
    ("4.4", nb04_branches.check_rating_branch, NoUserOffset, "c_u (user_out_bias) is missing"),
    ("4.4", nb04_branches.check_rating_branch, OutputReadsUserIn, "output uses user_in"),
    ("4.4", nb04_branches.check_rating_branch, MessagesReadUserOut, "messages use user_out"),
    ("4.4", nb04_branches.check_rating_branch, MoviesNotShifted, "indexed by node id"),
]


def test_masked_losses_do_not_depend_on_mask_sparsity():
    pred = jnp.full(100, 4.0)
    target = jnp.full(100, 3.0)
    for k in (1, 10, 100):
        mask = jnp.arange(100) < k
        assert float(ref.masked_mse(pred, target, mask)) == pytest.approx(1.0)
        assert float(ref.masked_l1(pred, target, mask)) == pytest.approx(1.0)
    assert float(ref.masked_mse(pred, target, jnp.zeros(100, bool))) == 0.0


def test_reference_train_step_lowers_the_loss():
    state, graph, users, movies, ratings = nb04._tiny_problem()
    step = jax.jit(ref.train_step)
    state, first = step(state, graph, users, movies, ratings)
    for _ in range(20):
        state, loss = step(state, graph, users, movies, ratings)
    assert float(loss) < float(first)
    assert int(state.step) == 21


def test_reference_branches_blend_to_the_package_model():
    """(1 - w) A + w B from the reference modules is GCNRecommender's unclipped prediction."""
    graph = nb04_branches._branch_graph()
    users, movies = nb04_branches._ALL_USERS, nb04_branches._ALL_MOVIES
    model = GCNRecommender(
        num_nodes=9, num_users=5, embed_dim=4, num_layers=3, rating_hidden=7, rating_weight=0.6
    )
    params = model.init(jax.random.key(3), graph, users, movies)["params"]
    params = jax.tree_util.tree_map(lambda x: x + 0.3 * jnp.sign(x + 0.1), params)
    branch_a = rm.LightGCNBranch(num_nodes=9, embed_dim=4, num_layers=3)
    branch_b = rm.RatingBranch(num_users=5, num_movies=4, hidden=7)
    a = branch_a.apply({"params": {k: params[k] for k in rm.LIGHTGCN_PARAMS}}, graph, users, movies)
    b = branch_b.apply({"params": {k: params[k] for k in rm.RATING_PARAMS}}, graph, users, movies)

    def unclipped(module, graph, users, movies):
        return module.decode(module.encode(graph), users, movies, clip=False)

    full = model.apply({"params": params}, graph, users, movies, method=unclipped)
    np.testing.assert_allclose(0.4 * a + 0.6 * b, full, atol=1e-5)
    assert float(np.std(np.asarray(b))) > 0.01  # the test would pass on constants otherwise


def test_a_movie_without_ratings_gets_the_code_of_its_bias_alone():
    branch = rm.RatingBranch(num_users=5, num_movies=4, hidden=6)
    graph = nb04_branches._branch_graph()
    users, movies = nb04_branches._ALL_USERS, nb04_branches._ALL_MOVIES
    params = branch.init(jax.random.key(0), graph, users, movies)["params"]
    params = {**params, "hidden_bias": jnp.linspace(-1.0, 1.0, 6)}
    codes = branch.apply({"params": params}, graph, method=branch.movie_codes)
    np.testing.assert_allclose(codes[3], jax.nn.sigmoid(params["hidden_bias"]), atol=1e-6)
