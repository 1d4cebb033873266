#!/usr/bin/env python3
"""Recomputes the osk-v1 known-answer tokens of tests/identity/test_osk.c independently.

Development aid only (not run by the build or the tests).  It follows REFERENCE 12.3 with
libraries unrelated to our C code: python-ecdsa for RFC 6979 secp256k1 signatures (Debian
package python3-ecdsa) and pycryptodome for Keccak-256 (python3-pycryptodome), plus Python's
own hmac/hashlib for the agent child key.  Run: /usr/bin/python3 scripts/gen_osk_vectors.py
"""
import base64
import hashlib
import hmac
import struct

import ecdsa
from Cryptodome.Hash import keccak

N = ecdsa.SECP256k1.order


def k256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


def address(sk: bytes) -> str:
    vk = ecdsa.SigningKey.from_string(sk, curve=ecdsa.SECP256k1).get_verifying_key()
    raw = k256(vk.to_string())[-20:].hex()
    h = k256(raw.encode()).hex()
    return "0x" + "".join(
        c.upper() if c in "abcdef" and int(h[i], 16) >= 8 else c for i, c in enumerate(raw)
    )


def sign(sk: bytes, prefix: str, payload: bytes) -> bytes:
    digest = k256(b"\x19" + prefix.encode() + b":\n" + str(len(payload)).encode() + payload)
    d = int.from_bytes(sk, "big")
    k = ecdsa.rfc6979.generate_k(N, d, hashlib.sha256, digest)
    R = ecdsa.SECP256k1.generator * k
    r = R.x() % N
    s = (pow(k, -1, N) * (int.from_bytes(digest, "big") + r * d)) % N
    recid = (R.y() & 1) | (2 if R.x() >= N else 0)
    if s > N // 2:  # low-s, as libsecp256k1 and the original produce
        s = N - s
        recid ^= 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recid])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    master = bytes([1]) * 32
    child = hmac.new(master, b"osaurus-agent-v1" + struct.pack(">I", 3), hashlib.sha512).digest()
    maddr, caddr = address(master), address(child[:32])
    payloads = [
        ("master, 30d, label with '/'", master,
         '{"aud":"%s","cnt":7,"exp":1767225600,"iat":1764633600,"iss":"%s",'
         '"lbl":"ci\\/cd bot","nonce":"0123456789abcdef0123456789abcdef"}' % (maddr, maddr)),
        ("agent 3, never", child[:32],
         '{"aud":"%s","cnt":8,"iat":1764633600,"iss":"%s",'
         '"nonce":"fedcba9876543210fedcba9876543210"}' % (caddr, caddr)),
    ]
    print("master", maddr)
    print("agent3", caddr)
    for name, sk, payload in payloads:
        sig = sign(sk, "Osaurus Signed Access", payload.encode())
        print(name)
        print("osk-v1." + b64url(payload.encode()) + "." + sig.hex())


if __name__ == "__main__":
    main()
