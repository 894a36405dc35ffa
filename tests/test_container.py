import dataclasses

import pytest

from codec import container
from codec.container import Header, Section
from codec.errors import CorruptFile

HDR = Header(model_id=3, quality=3, digest=bytes(range(8)), height=17, width=31, quantizer=0, arithmetic=1)
SECTIONS = [Section((4, 1, 1), -2, 3, b"\x01\x02\x03\x04"), Section((8, 2, 2), -1, 1, b"\xaa\xbb\xcc\xdd")]

# Pinned bytes of format version 4 (the layout of 3; new meaning of the arithmetic byte for
# dithered factorized latents). Changing them requires bumping FORMAT_VERSION.
GOLDEN_V4 = (
    "894c494304030000030001020304050607110000" "001f000000" "00" "01" "02"
    "040001000100" "feffffff" "03000000" "04000000"
    "080002000200" "ffffffff" "01000000" "04000000"
    "01020304" "aabbccdd"
)
# Format version 3 (u16 quality x256): still read.
GOLDEN_V3 = (
    "894c494303030000030001020304050607110000" "001f000000" "00" "01" "02"
    "040001000100" "feffffff" "03000000" "04000000"
    "080002000200" "ffffffff" "01000000" "04000000"
    "01020304" "aabbccdd"
)
# Format version 2 (u8 quality index): still read.
GOLDEN_V2 = (
    "894c494302030003000102030405060711000000" "1f000000" "00" "01" "02"
    "040001000100" "feffffff" "03000000" "04000000"
    "080002000200" "ffffffff" "01000000" "04000000"
    "01020304" "aabbccdd"
)
# Format version 1 (no arithmetic byte): still read, as float arithmetic.
GOLDEN_V1 = (
    "894c494301030003000102030405060711000000" "1f000000" "00" "02"
    "040001000100" "feffffff" "03000000" "04000000"
    "080002000200" "ffffffff" "01000000" "04000000"
    "01020304" "aabbccdd"
)


def _with_crc(hex_body: str) -> bytes:
    import zlib
    body = bytes.fromhex(hex_body)
    return body + zlib.crc32(body).to_bytes(4, "little")


def test_golden_bytes_pin_format_version_4():
    data = container.pack(HDR, SECTIONS)
    assert container.FORMAT_VERSION == 4
    assert data == _with_crc(GOLDEN_V4)
    assert container.unpack(data)[0].version == 4


@pytest.mark.parametrize("version, golden", [(3, GOLDEN_V3), (2, GOLDEN_V2)])
def test_older_versions_still_unpack_and_say_which(version, golden):
    h, s = container.unpack(_with_crc(golden))
    assert h == HDR and s == SECTIONS and h.version == version


def test_format_version_2_bytes_still_unpack():
    h, s = container.unpack(_with_crc(GOLDEN_V2))
    assert h == HDR and s == SECTIONS


def test_quality_is_a_real_number_on_a_1_256_grid():
    h = dataclasses.replace(HDR, quality=2.37109375)          # 607 / 256
    data = container.pack(h, SECTIONS)
    assert data[7:9] == (607).to_bytes(2, "little")
    assert container.unpack(data)[0].quality == 2.37109375
    for bad in (2.3, -1 / 256, 256.0):
        with pytest.raises(ValueError, match="quality"):
            container.pack(dataclasses.replace(HDR, quality=bad), SECTIONS)


def test_format_version_1_bytes_still_unpack_as_float_arithmetic():
    h, s = container.unpack(_with_crc(GOLDEN_V1))
    assert h == Header(3, 3, bytes(range(8)), 17, 31, 0, arithmetic=0) and s == SECTIONS


def test_golden_bytes_with_dither_seed():
    h = Header(3, 3, bytes(8), 1, 1, 1, seed=0x0102030405060708)
    data = container.pack(h, SECTIONS[:1])
    assert data[25] == 1 and data[26] == 0 and data[27:35] == bytes.fromhex("0807060504030201")
    assert container.unpack(data)[0].seed == 0x0102030405060708


def test_unknown_arithmetic_id_is_refused():
    data = bytearray(container.pack(HDR, SECTIONS))
    data[26] = 9
    import zlib
    data[-4:] = zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")
    with pytest.raises(CorruptFile, match="arithmetic id 9"):
        container.unpack(bytes(data))


def test_pack_unpack_roundtrip():
    h, s = container.unpack(container.pack(HDR, SECTIONS))
    assert h == HDR and s == SECTIONS


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"", "empty"),
    (lambda d: b"PNG\x00" + d[4:], "magic"),
    (lambda d: d[:10], "truncated"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\x00", "trailing"),
    (lambda d: d[:4] + b"\x09" + d[5:], "version"),
])
def test_damaged_files_are_refused_with_a_reason(mutate, message):
    with pytest.raises(CorruptFile, match=message):
        container.unpack(mutate(container.pack(HDR, SECTIONS)))


def test_every_single_flipped_byte_is_detected():
    data = container.pack(HDR, SECTIONS)
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x10
        with pytest.raises(CorruptFile):
            container.unpack(bytes(bad))


def test_huge_dimensions_refused_before_allocation():
    data = bytearray(container.pack(HDR, SECTIONS))
    data[17:21] = (100000).to_bytes(4, "little")
    data[21:25] = (100000).to_bytes(4, "little")
    with pytest.raises(CorruptFile, match="100000x100000"):
        container.unpack(bytes(data))


def test_unknown_quantizer_and_missing_seed():
    data = bytearray(container.pack(HDR, SECTIONS))
    data[25] = 7
    with pytest.raises(CorruptFile, match="quantizer id 7"):
        container.unpack(bytes(data))
    uq = container.pack(Header(3, 3, bytes(8), 1, 1, 1, seed=5), SECTIONS[:1])
    with pytest.raises(CorruptFile, match="seed"):
        container.unpack(uq[:31])


def test_header_claiming_long_payload_is_truncation():
    data = bytearray(container.pack(HDR, SECTIONS))
    data[42:46] = (10 ** 9).to_bytes(4, "little")
    with pytest.raises(CorruptFile, match="truncated"):
        container.unpack(bytes(data))
