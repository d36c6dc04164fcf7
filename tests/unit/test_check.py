
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
