"""CloudWatch over Smithy RPC v2 CBOR, the only protocol the Rust SDK speaks to CloudWatch (boto3 and moto
speak its JSON protocol). A request ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with an
``application/cbor`` body is decoded and handed to moto as the JSON request of the same operation; the answer
goes back as CBOR, with the output shape's timestamps as tag 1 (epoch seconds), as the protocol has them.

A small CBOR codec (RFC 8949): integers, floats, text, bytes, arrays and maps of definite or indefinite
length, true/false/null, and tags (tag 1 becomes a number of epoch seconds on the way in)."""

from __future__ import annotations

import datetime
import json
import struct
from typing import Any

CLOUDWATCH_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801"


class Tag:
    def __init__(self, tag: int, value: Any):
        self.tag, self.value = tag, value


_BREAK = object()


def decode(data: bytes) -> Any:
    value, end = _item(data, 0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes after the CBOR item")
    return value


def _length(data: bytes, pos: int, info: int) -> tuple[int | None, int]:
    if info < 24:
        return info, pos
    if info == 31:
        return None, pos
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if size is None:
        raise ValueError(f"bad additional information {info}")
    return int.from_bytes(data[pos:pos + size], "big"), pos + size


def _item(data: bytes, pos: int) -> tuple[Any, int]:
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        if info == 20:
            return False, pos
        if info == 21:
            return True, pos
        if info in (22, 23):
            return None, pos
        if info == 25:
            return struct.unpack(">e", data[pos:pos + 2])[0], pos + 2
        if info == 26:
            return struct.unpack(">f", data[pos:pos + 4])[0], pos + 4
        if info == 27:
            return struct.unpack(">d", data[pos:pos + 8])[0], pos + 8
        if info == 31:
            return _BREAK, pos
        raise ValueError(f"unsupported simple value {info}")
    n, pos = _length(data, pos, info)
    if major == 0:
        return n, pos
    if major == 1:
        return -1 - n, pos  # type: ignore[operator]
    if major in (2, 3):
        if n is None:
            chunks = []
            while True:
                chunk, pos = _item(data, pos)
                if chunk is _BREAK:
                    break
                chunks.append(chunk)
            return ("" if major == 3 else b"").join(chunks), pos
        raw = data[pos:pos + n]
        return (raw.decode() if major == 3 else bytes(raw)), pos + n
    if major == 4:
        out = []
        while n is None or len(out) < n:
            v, pos = _item(data, pos)
            if v is _BREAK:
                break
            out.append(v)
        return out, pos
    if major == 5:
        m: dict = {}
        while n is None or len(m) < n:
            k, pos = _item(data, pos)
            if k is _BREAK:
                break
            m[k], pos = _item(data, pos)
        return m, pos
    if major == 6:
        v, pos = _item(data, pos)
        return (v if n == 1 else Tag(n, v)), pos  # type: ignore[arg-type]
    raise ValueError(f"unsupported major type {major}")


def encode(value: Any) -> bytes:
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, Tag):
        return _head(6, value.tag) + encode(value.value)
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode()
        return _head(3, len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__}")


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("integer too large")


def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def tag_timestamps(value: Any, shape: Any) -> Any:
    """`value` (moto's JSON answer) with every timestamp of the botocore `shape` as a tag-1 epoch."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "timestamp":
        return Tag(1, _epoch(value))
    if kind == "structure" and isinstance(value, dict):
        return {k: tag_timestamps(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [tag_timestamps(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: tag_timestamps(v, shape.value) for k, v in value.items()}
    if kind in ("double", "float") and isinstance(value, int):
        return float(value)
    return value


def operation(path: str) -> str | None:
    """The CloudWatch operation a CBOR request path names, else None."""
    if path.startswith(CLOUDWATCH_PREFIX):
        return path[len(CLOUDWATCH_PREFIX):]
    return None


def to_json_request(environ: dict, op: str, body: bytes) -> bytes:
    """Rewrites `environ` into moto's JSON request for `op`; returns its body."""
    params = decode(body) if body else {}
    data = json.dumps(params).encode()
    environ["PATH_INFO"] = "/"
    environ["CONTENT_TYPE"] = "application/x-amz-json-1.0"
    environ["HTTP_X_AMZ_TARGET"] = f"{CLOUDWATCH_TARGET}.{op}"
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def to_cbor_answer(op: str, status: str, out: bytes) -> bytes:
    """moto's JSON answer to `op` as the CBOR the protocol sends (errors keep `__type` and `message`)."""
    try:
        value = json.loads(out) if out.strip() else {}
    except ValueError:
        value = {"__type": "InternalFailure", "message": out.decode(errors="replace")[:500]}
    if status.startswith("2"):
        import botocore.session

        model = botocore.session.get_session().get_service_model("cloudwatch")
        value = tag_timestamps(value, model.operation_model(op).output_shape)
    return encode(value)
