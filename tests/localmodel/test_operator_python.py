"""Which Python the operators run hooks with (``localmodel/operatorpython.py``)."""

import os
import sys

import pytest

from localmodel import operatorpython


def test_a_given_python_that_is_not_3_8_is_refused_naming_what_it_found():
    with pytest.raises(operatorpython.OperatorPythonError) as caught:
        operatorpython.choose({operatorpython.ENV: sys.executable})
    assert str(caught.value) == "%s=%s: not a Python 3.8 with sqlite3 and ssl (found %s)" % (
        operatorpython.ENV, sys.executable, ".".join(map(str, sys.version_info[:3])))
    with pytest.raises(operatorpython.OperatorPythonError, match=r"\(found none\)$"):
        operatorpython.choose({operatorpython.ENV: "/nonexistent/python3.8"})


def test_a_3_8_is_chosen_and_linked_under_the_names_hooks_use(tmp_path):
    python, version = operatorpython.choose({})
    assert version[:2] == (3, 8)  # this machine has pyenv's 3.8 (so has CI's)
    bin_dir = str(tmp_path / "bin")
    os.makedirs(bin_dir)
    open(os.path.join(bin_dir, "python3.11"), "w").close()  # left by an up with the fallback
    operatorpython.install(bin_dir, python, version)
    assert sorted(os.listdir(bin_dir)) == ["python3", "python3.8"]
    assert operatorpython.version_of(os.path.join(bin_dir, "python3")) == version
