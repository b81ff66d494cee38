"""Every module outside tests/ stays short enough to read whole, and every function simple enough to follow.

At most MODULE_MAX_LINES lines a module, and a cyclomatic complexity of at most FUNCTION_MAX_COMPLEXITY a function
(radon's measure: one, plus one for each branch, loop, boolean operator, except and comprehension condition; a
closure is measured on its own). When a change crosses a line, split the module along its seams or the function
into named steps (docs/development.md lists the modules and what each holds) rather than raising the limit.
"""

from __future__ import annotations

from pathlib import Path

from radon.complexity import add_inner_blocks, cc_visit
from radon.visitors import Function

from tests.conftest import APP_ROOT
from tests.test_repository import repository_files

MODULE_MAX_LINES = 400
FUNCTION_MAX_COMPLEXITY = 15


def modules() -> list[Path]:
    """Every Python module the repository tracks outside tests/."""
    return sorted(
        path
        for path in repository_files()
        if path.suffix == ".py" and path.is_file() and path.relative_to(APP_ROOT).parts[0] != "tests"
    )


def functions(source: str) -> list[Function]:
    """Every function in the source, methods and closures included, with its complexity."""
    return [block for block in add_inner_blocks(cc_visit(source)) if isinstance(block, Function)]


def test_every_module_outside_tests_is_measured():
    found = {path.relative_to(APP_ROOT).as_posix() for path in modules()}
    assert {"shared/http.py", "GetJoinUrl/__init__.py", "devhost/emulator/__init__.py", "bench/run.py"} <= found
    assert not any(name.startswith("tests/") for name in found)


def test_no_module_outside_tests_is_over_the_line_limit():
    long = {}
    for path in modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MODULE_MAX_LINES:
            long[path.relative_to(APP_ROOT).as_posix()] = lines
    assert long == {}, f"over {MODULE_MAX_LINES} lines: split each along its seams"


def test_no_function_outside_tests_is_over_the_complexity_limit():
    tangled = {}
    for path in modules():
        for function in functions(path.read_text(encoding="utf-8")):
            if function.complexity > FUNCTION_MAX_COMPLEXITY:
                tangled[f"{path.relative_to(APP_ROOT).as_posix()}:{function.lineno} {function.fullname}"] = (
                    function.complexity
                )
    assert tangled == {}, f"over complexity {FUNCTION_MAX_COMPLEXITY}: refactor each into named steps"


def test_the_measure_sees_a_function_over_the_limit_in_a_method_or_a_closure():
    """The check above can fail: one branch past the limit is seen wherever the function sits."""
    branches = "".join(f"        if x == {i}:\n            return {i}\n" for i in range(FUNCTION_MAX_COMPLEXITY))
    tangled = f"    def tangled(x):\n{branches}        return -1\n"
    source = f"class Holder:\n{tangled}\n\ndef outer():\n{tangled}    return tangled\n"
    measured = {function.fullname: function.complexity for function in functions(source)}
    assert measured["Holder.tangled"] == FUNCTION_MAX_COMPLEXITY + 1
    assert measured["outer.tangled"] == FUNCTION_MAX_COMPLEXITY + 1
    assert measured["outer"] == 1  # a closure's branches are its own, not its parent's
