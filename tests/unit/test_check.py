
import numpy as np
import pytest

from dlbook_utils import check
from dlbook_utils.check import ExerciseFailed, Feedback


@check.register("98.1", "double a vector")
def _check_double(answer):
    check.expect_callable(answer)
    x = np.array([1.5, -2.0, 7.0])
    check.expect_close(answer(x), 2 * x, "double(x)", hint="multiply every entry")


def test_right_answer_passes(capsys):
    assert check.exercise("98.1", lambda v: v * 2) is None
    assert "passed" in capsys.readouterr().out


def test_wrong_answer_fails_without_revealing_the_answer(capsys):
    with pytest.raises(ExerciseFailed) as err:
        check.exercise("98.1", lambda v: v * 3)
    msg = str(err.value)
    assert "double(x) is off" in msg and "multiply every entry" in msg
    for value in ("3.0", "-4.0", "14.0"):
        assert value not in msg
    assert "❌" in capsys.readouterr().out


def test_stub_and_empty_answers_are_not_attempted():
    def stub(v):
        raise NotImplementedError
    assert check.run("98.1", stub)[0] == check.NOT_ATTEMPTED
    assert check.run("98.1", None)[0] == check.NOT_ATTEMPTED
    assert check.run("98.1", ...)[0] == check.NOT_ATTEMPTED


def test_crashing_and_misshapen_answers_are_explained():
    status, msg = check.run("98.1", lambda v: v.nope)
    assert status == check.FAILED and "AttributeError" in msg
    status, msg = check.run("98.1", lambda v: v[:2] * 2)
    assert status == check.FAILED and "shape" in msg
    status, msg = check.run("98.1", 42)
    assert status == check.FAILED and "function" in msg
    status, msg = check.run("98.1", lambda v: v * np.nan)
    assert status == check.FAILED and "NaN" in msg


def test_unknown_and_malformed_ids():
    with pytest.raises(KeyError, match="no check"):
        check.exercise("98.9", 1)
    with pytest.raises(ValueError):
        check.exercise("3.2", 1)
    with pytest.raises(ValueError):
        check.register("1.1", "bad")


def test_expect_helpers():
    with pytest.raises(Feedback, match="shape"):
        check.expect_shape(np.zeros(3), (2,), "v")
    with pytest.raises(Feedback, match="numbers"):
        check.as_array(["a", object()], "v")
    with pytest.raises(Feedback, match="because"):
        check.expect(False, "because")
    check.expect_close(np.ones(3), np.ones(3), "v")


def test_expect_number_accepts_python_numpy_and_tensors_and_explains_the_rest():
    from dlbook_utils.check import Feedback, expect_number

    assert expect_number(np.float32(2.5), "f(1)") == 2.5
    assert expect_number(np.array([[3.0]]), "f(1)", whole=True) == 3 and isinstance(
        expect_number(3.0, "f(1)", whole=True), int)
    cases = [(None, {}, "did you forget the `return`"), ("a", {}, "should be a number"),
             (np.ones(3), {}, "array of shape (3,)"), (float("nan"), {}, "finite"),
             ([1, 2], {"whole": True}, "single whole number"),
             (2.5, {"whole": True, "whole_hint": "a count of pixels is whole"}, "a count of pixels is whole")]
    for value, kwargs, fragment in cases:
        with pytest.raises(Feedback) as err:
            expect_number(value, "f(1)", **kwargs)
        assert fragment in str(err.value) and "f(1)" in str(err.value)


def test_an_answer_cannot_read_the_checkers_reference_from_the_stack():
    """03.1's checker holds the reference gradients in its locals while it calls the answer. Called directly,
    an answer that walks up the stack returns them and passes; through check.run it runs on its own thread."""
    import sys

    def dense_tanh_backward(X, W, b, G):
        frame = sys._getframe(1)
        while frame is not None and "ref_dX" not in frame.f_locals:
            frame = frame.f_back
        if frame is None:
            raise LookupError("no reference within reach")
        return frame.f_locals["ref_dX"], frame.f_locals["ref_dW"], frame.f_locals["ref_db"]

    check.get("03.1").checker(dense_tanh_backward)          # the attack works on an unprotected call
    status, message = check.run("03.1", dense_tanh_backward)
    assert status == check.FAILED and "LookupError" in message


def test_isolated_keeps_results_errors_and_classes():
    assert check.isolated(lambda a, b=1: a + b)(2, b=3) == 5
    with pytest.raises(NotImplementedError):
        check.isolated(lambda: (_ for _ in ()).throw(NotImplementedError()))()

    class Answer:
        pass

    assert check.isolated(Answer) is Answer and check.isolated(3) == 3


# Answers that run the package's own references ----------------------------------------------------


def _reference_softmax():
    from dlbook_utils.exercises.ch02 import _softmax_reference
    return _softmax_reference


def test_an_imported_reference_fails_however_it_is_wrapped():
    """The checkers ship with the package, so an answer can import their references. Running one fails."""
    import types

    reference = _reference_softmax()
    assert check.get("02.2").checker(reference) is None          # unprotected, the reference itself passes

    def wrapper(z):
        return reference(z)

    rebuilt = types.FunctionType(reference.__code__, {"np": np}, "stable_softmax")   # its code, a new function

    def in_a_thread(z):
        import threading
        box = {}
        worker = threading.Thread(target=lambda: box.setdefault("v", reference(z)))
        worker.start()
        worker.join()
        return box["v"]

    for answer in (reference, wrapper, rebuilt, in_a_thread):
        status, message = check.run("02.2", answer)
        assert status == check.FAILED, answer
        assert "_softmax_reference from the checkers" in message and "Write it yourself" in message


def test_an_answer_that_switches_the_watching_off_fails():
    reference = _reference_softmax()

    def sneaky(z):
        import sys
        sys.setprofile(None)
        return reference(z)

    status, message = check.run("02.2", sneaky)
    assert status == check.FAILED and "profiling" in message


def test_the_package_function_an_exercise_asks_for_does_not_count():
    from dlbook_utils import transfer

    def crossover_point(labels, first, second):
        return transfer.crossover(labels, first, second)

    for answer in (transfer.crossover, crossover_point):
        status, message = check.run("08.4", answer)
        assert status == check.FAILED and "dlbook_utils' own transfer.crossover" in message
    assert check.get("08.4").written_by_learner == ("dlbook_utils.transfer:crossover",)


def test_an_answer_may_use_numpy_and_its_own_helpers():
    def helper(z):
        return z - z.max(axis=-1, keepdims=True)

    def stable_softmax(z):
        e = np.exp(helper(z))
        return e / e.sum(axis=-1, keepdims=True)

    assert check.run("02.2", stable_softmax) == (check.PASSED, "passed")
    import sys
    import threading
    assert sys.getprofile() is None and threading.getprofile() is None


def test_no_function_in_the_package_passes_any_exercise():
    """Every function and class defined in dlbook_utils' checkers and in the modules the chapters call is tried
    as the answer to every exercise that takes a function: none passes."""
    import importlib
    import inspect
    import pkgutil

    import dlbook_utils.exercises as exercises

    names = [f"dlbook_utils.exercises.{m.name}" for m in pkgutil.iter_modules(exercises.__path__)]
    names += [f"dlbook_utils.{m}" for m in ("transfer", "latent", "metrics", "generative", "augment", "autodiff",
                                            "tables", "blocks")]
    candidates = []
    for name in names:
        module = importlib.import_module(name)
        candidates += [obj for obj in vars(module).values()
                       if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == name]
    assert len(candidates) > 100
    exercise_ids = [e for e in sorted(check._REGISTRY) if e[:2] != "98" and e != "03.2"]   # 03.2 needs Value
    assert len(exercise_ids) >= 30
    passing = [(e, c.__qualname__) for e in exercise_ids for c in candidates if check.run(e, c)[0] == check.PASSED]
    assert passing == []
