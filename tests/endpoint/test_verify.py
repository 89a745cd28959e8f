"""Signature verification, freshness window and replay cache, as units."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asgi_interactions.errors import ConfigurationError
from asgi_interactions.testing import KeyPair
from asgi_interactions.verify import (
    ReplayCache,
    SignatureVerifier,
    VerificationError,
    load_public_key,
)

KEYS = KeyPair.generate()


def verifier(**kwargs: object) -> SignatureVerifier:
    kwargs.setdefault("clock", lambda: 1_700_000_000.0)
    return SignatureVerifier(KEYS.public_key, **kwargs)  # type: ignore[arg-type]


def test_valid_signature_passes() -> None:
    body = b'{"type":1}'
    verifier().verify(KEYS.sign("1700000000", body).encode(), b"1700000000", body)


@given(body=st.binary(max_size=512), flip=st.integers(min_value=0, max_value=63))
def test_any_changed_signature_byte_fails(body: bytes, flip: int) -> None:
    sig = bytearray(bytes.fromhex(KEYS.sign("1700000000", body)))
    sig[flip] ^= 0x01
    with pytest.raises(VerificationError):
        verifier().verify(sig.hex().encode(), b"1700000000", body)


@given(body=st.binary(max_size=256), extra=st.binary(min_size=1, max_size=8))
def test_signature_covers_the_whole_body(body: bytes, extra: bytes) -> None:
    sig = KEYS.sign("1700000000", body).encode()
    with pytest.raises(VerificationError):
        verifier().verify(sig, b"1700000000", body + extra)


def test_signature_covers_the_timestamp() -> None:
    body = b"{}"
    sig = KEYS.sign("1700000000", body).encode()
    with pytest.raises(VerificationError):
        verifier().verify(sig, b"1700000001", body)


@pytest.mark.parametrize("stamp", [b"1699999699", b"1700000301", b"nan", b"inf", b"-inf"])
def test_timestamps_outside_the_window_fail(stamp: bytes) -> None:
    sig = KEYS.sign(stamp.decode(), b"{}").encode()
    with pytest.raises(VerificationError, match="outside the allowed window"):
        verifier().verify(sig, stamp, b"{}")


@pytest.mark.parametrize(
    "signature",
    [
        " ".join(["ab"] * 43).encode(),  # 128 characters that bytes.fromhex would accept
        b"ab" * 63 + b"\xc3\xa9",  # non-ASCII
        b"ab" * 63 + b"0x",
        b"AB" * 64,  # hex, so well formed: refused as a wrong signature
    ],
    ids=["spaced", "non-ascii", "not-hex", "wrong"],
)
def test_signature_headers_must_be_128_hex_digits(signature: bytes) -> None:
    with pytest.raises(VerificationError, match=r"malformed|invalid request signature"):
        verifier().verify(signature, b"1700000000", b"{}")


@given(body=st.binary(max_size=512))
def test_verification_agrees_with_pynacl(body: bytes) -> None:
    """The endpoint's call into libsodium decides exactly as PyNaCl's VerifyKey.verify."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    key = VerifyKey(bytes.fromhex(KEYS.public_key))
    good = bytes.fromhex(KEYS.sign("1700000000", body))
    for sig in (good, bytes([good[0] ^ 1]) + good[1:], good[:32] + bytes(32), bytes(64)):
        try:
            key.verify(b"1700000000" + body, sig)
        except BadSignatureError:
            pynacl_accepts = False
        else:
            pynacl_accepts = True
        try:
            verifier().authenticate(sig.hex().encode(), b"1700000000", body)
        except VerificationError:
            ours_accepts = False
        else:
            ours_accepts = True
        assert ours_accepts == pynacl_accepts == (sig == good)


def test_without_pynacls_private_binding_the_public_one_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asgi_interactions.verify as module

    assert module._sign_open is not module._open_public  # the fast path is in use here
    monkeypatch.setattr(module, "_sign_open", module._open_public)
    monkeypatch.setattr(module, "_NULL", None)
    sig = KEYS.sign("1700000000", b"{}")
    verifier().authenticate(sig.encode(), b"1700000000", b"{}")
    with pytest.raises(VerificationError, match="invalid request signature"):
        verifier().authenticate(sig.encode(), b"1700000000", b"{ }")


def test_authenticate_leaves_the_replay_check_to_refuse_replay() -> None:
    cache = ReplayCache(maxsize=10, ttl=300)
    checker = verifier(replay_cache=cache)
    stamp = "1700000000"
    sig = KEYS.sign(stamp, b"{}").encode()
    authentic = checker.authenticate(sig, stamp.encode(), b"{}")
    assert authentic == (bytes.fromhex(sig.decode()), 1_700_000_000.0, 1_700_000_000.0)
    assert checker.authenticate(sig, stamp.encode(), b"{}") == authentic  # no replay check
    assert len(cache) == 0
    asyncio.run(checker.refuse_replay(*authentic))
    with pytest.raises(VerificationError, match="already received"):
        asyncio.run(checker.refuse_replay(*authentic))


def test_window_edges_pass() -> None:
    for stamp in ("1699999700", "1700000300", "1700000000.5"):
        verifier().verify(KEYS.sign(stamp, b"{}").encode(), stamp.encode(), b"{}")


def test_replay_cache_refuses_the_same_signature_until_it_expires() -> None:
    cache = ReplayCache(maxsize=100, ttl=10)
    assert not cache.seen(b"a", 0.0, now=0.0)
    assert cache.seen(b"a", 0.0, now=10.0)  # the last instant the request is fresh
    assert not cache.seen(b"a", 0.0, now=10.001)


def test_replay_cache_is_bounded() -> None:
    cache = ReplayCache(maxsize=50, ttl=1e9)
    for i in range(1000):
        cache.seen(str(i).encode(), float(i % 7), now=0.0)
    assert len(cache) <= 50


@pytest.mark.parametrize("key", ["", "zz" * 32, "ab" * 31, b"\x00" * 31])
def test_bad_public_keys_are_refused_clearly(key: str | bytes) -> None:
    with pytest.raises(ConfigurationError, match="public_key"):
        load_public_key(key)


def test_raw_and_hex_keys_are_equal() -> None:
    raw = bytes.fromhex(KEYS.public_key)
    assert bytes(load_public_key(raw)) == bytes(load_public_key(KEYS.public_key.upper()))
