"""Automatic checks for the book's exercises.

A notebook checks a learner's answer with::

    from dlbook_utils import check
    check.exercise("03.2", my_backward)

The checker for each exercise lives in ``dlbook_utils/exercises/chNN.py``.  It tests the answer's
*behaviour* (outputs on fresh inputs, shapes, invariants) and explains what is wrong without
printing the expected answer.  A passing check prints one line; a failing one prints what is
wrong and raises :class:`ExerciseFailed`, so a notebook run stops at an answer that is not yet right.

Grading does not trust anything a notebook prints or writes: :mod:`dlbook_utils.grade` appends its own
cells that re-import the checkers and call :func:`run` for each exercise.

The checkers hold reference implementations, and the package is installed wherever the book runs. An answer
may therefore not *run* them: while the learner's function runs (:func:`isolated`), every Python function it
enters is watched, and an answer that enters the checkers' code (``dlbook_utils/exercises/``) or the package
function that the exercise asks the learner to write (``register(..., written_by_learner=...)``) fails with a
message that says so, as does an answer that switches the watching off.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"


class Feedback(Exception):
    """Raised inside a checker with a message for the learner."""


class ExerciseFailed(AssertionError):
    """Raised by :func:`exercise` when an answer does not pass its check."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    checker: Callable[..., None]
    written_by_learner: tuple[str, ...] = ()     # package functions that solve it: "module:function"


_REGISTRY: dict[str, Exercise] = {}


def register(exercise_id: str, title: str, *, written_by_learner: tuple[str, ...] = ()
             ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator that registers a checker function for ``exercise_id`` (``"NN.k"``).

    ``written_by_learner`` names package functions (``"dlbook_utils.transfer:crossover"``) that do what the
    exercise asks: an answer that calls them fails, as one that calls the checkers' own code does.
    """
    _validate_id(exercise_id)

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        if exercise_id in _REGISTRY and _REGISTRY[exercise_id].checker is not fn:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        _REGISTRY[exercise_id] = Exercise(exercise_id, title, fn, tuple(written_by_learner))
        return fn

    return wrap


def _validate_id(exercise_id: str) -> None:
    chapter, _, number = str(exercise_id).partition(".")
    if not (len(chapter) == 2 and chapter.isdigit() and number.isdigit()):
        raise ValueError(f"exercise ids look like '03.2' (chapter.number), not {exercise_id!r}")


def get(exercise_id: str) -> Exercise:
    """The registered exercise; loads its chapter's checkers on first use."""
    _validate_id(exercise_id)
    if exercise_id not in _REGISTRY:
        try:
            importlib.import_module(f"dlbook_utils.exercises.ch{exercise_id[:2]}")
        except ModuleNotFoundError:
            pass
    if exercise_id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none loaded"
        raise KeyError(f"no check is registered for exercise {exercise_id!r} (known: {known})")
    return _REGISTRY[exercise_id]


_CHECKERS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exercises") + os.sep
_SWITCHES = {"setprofile", "settrace", "setprofile_all_threads", "settrace_all_threads"}


class _Watcher:
    """A profile function (``sys.setprofile``) that notes every Python function entered that belongs to the
    checkers, or to the package functions an exercise asks the learner to write, and any attempt to switch
    profiling off. The learner's function runs under it, on its own thread."""

    def __init__(self, forbidden: tuple[str, ...]) -> None:
        self.codes: dict[Any, str] = {}
        for spec in forbidden:
            module, _, name = spec.partition(":")
            target = getattr(importlib.import_module(module), name)
            self.codes[target.__code__] = f"{module.rpartition('.')[2]}.{name}"
        self.entered: list[str] = []
        self.switched_off = False
        self.watching = False           # true only while the learner's function runs

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code in self.codes:
                self.entered.append(f"dlbook_utils' own {self.codes[code]}")
            elif code.co_filename.startswith(_CHECKERS_DIR):
                module = os.path.splitext(os.path.basename(code.co_filename))[0]
                self.entered.append(f"{code.co_name} from the checkers (dlbook_utils.exercises.{module})")
        elif event == "c_call" and self.watching and getattr(arg, "__name__", "") in _SWITCHES:
            self.switched_off = True

    def verdict(self) -> None:
        if self.switched_off:
            raise Feedback("your answer switches off Python's profiling, which the check uses to see that the "
                           "answer does its own work; remove that line")
        if self.entered:
            raise Feedback(f"your answer calls {self.entered[0]}: that is the code the exercise asks you to "
                           f"write, so it does not count. Write it yourself")


def isolated(fn: Any, written_by_learner: tuple[str, ...] = ()) -> Any:
    """``fn`` wrapped so that each call runs on a thread of its own, watched, or ``fn`` itself if it is not a
    function.

    A checker computes reference values and then calls the learner's function. Called directly, that function
    could walk up the stack (``sys._getframe(1).f_locals``) and return the checker's reference instead of
    computing anything. On a fresh thread the call's stack holds only the thread's own frames. While it runs,
    a :class:`_Watcher` notes any call into the checkers' code or into ``written_by_learner``; the call then
    raises :class:`Feedback`. Classes and other callables are passed through unchanged, since checkers use
    them as classes.
    """
    if not (inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn)):
        return fn

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        box: dict[str, Any] = {}
        watcher = _Watcher(written_by_learner)

        def target() -> None:                         # runs under the watcher: threading.setprofile below
            watcher.watching = True
            try:
                box["value"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed back to the checker's thread below
                box["error"] = exc
            finally:
                watcher.watching = False
                sys.setprofile(None)

        previous = threading.getprofile()
        threading.setprofile(watcher)                 # the answer's thread, and any thread it starts
        try:
            worker = threading.Thread(target=target, name="dlbook-answer", daemon=True)
            worker.start()
            worker.join()
        finally:
            threading.setprofile(previous)
        watcher.verdict()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return call


def run(exercise_id: str, answer: Any, **context: Any) -> tuple[str, str]:
    """Run a check without printing or raising: returns ``(status, message)``.

    The learner's function runs :func:`isolated` from the checker's stack."""
    ex = get(exercise_id)
    if answer is None or answer is Ellipsis:
        return NOT_ATTEMPTED, "not attempted yet: the answer is still empty"
    try:
        ex.checker(isolated(answer, ex.written_by_learner), **context)
    except NotImplementedError:
        return NOT_ATTEMPTED, "not attempted yet: replace the NotImplementedError line with your answer"
    except Feedback as fb:
        return FAILED, str(fb)
    except Exception as exc:  # the learner's code crashed while being checked
        return FAILED, f"your answer raised {type(exc).__name__}: {exc}"
    return PASSED, "passed"


def exercise(exercise_id: str, answer: Any, **context: Any) -> None:
    """Check ``answer`` for exercise ``exercise_id``; print the result; raise if it is not right.

    Returns nothing, so a check cell shows only the printed verdict.
    """
    ex = get(exercise_id)
    status, message = run(exercise_id, answer, **context)
    if status == PASSED:
        print(f"✅ Exercise {exercise_id} ({ex.title}): passed.")
        return None
    marker = "⏳" if status == NOT_ATTEMPTED else "❌"
    text = f"{marker} Exercise {exercise_id} ({ex.title}): {message}"
    print(text)
    raise ExerciseFailed(text)


# ---------------------------------------------------------------------------------------------
# Building blocks for checkers: each raises Feedback with a message that reveals no answer.
# ---------------------------------------------------------------------------------------------


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Feedback(message)


def expect_callable(answer: Any, what: str = "your answer") -> None:
    if answer is None or answer is Ellipsis:
        raise NotImplementedError
    if not callable(answer):
        raise Feedback(f"{what} should be a function, but it is a {type(answer).__name__}")


def expect_number(value: Any, what: str, *, whole: bool = False, whole_hint: str = "") -> Any:
    """One finite number out of whatever a learner's function returned (Python, NumPy or a 1-element tensor).

    With ``whole``, the number must also be integral (``3.0`` is accepted) and an ``int`` is returned;
    ``whole_hint`` ends the message when it is not (for example "a number of pixels is a whole number").
    Raises :class:`Feedback` that names ``what`` and what is wrong with it.
    """
    kind = "whole number" if whole else "number"
    if value is None:
        raise Feedback(f"{what} returned None: did you forget the `return`?")
    if whole and isinstance(value, (tuple, list)):
        raise Feedback(f"{what} should be a single whole number, got a {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Feedback(f"{what} should be a {kind}, got {type(value).__name__}") from None
    if arr.size != 1:
        raise Feedback(f"{what} should be a single {kind}, got an array of shape {arr.shape}")
    number = float(arr.reshape(()))
    if whole:
        if not math.isfinite(number) or number != round(number):
            raise Feedback(f"{what} is {number:g}, but {whole_hint or 'the answer is a whole number'}")
        return int(round(number))
    if not math.isfinite(number):
        raise Feedback(f"{what} is {number}; it should be a finite number")
    return number


def as_array(value: Any, what: str) -> np.ndarray:
    if value is None or value is Ellipsis:
        raise NotImplementedError
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Feedback(f"{what} should be numbers (a NumPy array or tensor), got {type(value).__name__}") from None
    return arr


def expect_shape(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = as_array(value, what)
    if arr.shape != tuple(shape):
        raise Feedback(f"{what} has shape {arr.shape}, but it should have shape {tuple(shape)}")
    return arr


def expect_close(
    actual: Any, expected: Any, what: str, *, rtol: float = 1e-5, atol: float = 1e-8, hint: str = ""
) -> None:
    """Compare numerically; on failure say how far off and where, not what the right value is."""
    exp = np.asarray(expected, dtype=float)
    act = expect_shape(actual, exp.shape, what)
    if not np.all(np.isfinite(act)):
        raise Feedback(f"{what} contains NaN or infinite values" + (f" ({hint})" if hint else ""))
    bad = ~np.isclose(act, exp, rtol=rtol, atol=atol)
    if bad.any():
        worst = float(np.max(np.abs(act - exp) / (np.abs(exp) + atol + 1e-12)))
        where = f"{int(bad.sum())} of {bad.size} entries" if exp.ndim else "the value"
        raise Feedback(
            f"{what} is off: {where} differ from the reference (largest relative error {worst:.2g})"
            + (f". Hint: {hint}" if hint else "")
        )
