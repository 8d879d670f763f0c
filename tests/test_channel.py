"""The judge-worker channel carries plain data only, and refuses anything else either way."""
import io
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from autograder.selfcheck.channel import ChannelError, encode, receive


def roundtrip(value):
    buffer = io.BytesIO(encode(value))
    return receive(None, read=lambda _fd, n: buffer.read(n))


arrays = hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
values = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 60, 2 ** 60) | st.floats(allow_nan=False)
                      | st.text(max_size=5) | arrays,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                      max_leaves=8)


def same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


@settings(max_examples=100, derandomize=True, database=None)
@given(values)
def test_plain_data_survives_the_round_trip_exactly(value):
    assert same(value, roundtrip(value))


@pytest.mark.parametrize("bad", [object(), {1: 2}, np.array([object()]), {"__array__": 0}, (lambda: 0),
                                 np.array(["text"]), {"x": {1, 2}}])
def test_anything_else_cannot_be_sent(bad):
    with pytest.raises(ChannelError):
        encode(bad)


def test_subclasses_pretending_to_be_plain_values_are_refused():
    class Sneaky(float):
        def __eq__(self, other):
            return True
    with pytest.raises(ChannelError):
        encode(Sneaky(1.0))
    with pytest.raises(ChannelError):
        encode(np.array([1.0]).view(type("Arr", (np.ndarray,), {})))


def frame(header: bytes, payload=b""):
    return struct.pack(">Q", len(header)) + header + payload


@pytest.mark.parametrize("raw", [
    frame(b"not json"),
    frame(b'{"value": 1}'),                                                         # no sizes
    frame(b'{"value": {"__array__": 0, "dtype": "object", "shape": [1]}, "sizes": [8]}', b"\0" * 8),
    frame(b'{"value": {"__array__": 0, "dtype": "float64", "shape": [3]}, "sizes": [8]}', b"\0" * 8),
    frame(b'{"value": {"__array__": 5, "dtype": "float64", "shape": [1]}, "sizes": [8]}', b"\0" * 8),
    frame(b'{"value": 1, "sizes": [1e12]}'),
    struct.pack(">Q", 1 << 40),                                                      # absurd header
])
def test_malformed_messages_are_refused_not_trusted(raw):
    buffer = io.BytesIO(raw)
    with pytest.raises((ChannelError, EOFError)):
        receive(None, read=lambda _fd, n: _read(buffer, n))


def _read(buffer, n):
    data = buffer.read(n)
    if len(data) < n:
        raise EOFError
    return data


def test_a_buffer_referenced_twice_is_refused_before_it_is_copied():
    """No amplification: one buffer named by two arrays would be copied twice (40 times: 5 GB from 128 MB)."""
    item = {"__array__": 0, "dtype": "uint8", "shape": [8]}
    buffer = io.BytesIO(frame(json.dumps({"value": [item, item], "sizes": [8]}).encode(), b"\0" * 8))
    with pytest.raises(ChannelError, match="referenced twice"):
        receive(None, read=lambda _fd, n: _read(buffer, n))


def test_a_deep_header_is_refused_as_malformed_data_not_a_recursion_error():
    for depth in (33 + 2, 100_000):
        raw = frame(b"[" * depth + b"]" * depth)
        buffer = io.BytesIO(raw)
        with pytest.raises(ChannelError, match="nested deeper"):
            receive(None, read=lambda _fd, n: _read(buffer, n))
    ok = {"value": [[[[1]]]], "sizes": []}   # legitimate nesting still passes
    buffer = io.BytesIO(frame(json.dumps(ok).encode()))
    assert receive(None, read=lambda _fd, n: _read(buffer, n)) == [[[[1]]]]
