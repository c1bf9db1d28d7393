#!/usr/bin/env python3
"""An event-file reader independent of crank's C++ code and of TensorFlow.

Reads a TensorBoard event file (TFRecord framing, masked CRC-32C, TensorFlow's Event and
Summary messages) with the standard library only: struct for the framing, a bitwise CRC-32C,
and a decoder of the protobuf wire format for the fields TensorFlow's event.proto and
summary.proto number Event.wall_time = 1 (double), Event.step = 2 (int64),
Event.file_version = 3 (string), Event.summary = 5, Summary.value = 1, Summary.Value.tag = 1,
Summary.Value.simple_value = 2 (float). Fields it does not know are skipped by wire type, as
any protobuf reader does.

Usage: read_events.py FILE  -> prints one JSON object per event:
  {"wall_time": W, "step": S, "file_version": "...", "values": [[tag, value], ...]}
Exits 1 with a message on a bad CRC, a truncated record or malformed protobuf.
"""

import json
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(blob):
    at = 0
    while at < len(blob):
        if len(blob) - at < 12:
            raise ValueError(f"truncated record header at byte {at}")
        (length,) = struct.unpack_from("<Q", blob, at)
        (length_crc,) = struct.unpack_from("<I", blob, at + 8)
        if length_crc != masked_crc32c(blob[at:at + 8]):
            raise ValueError(f"bad length CRC at byte {at}")
        end = at + 12 + length
        if end + 4 > len(blob):
            raise ValueError(f"truncated record at byte {at}")
        data = blob[at + 12:end]
        (data_crc,) = struct.unpack_from("<I", blob, end)
        if data_crc != masked_crc32c(data):
            raise ValueError(f"bad data CRC at byte {at}")
        yield data
        at = end + 4


def varint(buf, at):
    value, shift = 0, 0
    while True:
        if at >= len(buf):
            raise ValueError("truncated varint")
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, at


def fields(buf):
    """Yields (field number, wire type, value) of a serialized message."""
    at = 0
    while at < len(buf):
        key, at = varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(buf, at)
        elif wire == 1:
            value, at = buf[at:at + 8], at + 8
        elif wire == 2:
            n, at = varint(buf, at)
            value, at = buf[at:at + n], at + n
        elif wire == 5:
            value, at = buf[at:at + 4], at + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if at > len(buf):
            raise ValueError("truncated field")
        yield number, wire, value


def decode_event(data):
    event = {"wall_time": 0.0, "step": 0, "file_version": None, "values": []}
    for number, wire, value in fields(data):
        if number == 1 and wire == 1:
            (event["wall_time"],) = struct.unpack("<d", value)
        elif number == 2 and wire == 0:
            event["step"] = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 3 and wire == 2:
            event["file_version"] = value.decode("utf-8")
        elif number == 5 and wire == 2:
            for vnum, vwire, vbytes in fields(value):
                if vnum != 1 or vwire != 2:
                    continue
                tag, simple = None, None
                for n, w, v in fields(vbytes):
                    if n == 1 and w == 2:
                        tag = v.decode("utf-8")
                    elif n == 2 and w == 5:
                        (simple,) = struct.unpack("<f", v)
                event["values"].append([tag, simple])
    return event


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: read_events.py FILE")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    try:
        for data in records(blob):
            print(json.dumps(decode_event(data)))
    except ValueError as e:
        sys.exit(f"{sys.argv[1]}: {e}")


if __name__ == "__main__":
    main()
