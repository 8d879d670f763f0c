"""The data-only channel between the judge and the worker: JSON plus raw array bytes, never pickle.

A message is a length-prefixed JSON header followed by the bytes of its arrays. Values may be None,
bools, ints, floats (NaN and inf allowed), strings, lists, string-keyed dicts and numpy arrays of
the dtypes in DTYPES. Anything else cannot be sent; anything malformed cannot be received.

The receiving side (the judge) trusts nothing: a header is at most MAX_HEADER bytes and MAX_DEPTH deep,
a message's arrays at most MAX_ARRAY_BYTES together, and each array buffer may be referenced once (a
buffer named twice would be copied twice: a small message must not become a large one).
"""
import json
import os
import struct

import numpy as np

DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}
MAX_HEADER = 4 << 20
MAX_ARRAY_BYTES = 64 << 20     # the largest message of a grading is about 9 MB (trained weights)
MAX_DEPTH = 32


class ChannelError(Exception):
    """A message that could not be encoded, or bytes that are not a valid message."""


def encode(value):
    arrays = []

    def pack(v):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and type(v) in (int, float):
            return v
        if isinstance(v, (np.bool_, np.integer, np.floating)):
            return v.item()
        if type(v) is np.ndarray:
            if v.dtype.name not in DTYPES:
                raise ChannelError(f"arrays of dtype {v.dtype} cannot be sent")
            arrays.append(np.ascontiguousarray(v))
            return {"__array__": len(arrays) - 1, "dtype": v.dtype.name, "shape": list(v.shape)}
        if type(v) in (list, tuple):
            return [pack(x) for x in v]
        if type(v) is dict and all(type(k) is str for k in v):
            if "__array__" in v:
                raise ChannelError("'__array__' is a reserved key")
            return {k: pack(x) for k, x in v.items()}
        raise ChannelError(f"values of type {type(v).__name__} cannot be sent")

    header = json.dumps({"value": pack(value), "sizes": [a.nbytes for a in arrays]}).encode()
    return b"".join([struct.pack(">Q", len(header)), header] + [a.tobytes() for a in arrays])


def send(fd, value):
    data = memoryview(encode(value))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exactly(fd, n):
    chunks, remaining = [], n
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(fd, read=read_exactly):
    """One message from `fd`. `read(fd, n)` may be replaced (the judge reads with a deadline)."""
    (length,) = struct.unpack(">Q", read(fd, 8))
    if length > MAX_HEADER:
        raise ChannelError(f"message header of {length} bytes is too large")
    text = read(fd, length)
    if _depth(text) > MAX_DEPTH + 2:   # before json.loads, whose recursion a deep header would exhaust
        raise ChannelError(f"message header nested deeper than {MAX_DEPTH}")
    try:
        header = json.loads(text)
        sizes = [int(s) for s in header["sizes"]]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise ChannelError(f"malformed message header ({type(error).__name__})") from None
    if any(s < 0 for s in sizes) or sum(sizes) > MAX_ARRAY_BYTES:
        raise ChannelError("message arrays are too large")
    buffers = [read(fd, s) for s in sizes]
    used = set()

    def unpack(v):
        if isinstance(v, list):
            return [unpack(x) for x in v]
        if isinstance(v, dict):
            if "__array__" not in v:
                return {k: unpack(x) for k, x in v.items()}
            try:
                index, dtype, shape = v["__array__"], v["dtype"], tuple(int(s) for s in v["shape"])
                if type(index) is not int or index in used:
                    raise ValueError("an array buffer referenced twice, or not by its number")
                used.add(index)
                if dtype not in DTYPES:
                    raise ValueError(f"dtype {dtype!r} not allowed")
                return np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
            except (ValueError, IndexError, KeyError, TypeError) as error:
                raise ChannelError(f"malformed array in message ({error})") from None
        return v

    return unpack(header["value"])


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _depth(text):
    """How deeply the JSON text nests brackets (those inside strings too: an over-estimate is safe)."""
    depth = deepest = 0
    for byte in text.translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest
