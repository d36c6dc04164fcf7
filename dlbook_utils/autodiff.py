"""Gradients with whichever backend Keras runs on: TensorFlow, JAX or PyTorch.

``model.fit`` computes its gradients itself. Code that needs gradients of its own (a custom training step, a GAN
with two optimizers, a measurement of every layer's gradient) used to write ``tf.GradientTape``, which ties it to
TensorFlow. This module gives the same thing for every backend::

    from dlbook_utils import autodiff

    def loss_fn():
        return loss(y, model(x, training=True))

    loss_value, grads = autodiff.value_and_grad(loss_fn, model.trainable_weights)
    autodiff.apply_gradients(optimizer, grads, model.trainable_weights)   # optimizer.apply(...), on any backend

* TensorFlow records ``loss_fn()`` on a ``tf.GradientTape`` and asks the tape for the gradients.
* JAX has no tape: it differentiates functions of arrays. ``value_and_grad`` turns ``loss_fn`` into one, a function
  of the variables' values (run inside a ``keras.StatelessScope`` that maps each variable to its value), hands it
  to ``jax.value_and_grad``, and afterwards writes back what ``loss_fn`` changed on the way (batch-normalisation
  statistics, random-number states).
* PyTorch records the operations on the variables' tensors; ``torch.autograd.grad`` gives the gradients. (The book
  is tested on TensorFlow and JAX; the PyTorch branch follows Keras's documented torch workflow but no test runs it.)

A custom ``train_step`` has one more difference on JAX: ``fit`` compiles it as a pure function that receives the
model's state (every variable's value) and returns the new state, ``train_step(state, data)``. Decorating a step
written in the usual style, ``train_step(self, data)``, with :func:`train_step` makes it run unchanged on JAX
too. JAX can only carry the state it is given, so optimizers the model holds besides ``model.optimizer`` (a GAN
has two) must keep their variables among the model's; :func:`train_step` says so when they do not. Inside such a
step, :func:`apply_gradients` updates the weights: ``optimizer.apply`` itself works there for plain optimizers,
but not for a ``LossScaleOptimizer`` (mixed precision), whose ``apply`` branches on whether the gradients are
finite in a way that a JAX trace cannot carry out; ``apply_gradients`` uses the optimizer's stateless update.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["value_and_grad", "apply_gradients", "train_step", "backend"]


def backend() -> str:
    """The name of the backend Keras runs on: "tensorflow", "jax", "torch", …"""
    import keras

    return keras.backend.backend()


def value_and_grad(fn: Callable[[], Any], variables: Sequence, *, has_aux: bool = False):
    """Call ``fn()`` and return its value and the gradients of that value with respect to ``variables``.

    ``fn`` takes no arguments and returns a scalar (a loss), or with ``has_aux`` a pair ``(scalar, aux)`` where
    ``aux`` is anything else to bring out of the computation (logits, an unscaled loss). ``variables`` are
    trainable Keras variables, such as ``model.trainable_weights``. Returns ``(value, grads)``, or
    ``((value, aux), grads)`` with ``has_aux`` (the convention of ``jax.value_and_grad``); ``grads`` is a list in
    the order of ``variables``, holding zeros for a variable that ``fn`` does not use.

    Variables that ``fn`` updates as it runs (batch-normalisation statistics, random-number states) are updated
    as they would be by a plain call of ``fn()``, on every backend. Build models before differentiating through
    them: on JAX, ``fn`` runs as a traced function of the variables' values and must not create variables.
    """
    variables = list(variables)
    if not variables:
        raise ValueError("value_and_grad needs at least one variable to differentiate with respect to")
    for v in variables:
        if not getattr(v, "trainable", False) or not hasattr(v, "assign"):
            raise ValueError(f"value_and_grad differentiates with respect to trainable Keras variables, not {v!r}")
    name = backend()
    if name == "tensorflow":
        return _tensorflow(fn, variables, has_aux)
    if name == "jax":
        return _jax(fn, variables, has_aux)
    if name == "torch":
        return _torch(fn, variables, has_aux)
    raise NotImplementedError(f"value_and_grad: the {name} backend computes no gradients")


def _split(out, has_aux: bool):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError("with has_aux=True, fn must return a pair (value, aux)")
    return out[0], out[1]


def _result(value, aux, grads, has_aux: bool):
    return ((value, aux), grads) if has_aux else (value, grads)


def _zeros_for_missing(grads, variables):
    import keras

    return [keras.ops.zeros(v.shape, dtype=v.dtype) if g is None else g for g, v in zip(grads, variables)]


def _tensorflow(fn, variables, has_aux):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value, aux = _split(fn(), has_aux)
    grads = tape.gradient(value, variables)
    return _result(value, aux, _zeros_for_missing(grads, variables), has_aux)


def _torch(fn, variables, has_aux):
    import torch

    value, aux = _split(fn(), has_aux)
    grads = torch.autograd.grad(value, [v.value for v in variables], allow_unused=True)
    return _result(value, aux, _zeros_for_missing(grads, variables), has_aux)


def _current_scope():
    # Keras keeps the active StatelessScope (for example the one train_step opens) in its global state; only the
    # class is public, so the lookup goes through Keras's own helper.
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    return get_stateless_scope()


def _scope_class():
    import keras

    class _RecordingScope(keras.StatelessScope):
        """A StatelessScope that starts from another scope's values and remembers which variables were assigned."""

        def __init__(self, inherited: dict, mapping):
            super().__init__(state_mapping=mapping)
            for key, value in inherited.items():
                self.state_mapping.setdefault(key, value)
            self.assigned: dict[int, Any] = {}

        def add_update(self, update):
            super().add_update(update)
            self.assigned[id(update[0])] = update[0]

    return _RecordingScope


def _jax(fn, variables, has_aux):
    import jax

    outer = _current_scope()
    inherited = dict(outer.state_mapping) if outer is not None else {}
    values = [v.value for v in variables]          # inside a scope, its value for each variable
    differentiated = {id(v) for v in variables}
    scope_class = _scope_class()
    assigned: list = []

    def pure(vals):
        with scope_class(inherited, list(zip(variables, vals))) as scope:
            value, aux = _split(fn(), has_aux)
        assigned[:] = [v for key, v in scope.assigned.items() if key not in differentiated]
        return value, (aux, [scope.state_mapping[id(v)] for v in assigned])

    (value, (aux, new_values)), grads = jax.value_and_grad(pure, has_aux=True)(values)
    for variable, new_value in zip(assigned, new_values):
        variable.assign(new_value)                 # into the enclosing scope if there is one, else for real
    return _result(value, aux, list(grads), has_aux)


def apply_gradients(optimizer, grads: Sequence, variables: Sequence) -> None:
    """``optimizer.apply(grads, variables)``, also inside a training step on JAX.

    ``variables`` are the variables the optimizer was built with, in the same order (for example
    ``model.trainable_weights``), ``grads`` one gradient for each. On TensorFlow, PyTorch and eager JAX this is
    ``optimizer.apply``. Inside a JAX training step (a ``keras.StatelessScope``, see :func:`train_step`) it runs
    the optimizer's ``stateless_apply`` on the current values and assigns the results, which works for every
    optimizer, a ``LossScaleOptimizer`` included.
    """
    grads, variables = list(grads), list(variables)
    if len(grads) != len(variables):
        raise ValueError(f"{len(grads)} gradients for {len(variables)} variables")
    if backend() == "jax" and _current_scope() is not None:
        if not optimizer.built:
            raise ValueError("build the optimizer before the training step: optimizer.build(variables)")
        state = list(optimizer.variables)
        new_values, new_state = optimizer.stateless_apply([v.value for v in state], grads,
                                                          [v.value for v in variables])
        for v, value in zip(variables, new_values):
            v.assign(value)
        for v, value in zip(state, new_state):
            v.assign(value)
        return
    optimizer.apply(grads, variables)


def train_step(step: Callable) -> Callable:
    """Decorate a ``train_step(self, data)`` written in the usual, stateful style so that it also runs on JAX.

    On TensorFlow and PyTorch the step is called as it is. On JAX, ``fit`` calls ``train_step(state, data)`` with
    the values of the model's trainable, non-trainable, optimizer and metric variables, and expects
    ``(logs, new_state)`` back; the decorated step then runs inside a ``keras.StatelessScope`` that maps every
    variable to its value in ``state``, so that reading a variable gives its value and assigning one records the
    new value, and the new state is read from the scope at the end.

    Use :func:`value_and_grad` for the gradients inside the step and :func:`apply_gradients` to apply them. Optimizers other than ``model.optimizer`` must
    be built and keep their variables among the model's, for example ``self.optimizer_state =
    d_optimizer.variables + g_optimizer.variables`` in ``compile``; otherwise a clear error says so.
    """

    @functools.wraps(step)
    def wrapped(self, *args):
        if backend() != "jax":
            return step(self, *args)
        if len(args) != 2:
            raise TypeError("on JAX, fit calls train_step(state, data)")
        state, data = args
        groups = [self.trainable_variables, self.non_trainable_variables,
                  self.optimizer.variables if self.optimizer is not None else [], self.metrics_variables]
        if len(state) != len(groups) or any(len(s) != len(g) for s, g in zip(state, groups)):
            raise ValueError("the state fit passed does not match the model's variables")
        _check_optimizers_are_in_the_state(self, groups)
        import keras

        mapping = [(v, value) for group, values in zip(groups, state) for v, value in zip(group, values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = step(self, data)
        new_state = tuple([scope.get_current_value(v) for v in group] for group in groups)
        return logs, new_state

    return wrapped


def _check_optimizers_are_in_the_state(model, groups) -> None:
    import keras

    known = {id(v) for group in groups for v in group}
    for name, value in vars(model).items():
        if isinstance(value, keras.optimizers.Optimizer) and value is not model.optimizer:
            if not value.built or any(id(v) not in known for v in value.variables):
                raise ValueError(
                    f"{type(model).__name__}.{name} is an optimizer whose variables are not part of the model's "
                    "state, which is all that JAX passes to a training step. Build it and keep its variables "
                    f"among the model's, for example in compile(): {name}.build(<its variables>) and "
                    f"self.optimizer_state = {name}.variables (+ the other optimizers' variables)."
                )
