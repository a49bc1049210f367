"""Nested config must survive the trip through Snowflake's flat, primitives-only graph config."""

import pytest

from dagc.configcodec import SIDECAR, ConfigEncodingError, decode_config, encode_config


def test_nested_config_round_trips_and_is_flat_primitives():
    config = {
        "model_name": "m",
        "gate": {"metric": "test_roc_auc", "threshold": 0.75, "higher_is_better": True},
        "features": ["income", "amount"],
        "empty": {},
        "nothing": None,
        "deep": {"x": {"y": [1, {"z": 2}]}},
    }
    flat = encode_config(config)
    assert all(isinstance(v, (str, int, float, bool)) for v in flat.values())
    assert flat["gate.threshold"] == 0.75 and flat["gate.metric"] == "test_roc_auc"
    assert set(flat[SIDECAR].split(",")) == {"features", "empty", "nothing", "deep.x.y"}
    assert decode_config(flat) == config


def test_strings_that_look_like_json_stay_strings():
    config = {"a": "[1, 2]", "b": "null", "c": "{}"}
    assert decode_config(encode_config(config)) == config


def test_keys_with_dots_are_refused_with_their_path():
    with pytest.raises(ConfigEncodingError) as exc:
        encode_config({"gate": {"min.value": 1}})
    assert exc.value.path == ("gate", "min.value")
    assert "letters, digits and underscores" in str(exc.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(bad):
    with pytest.raises(ConfigEncodingError):
        encode_config({"x": bad})


def test_encoding_is_deterministic_in_key_order():
    a = encode_config({"b": 1, "a": {"d": 2, "c": 3}})
    b = encode_config({"a": {"c": 3, "d": 2}, "b": 1})
    assert list(a) == list(b) == sorted(a)
