"""Return values obey Snowflake's 10 kB limit on both targets; the IR cannot be mutated."""

import pytest

from dagc import ir
from dagc.runtime.returns import MAX_RETURN_BYTES, ReturnValueError, decode_return, encode_return


def test_json_values_round_trip():
    value = {"rows": 10, "metrics": {"auc": 0.9}, "tables": ["A", "B"]}
    assert decode_return(encode_return("t", value)) == value


def test_over_10kb_fails_with_the_size_and_what_to_do():
    with pytest.raises(ReturnValueError) as exc:
        encode_return("train", "x" * (MAX_RETURN_BYTES + 1))
    msg = str(exc.value)
    assert "'train'" in msg and "10,240" in msg and "table or stage" in msg


def test_exactly_at_the_limit_is_accepted():
    text = encode_return("t", "x" * (MAX_RETURN_BYTES - 2))  # two bytes of quotes
    assert len(text.encode()) == MAX_RETURN_BYTES


@pytest.mark.parametrize("bad", [object(), {1, 2}, float("nan")])
def test_non_json_values_fail_clearly(bad):
    with pytest.raises(ReturnValueError, match="not JSON"):
        encode_return("t", bad)


def test_sql_tasks_plain_string_return_values_decode_as_strings():
    assert decode_return("promote") == "promote"
    assert decode_return(None) is None


def test_ir_is_frozen_all_the_way_down():
    t = ir.Task(name="a", kind=ir.TaskKind.STEP, step="s", params=ir.freeze({"p": {"q": [1, 2]}}))
    with pytest.raises(TypeError):
        t.params["p"]["q"] = 3  # type: ignore[index]
    assert t.params["p"]["q"] == (1, 2)
    assert ir.thaw(t.params) == {"p": {"q": [1, 2]}}
    with pytest.raises(AttributeError):
        t.name = "b"  # type: ignore[misc]
