#!/usr/bin/env python3
"""Independent computation of the environment age identity (docs/protocol.md §14).

Written from protocol.md alone, not from the Go code: it derives the 32-byte
MLKEM768-X25519 seed from EK, expands it as the hybrid KEM does (SHAKE256:
64 bytes of ML-KEM-768 seed d||z, then 32 bytes of X25519 private key),
and Bech32-encodes the identity and the recipient as age does. Needs only
the `cryptography` package (ML-KEM since 46).

Usage: age_vector.py            print the JSON vectors
       age_vector.py --check F  compare with the JSON file F, exit 1 on mismatch
"""

import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The inputs of protocol.md §12: EK of the vector phrase's environment.
ENV_ID = "env_zyxwvutsrqponmlkjihgfedcba"
ENV_KEYS = {
    1: "bac6c299d1ba05fd057b00cc1d728d2e14acf26dfec9ed50d1d1f5895a644c31",
    2: "3d340370d556b26ee27503352965b9787b0d9f0ddc8facd835e2fe9ccca9ffc3",
}

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def bech32(hrp, data):
    hrp = hrp.lower()
    acc, bits, groups = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            groups.append((acc >> bits) & 31)
    if bits:
        groups.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = polymod(expanded + groups + [0] * 6) ^ 1
    check = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[g] for g in groups + check)


def derive(ek_hex, env_id, epoch):
    seed = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=env_id.encode(),
        info=("capy:age-identity:%d" % epoch).encode(),
    ).derive(bytes.fromhex(ek_hex))
    expanded = hashlib.shake_256(seed).digest(64 + 32)
    pq = MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key().public_bytes_raw()
    t = X25519PrivateKey.from_private_bytes(expanded[64:]).public_key().public_bytes_raw()
    recipient = bech32("age1pq", pq + t)
    return {
        "env_key": ek_hex,
        "age_seed": seed.hex(),
        "age_identity": bech32("AGE-SECRET-KEY-PQ-", seed).upper(),
        "age_recipient": recipient,
        "age_recipient_sha256": hashlib.sha256(recipient.encode()).hexdigest(),
    }


def vectors():
    return {
        "env_id": ENV_ID,
        "epochs": {str(e): derive(ek, ENV_ID, e) for e, ek in sorted(ENV_KEYS.items())},
    }


def main():
    got = vectors()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            want = json.load(f)
        if got != want:
            print("age vectors differ from " + sys.argv[2], file=sys.stderr)
            sys.exit(1)
        return
    print(json.dumps(got, indent=2))


if __name__ == "__main__":
    main()
