import pytest

from calc.arith import add, clamp, divide
from calc.geometry.shapes import area, describe


def test_add():
    assert add(2, 3) == 5


def test_divide_wrong():
    # Fails on purpose: the assertion message goes into <failure message>.
    assert divide(1, 4) == 0.3, "quarter is not 0.3 & <never> was"


@pytest.fixture
def broken_setup():
    raise RuntimeError("database unavailable")


def test_uses_broken_fixture(broken_setup):
    # Errors on purpose: the fixture raises during setup.
    assert broken_setup


@pytest.fixture
def broken_teardown():
    yield 1
    raise RuntimeError("cleanup failed")


def test_passes_but_teardown_errors(broken_teardown):
    # Passes, then the fixture raises during teardown.
    assert broken_teardown == 1


@pytest.mark.skip(reason="not on this platform")
def test_skipped():
    assert False


@pytest.mark.xfail(reason="known bug #12")
def test_expected_failure():
    assert clamp(5, 0, 3) == 5


@pytest.mark.parametrize("lo,hi,want", [(0, 10, 5), (6, 10, 6), (0, 3, 3)])
def test_clamp(lo, hi, want):
    assert clamp(5, lo, hi) == want


def test_area_square():
    assert area("square", 3) == 9


def test_describe():
    assert describe(1) == "small"
