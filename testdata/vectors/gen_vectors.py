#!/usr/bin/env python3
"""Independent known-answer vectors for capy (testdata/vectors/vectors.json).

Written from the specification alone (/work/shared/design/DESIGN.md, sections
2.0-2.6 and 4), without reading the Go implementation, so that the Go code can be
checked against a second implementation. Run it from anywhere:

    python3 testdata/vectors/gen_vectors.py

It writes vectors.json next to itself (sorted keys, indent 2, trailing newline).
Every input is fixed and every primitive is deterministic (the AES-GCM IVs are
fixed for the vectors only; Ed25519 is deterministic), so re-running produces
identical bytes. Only hashlib, hmac, base64, struct, zlib, json and the
`cryptography` package (AES-GCM, Ed25519, and a cross-check of HKDF) are used.

Constructions (section numbers refer to DESIGN.md):

  Encodings (2.0): b64u = base64url without padding; b32 = RFC 4648 base32,
    lowercase, no padding; hex lowercase; integers in text are decimal ASCII;
    strings are their UTF-8 bytes; || concatenates.

  BIP-39 (2.1): entropy -> mnemonic implemented here (checksum = first ENT/32
    bits of SHA-256(entropy), 11-bit big-endian word indices into the official
    English wordlist bip39-english.txt, whose SHA-256 is asserted). Canonical
    phrase = lowercase words joined by one space. Validated against every
    "english" reference vector in bip39-trezor.json (mnemonic, PBKDF2 seed with
    passphrase "TREZOR", and the BIP-32 master xprv).

  Derivations (2.1), HKDF = HKDF-SHA256 (RFC 5869, implemented by hand below and
  cross-checked against cryptography's HKDF for every call):
    M            = PBKDF2-HMAC-SHA512(phrase, "capy-mnemonic", 2048, 32)
    key check    = hex(HKDF(M, salt=orgId, info="capy:key-check", 16))
    PK           = HKDF(M, salt=orgId, info="capy:project:" projectId, 32)
    EK(e)        = HKDF(PK, salt=projectId, info="capy:env:" envId ":" e, 32)
    snippet key  = HKDF(EK, salt=envId, info="capy:snippet", 32)
    rid key      = HKDF(EK, salt=envId, info="capy:rid", 32)
    sign seed(e) = HKDF(PK, salt=envId, info="capy:env-sign:" e, 32) -> Ed25519
    rid(NAME)    = first 5 chars of b32(HMAC-SHA256(rid key, NAME))
    inner wrap   = HKDF(D, salt=SHA-256(userId ":" orgId) (raw 32 bytes),
                        info="capy:inner-wrap", 32)
    invite inner = HKDF(T, salt=orgId ":" email, info="capy:invite", 32)
    deploy inner = HKDF(DT, salt=envId, info="capy:deploy", 32)
    deploy auth  = HKDF(DT, salt=envId, info="capy:deploy-auth", 32);
                   verifier = SHA-256(auth key)

  Sealed box (2.2): seal(key, pt, aad) = 0x01 || iv(12) ||
    AES-256-GCM(key, iv, pt, aad = 0x01 || aad) (ciphertext then 16-byte tag).
      key.enc inner: key = inner wrap key, pt = M,  aad = "capy:key:" orgId ":" userId
      invite inner:  key = invite inner,   pt = M,  aad = "capy:invite:" orgId ":" email
      deploy inner:  key = deploy inner,   pt = EK, aad = "capy:deploy:" envId ":" epoch
    The "aad" fields in vectors.json hold the purpose string, without the
    0x01 prefix that seal() prepends before calling AES-GCM.

  Snippet (2.3): "capy:" rid ":" b64u(iv(12) || ct || tag(16)); AES-256-GCM
    under the snippet key, aad = "capy:v1:" rid exactly (no 0x01 prefix: a
    snippet is not a sealed box), pt = NAME || 0x00 || flags(1 byte) || VALUE.

  Blob (2.4): "capy-blob 1\n"
              "manifest " epoch " " version " " parentId " " b64u(sig) "\n"
              snippet lines, each followed by "\n", sorted bytewise.
    sig = Ed25519(env signing key, "capy-manifest 1\n" projectId "\n" envId
          "\n" epoch "\n" version "\n" parentId "\n"
          hex(SHA-256(the sorted snippet lines, each with its "\n")) "\n").
    id = hex(SHA-256(all bytes of the blob)). First blob: version 1, parent "-".

  Codes (2.5): "capy-redeem-" / "capy-deploy-" b64u(p || CRC-32-IEEE(p) as u32be)
    redeem p = 0x01 || u16be len || url || u8 len || orgId || u8 len || inviteId || T
    deploy p = 0x01 || u16be len || url || u8 len || orgId || u8 len || projectId
               || u8 len || envId || u32be epoch || u8 len || deployId || DT
    "payload_hex" is p alone (without the CRC).

  Outer wrap (2.6): outerKey = HKDF(KEK, salt=orgId, info="capyd:outer:" purpose, 32);
    outer = 0x01 || kid(u32be) || seal(outerKey, inner sealed box,
                                       aad = purpose ":" orgId ":" subject)
    purpose/subject = key/userId, invite/inviteId, deploy/deployId.

  Key file (3, Deploy): "capy-ek 1 " envId " " epoch " " hex(EK) "\n".

  Audit (4): hash = hex(SHA-256("capy-audit 1\n" prevHash "\n" seq "\n" time "\n"
    actor "\n" action "\n" target "\n" result "\n")); the genesis prevHash is
    64 ASCII '0' characters; time is RFC 3339 UTC with exactly 9 fractional
    digits and "Z".

  HKDF RFC 5869 Appendix A test cases 1-3 (SHA-256) are reproduced as
  "hkdf_rfc5869" and asserted against the hand-written HKDF.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import zlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF as CryptoHKDF
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand as CryptoHKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))

WORDLIST_SHA256 = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"


# ---------------------------------------------------------------------------
# Encodings (DESIGN 2.0)
# ---------------------------------------------------------------------------

def b(s):
    """A string as its UTF-8 bytes."""
    return s.encode("utf-8")


def hx(data):
    return data.hex()


def b64u(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64u_decode_strict(s):
    pad = "=" * (-len(s) % 4)
    out = base64.urlsafe_b64decode(s + pad)
    assert b64u(out) == s, "non-canonical b64u"
    return out


def b32(data):
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


LOWER = "abcdefghijklmnopqrstuvwxyz"
B32_ALPHABET = LOWER + "234567"
DIGITS = "0123456789"


def is_id(s):
    """^[a-z]{3}_[a-z2-7]{26}$ (2.0)"""
    return (len(s) == 30 and all(c in LOWER for c in s[:3]) and s[3] == "_"
            and all(c in B32_ALPHABET for c in s[4:]))


def is_canonical_email(s):
    """^[a-z0-9.!#$%&'*+/=?^_{|}~-]+@[a-z0-9-]+(\\.[a-z0-9-]+)+$, <= 254 bytes (2.0)"""
    local_ok = set(LOWER + DIGITS + ".!#$%&'*+/=?^_{|}~-")
    label_ok = set(LOWER + DIGITS + "-")
    if len(s) > 254 or s.count("@") != 1:
        return False
    local, domain = s.split("@")
    labels = domain.split(".")
    return (local != "" and set(local) <= local_ok and len(labels) >= 2
            and all(l != "" and set(l) <= label_ok for l in labels))


def is_var_name(s):
    """^[A-Za-z_][A-Za-z0-9_.]*$, <= 256 bytes (2.0)"""
    first = set(LOWER + LOWER.upper() + "_")
    rest = first | set(DIGITS + ".")
    return 0 < len(s) <= 256 and s[0] in first and set(s[1:]) <= rest


def is_audit_time(s):
    """YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ (RFC 3339, UTC, exactly 9 fractional digits)"""
    shape = "dddd-dd-ddTdd:dd:dd.dddddddddZ"
    return len(s) == len(shape) and all(
        (c in DIGITS) if k == "d" else (c == k) for c, k in zip(s, shape))


def seq_bytes(first, last):
    """bytes first, first+1, ..., last (inclusive)."""
    return bytes(range(first, last + 1))


# ---------------------------------------------------------------------------
# HKDF (RFC 5869) by hand, cross-checked against `cryptography`
# ---------------------------------------------------------------------------

def hkdf_extract(salt, ikm):
    if not salt:
        salt = b"\x00" * 32
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    assert length <= 255 * 32
    out = b""
    t = b""
    i = 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def hkdf(ikm, salt, info, length):
    prk = hkdf_extract(salt, ikm)
    okm = hkdf_expand(prk, info, length)
    ref = CryptoHKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)
    assert okm == ref, "hand-written HKDF disagrees with cryptography's HKDF"
    ref2 = CryptoHKDFExpand(algorithm=hashes.SHA256(), length=length, info=info).derive(prk)
    assert okm == ref2
    return okm


# RFC 5869 Appendix A, test cases 1-3 (SHA-256), copied from the RFC text.
HKDF_RFC5869 = [
    {  # A.1 Basic test case with SHA-256
        "ikm": "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        "salt": "000102030405060708090a0b0c",
        "info": "f0f1f2f3f4f5f6f7f8f9",
        "L": 42,
        "prk": "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
               "34007208d5b887185865",
    },
    {  # A.2 Test with SHA-256 and longer inputs/outputs
        "ikm": seq_bytes(0x00, 0x4F).hex(),
        "salt": seq_bytes(0x60, 0xAF).hex(),
        "info": seq_bytes(0xB0, 0xFF).hex(),
        "L": 82,
        "prk": "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        "okm": "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
               "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
               "cc30c58179ec3e87c14c01d5c1f3434f1d87",
    },
    {  # A.3 Test with SHA-256 and zero-length salt/info
        "ikm": "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        "salt": "",
        "info": "",
        "L": 42,
        "prk": "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
        "okm": "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
               "9d201395faa4b61a96c8",
    },
]


def check_hkdf_rfc5869():
    for tc in HKDF_RFC5869:
        ikm, salt, info = (bytes.fromhex(tc[k]) for k in ("ikm", "salt", "info"))
        assert hkdf_extract(salt, ikm).hex() == tc["prk"]
        assert hkdf_expand(bytes.fromhex(tc["prk"]), info, tc["L"]).hex() == tc["okm"]
        assert hkdf(ikm, salt, info, tc["L"]).hex() == tc["okm"]


# ---------------------------------------------------------------------------
# PBKDF2-HMAC-SHA512 by hand (RFC 8018), cross-checked against hashlib
# ---------------------------------------------------------------------------

def pbkdf2_sha512(password, salt, iterations, length):
    out = b""
    block = 1
    while len(out) < length:
        u = hmac.new(password, salt + struct.pack(">I", block), hashlib.sha512).digest()
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = hmac.new(password, u, hashlib.sha512).digest()
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(64, "big")
        block += 1
    return out[:length]


def pbkdf2(password, salt, iterations, length):
    mine = pbkdf2_sha512(password, salt, iterations, length)
    assert mine == hashlib.pbkdf2_hmac("sha512", password, salt, iterations, length)
    return mine


# ---------------------------------------------------------------------------
# BIP-39 (entropy -> mnemonic) and BIP-32 master xprv (for the reference check)
# ---------------------------------------------------------------------------

def load_wordlist():
    path = os.path.join(HERE, "bip39-english.txt")
    with open(path, "rb") as f:
        raw = f.read()
    assert hashlib.sha256(raw).hexdigest() == WORDLIST_SHA256, "wrong BIP-39 wordlist"
    words = raw.decode("ascii").split("\n")
    if words[-1] == "":
        words.pop()
    assert len(words) == 2048 and len(set(words)) == 2048
    return words


def entropy_to_mnemonic(entropy, words):
    assert len(entropy) in (16, 20, 24, 28, 32)
    ent_bits = len(entropy) * 8
    cs_bits = ent_bits // 32
    checksum = hashlib.sha256(entropy).digest()[0] >> (8 - cs_bits)
    value = (int.from_bytes(entropy, "big") << cs_bits) | checksum
    n = (ent_bits + cs_bits) // 11
    idx = [(value >> (11 * (n - 1 - i))) & 0x7FF for i in range(n)]
    return " ".join(words[i] for i in idx)


def mnemonic_to_entropy(phrase, words):
    """Inverse, with checksum verification (used only as a round-trip check)."""
    pos = {w: i for i, w in enumerate(words)}
    ws = phrase.split(" ")
    assert len(ws) in (12, 15, 18, 21, 24)
    value = 0
    for w in ws:
        value = (value << 11) | pos[w]
    total = len(ws) * 11
    cs_bits = total // 33
    ent_bits = total - cs_bits
    entropy = (value >> cs_bits).to_bytes(ent_bits // 8, "big")
    assert value & ((1 << cs_bits) - 1) == hashlib.sha256(entropy).digest()[0] >> (8 - cs_bits)
    return entropy


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(payload):
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    for byte in data:
        if byte != 0:
            break
        s = "1" + s
    return s


def bip32_master_xprv(seed):
    i = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key, chain = i[:32], i[32:]
    payload = (bytes.fromhex("0488ade4") + b"\x00" + b"\x00" * 4 + b"\x00" * 4
               + chain + b"\x00" + key)
    return base58check(payload)


def check_bip39_reference(words):
    with open(os.path.join(HERE, "bip39-trezor.json"), "rb") as f:
        ref = json.load(f)["english"]
    assert len(ref) == 24
    for entropy_hex, mnemonic, seed_hex, xprv in ref:
        entropy = bytes.fromhex(entropy_hex)
        assert entropy_to_mnemonic(entropy, words) == mnemonic, entropy_hex
        assert mnemonic_to_entropy(mnemonic, words) == entropy
        # NFKD normalisation is the identity on these ASCII strings.
        seed = pbkdf2_sha512(b(mnemonic), b"mnemonic" + b"TREZOR", 2048, 64)
        assert seed.hex() == seed_hex, entropy_hex
        assert bip32_master_xprv(seed) == xprv, entropy_hex
    # one cross-check of the hand-written PBKDF2 against hashlib
    e, m, s, _ = ref[0]
    assert hashlib.pbkdf2_hmac("sha512", b(m), b"mnemonicTREZOR", 2048, 64).hex() == s


# ---------------------------------------------------------------------------
# CRC-32 (IEEE) by hand, cross-checked against zlib
# ---------------------------------------------------------------------------

def crc32_ieee(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    crc ^= 0xFFFFFFFF
    assert crc == zlib.crc32(data) & 0xFFFFFFFF
    return crc


assert crc32_ieee(b"123456789") == 0xCBF43926  # the CRC-32 check value


# ---------------------------------------------------------------------------
# Primitive self-checks: Ed25519 (RFC 8032 7.1 TEST 1), AES-GCM (Wycheproof)
# ---------------------------------------------------------------------------

def check_ed25519():
    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert pk.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert sk.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def check_aes_gcm_wycheproof():
    path = os.path.join(HERE, "wycheproof", "aes_gcm_test.json")
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        suite = json.load(f)
    checked = 0
    for group in suite["testGroups"]:
        if group["keySize"] != 256 or group["ivSize"] != 96 or group["tagSize"] != 128:
            continue
        for t in group["tests"]:
            key, iv = bytes.fromhex(t["key"]), bytes.fromhex(t["iv"])
            aad, msg = bytes.fromhex(t["aad"]), bytes.fromhex(t["msg"])
            ct, tag = bytes.fromhex(t["ct"]), bytes.fromhex(t["tag"])
            g = AESGCM(key)
            if t["result"] == "valid":
                assert g.encrypt(iv, msg, aad) == ct + tag, t["tcId"]
                assert g.decrypt(iv, ct + tag, aad) == msg, t["tcId"]
            elif t["result"] == "invalid":
                try:
                    g.decrypt(iv, ct + tag, aad)
                except Exception:
                    pass
                else:
                    raise AssertionError("accepted invalid tcId %d" % t["tcId"])
            checked += 1
    assert checked > 0


# ---------------------------------------------------------------------------
# capy constructions
# ---------------------------------------------------------------------------

def seal(key, pt, aad, iv):
    """DESIGN 2.2: 0x01 || iv || AES-256-GCM(key, iv, pt, aad = 0x01 || aad)."""
    assert len(key) == 32 and len(iv) == 12
    ct_tag = AESGCM(key).encrypt(iv, pt, b"\x01" + aad)
    box = b"\x01" + iv + ct_tag
    assert len(box) == 1 + 12 + len(pt) + 16
    # open it again
    assert box[0] == 1
    assert AESGCM(key).decrypt(box[1:13], box[13:], b"\x01" + aad) == pt
    return box


def rid(rid_key, name):
    return b32(hmac.new(rid_key, b(name), hashlib.sha256).digest())[:5]


def snippet(snippet_key, rid_key, name, flags, value, iv):
    r = rid(rid_key, name)
    pt = b(name) + b"\x00" + bytes([flags]) + b(value)
    aad = "capy:v1:" + r
    ct_tag = AESGCM(snippet_key).encrypt(iv, pt, b(aad))
    text = "capy:" + r + ":" + b64u(iv + ct_tag)
    # decrypt again, the way a reader would
    prefix, r2, body = text.split(":")
    assert prefix == "capy" and r2 == r
    raw = b64u_decode_strict(body)
    back = AESGCM(snippet_key).decrypt(raw[:12], raw[12:], b("capy:v1:" + r2))
    n, rest = back.split(b"\x00", 1)
    assert n == b(name) and rest[0] == flags and rest[1:] == b(value)
    return {"name": name, "value": value, "flags": flags, "iv": hx(iv),
            "plaintext": hx(pt), "aad": aad, "snippet": text}


def manifest_message(project_id, env_id, epoch, version, parent, lines_bytes):
    return ("capy-manifest 1\n" + project_id + "\n" + env_id + "\n" + str(epoch) + "\n"
            + str(version) + "\n" + parent + "\n"
            + hashlib.sha256(lines_bytes).hexdigest() + "\n")


def make_blob(sign_key, project_id, env_id, epoch, version, parent, snippet_texts):
    lines = sorted(b(s) for s in snippet_texts)  # bytewise
    assert len(set(lines)) == len(lines)
    lines_bytes = b"".join(l + b"\n" for l in lines)
    msg = manifest_message(project_id, env_id, epoch, version, parent, lines_bytes)
    sig = sign_key.sign(b(msg))
    sign_key.public_key().verify(sig, b(msg))
    text_bytes = (b"capy-blob 1\n"
                  + b("manifest %d %d %s %s\n" % (epoch, version, parent, b64u(sig)))
                  + lines_bytes)
    return {"epoch": epoch, "version": version, "parent": parent,
            "manifest_message": msg, "signature_b64u": b64u(sig),
            "text": text_bytes.decode("utf-8"),
            "id": hashlib.sha256(text_bytes).hexdigest()}


def u8len(s):
    data = b(s)
    assert len(data) < 256
    return bytes([len(data)]) + data


def u16len(s):
    data = b(s)
    assert len(data) < 65536
    return struct.pack(">H", len(data)) + data


def code(prefix, p):
    return prefix + b64u(p + struct.pack(">I", crc32_ieee(p)))


def audit_hash(prev_hash, seq, time, actor, action, target, result):
    msg = ("capy-audit 1\n" + prev_hash + "\n" + str(seq) + "\n" + time + "\n" + actor
           + "\n" + action + "\n" + target + "\n" + result + "\n")
    return hashlib.sha256(b(msg)).hexdigest()


def ed25519_from_seed(seed):
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return sk, pk


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def main():
    check_hkdf_rfc5869()
    check_ed25519()
    check_aes_gcm_wycheproof()
    words = load_wordlist()
    check_bip39_reference(words)

    # Fixed inputs (from the brief).
    entropy = seq_bytes(0x00, 0x1F)
    org_id = "org_abcdefghijklmnopqrstuvwxyz"
    project_id = "prj_234567abcdefghijklmnopqrst"
    env_id = "env_zyxwvutsrqponmlkjihgfedcba"
    user_id = "usr_mnopqrstuvwxyz234567abcdef"
    invite_id = "inv_qrstuvwxyz234567abcdefghij"
    deploy_id = "dep_ghijklmnopqrstuvwxyz234567"
    email = "alice.example+dev@example.com"
    device_secret = seq_bytes(0x40, 0x5F)
    invite_token = seq_bytes(0x60, 0x7F)
    deploy_token = seq_bytes(0x80, 0x9F)
    service_url = "https://capy.example.com"
    kek = seq_bytes(0xE0, 0xFF)
    kek_id = 7
    sealed_iv = seq_bytes(0xA0, 0xAB)
    outer_iv = seq_bytes(0xF0, 0xFB)
    for i in (org_id, project_id, env_id, user_id, invite_id, deploy_id):
        assert is_id(i), i
    assert is_canonical_email(email)
    for x in (device_secret, invite_token, deploy_token, kek):
        assert len(x) == 32
    assert len(sealed_iv) == 12 and len(outer_iv) == 12

    # 2.1 seed phrase and M
    phrase = entropy_to_mnemonic(entropy, words)
    assert len(phrase.split(" ")) == 24 and phrase == phrase.lower()
    assert mnemonic_to_entropy(phrase, words) == entropy
    master = pbkdf2(b(phrase), b"capy-mnemonic", 2048, 32)
    key_check = hx(hkdf(master, b(org_id), b"capy:key-check", 16))
    pk = hkdf(master, b(org_id), b("capy:project:" + project_id), 32)

    epochs = {}
    ek = {}
    sign_keys = {}
    sub = {}
    for e in (1, 2):
        ek[e] = hkdf(pk, b(project_id), b("capy:env:%s:%d" % (env_id, e)), 32)
        snippet_key = hkdf(ek[e], b(env_id), b"capy:snippet", 32)
        rid_key = hkdf(ek[e], b(env_id), b"capy:rid", 32)
        seed = hkdf(pk, b(env_id), b("capy:env-sign:%d" % e), 32)
        sk, pub = ed25519_from_seed(seed)
        sign_keys[e] = sk
        sub[e] = (snippet_key, rid_key)
        epochs[str(e)] = {
            "env_key": hx(ek[e]), "snippet_key": hx(snippet_key), "rid_key": hx(rid_key),
            "signing_seed": hx(seed), "signing_public_key": hx(pub),
            "signing_public_key_b64u": b64u(pub),
        }

    snippet_key1, rid_key1 = sub[1]
    rids = {n: rid(rid_key1, n) for n in ("DATABASE_URL", "API_KEY", "_x.y", "A")}

    # 2.3 snippets (epoch 1)
    snippet_inputs = [
        ("DATABASE_URL", "postgres://u:p@db.internal:5432/app", 0, seq_bytes(0xB0, 0xBB)),
        ("API_KEY", 's3cr=t "q" ${HOME}\nline2', 1, seq_bytes(0xC0, 0xCB)),
        ("_x.y", "", 0, seq_bytes(0xD0, 0xDB)),
    ]
    for name, _, _, _ in snippet_inputs:
        assert is_var_name(name), name
    snippets = [snippet(snippet_key1, rid_key1, n, f, v, iv) for n, v, f, iv in snippet_inputs]
    by_name = {s["name"]: s["snippet"] for s in snippets}

    # 2.4 blobs
    blob1 = make_blob(sign_keys[1], project_id, env_id, 1, 1, "-",
                      [s["snippet"] for s in snippets])
    blob2 = make_blob(sign_keys[1], project_id, env_id, 1, 2, blob1["id"],
                      [by_name["DATABASE_URL"], by_name["_x.y"]])

    # 2.1/2.2 inner layers
    inner_wrap_key = hkdf(device_secret, hashlib.sha256(b(user_id + ":" + org_id)).digest(),
                          b"capy:inner-wrap", 32)
    key_enc_aad = "capy:key:" + org_id + ":" + user_id
    key_enc_blob = seal(inner_wrap_key, master, b(key_enc_aad), sealed_iv)

    invite_inner_key = hkdf(invite_token, b(org_id + ":" + email), b"capy:invite", 32)
    invite_aad = "capy:invite:" + org_id + ":" + email
    invite_blob = seal(invite_inner_key, master, b(invite_aad), sealed_iv)

    deploy_inner_key = hkdf(deploy_token, b(env_id), b"capy:deploy", 32)
    deploy_auth_key = hkdf(deploy_token, b(env_id), b"capy:deploy-auth", 32)
    deploy_aad = "capy:deploy:%s:%d" % (env_id, 1)
    deploy_blob = seal(deploy_inner_key, ek[1], b(deploy_aad), sealed_iv)

    # 2.6 outer wrap
    outer = {}
    for purpose, subject, inner in (("key", user_id, key_enc_blob),
                                    ("invite", invite_id, invite_blob),
                                    ("deploy", deploy_id, deploy_blob)):
        outer_key = hkdf(kek, b(org_id), b("capyd:outer:" + purpose), 32)
        aad = purpose + ":" + org_id + ":" + subject
        blob = b"\x01" + struct.pack(">I", kek_id) + seal(outer_key, inner, b(aad), outer_iv)
        outer[purpose] = {"outer_key": hx(outer_key), "aad": aad, "blob": hx(blob)}

    # 2.5 codes
    p_redeem = (b"\x01" + u16len(service_url) + u8len(org_id) + u8len(invite_id)
                + invite_token)
    p_deploy = (b"\x01" + u16len(service_url) + u8len(org_id) + u8len(project_id)
                + u8len(env_id) + struct.pack(">I", 1) + u8len(deploy_id) + deploy_token)
    codes = {
        "redeem": {"payload_hex": hx(p_redeem), "code": code("capy-redeem-", p_redeem)},
        "deploy": {"payload_hex": hx(p_deploy), "code": code("capy-deploy-", p_deploy)},
    }
    for c, p in ((codes["redeem"]["code"], p_redeem), (codes["deploy"]["code"], p_deploy)):
        raw = b64u_decode_strict(c.split("-", 2)[2])
        assert raw[:-4] == p and struct.unpack(">I", raw[-4:])[0] == zlib.crc32(p)

    # 3 (Deploy) key file line
    key_file_line = "capy-ek 1 %s %d %s\n" % (env_id, 1, hx(ek[1]))

    # 4 audit chain
    audit = []
    prev = "0" * 64
    for seq, time, actor, action, target, result in (
            (1, "2026-11-23T02:30:06.123456789Z", user_id, "co-decrypt", user_id, "ok"),
            (2, "2026-11-23T02:31:00.000000000Z", user_id, "push", env_id, "ok")):
        assert is_audit_time(time), time
        h = audit_hash(prev, seq, time, actor, action, target, result)
        audit.append({"prev_hash": prev, "seq": seq, "time": time, "actor": actor,
                      "action": action, "target": target, "result": result, "hash": h})
        prev = h

    out = {
        "inputs": {
            "entropy": hx(entropy), "phrase": phrase, "org_id": org_id,
            "project_id": project_id, "env_id": env_id, "user_id": user_id,
            "invite_id": invite_id, "deploy_id": deploy_id, "email": email,
            "device_secret": hx(device_secret), "invite_token": hx(invite_token),
            "deploy_token": hx(deploy_token), "service_url": service_url,
            "kek": hx(kek), "kek_id": kek_id, "sealed_iv": hx(sealed_iv),
            "outer_iv": hx(outer_iv),
        },
        "master_key": hx(master),
        "key_check": key_check,
        "project_key": hx(pk),
        "epochs": epochs,
        "rids": rids,
        "snippets": snippets,
        "inner_wrap_key": hx(inner_wrap_key),
        "key_enc_inner": {"aad": key_enc_aad, "blob": hx(key_enc_blob)},
        "invite_inner_key": hx(invite_inner_key),
        "invite_inner": {"aad": invite_aad, "blob": hx(invite_blob)},
        "deploy_inner_key": hx(deploy_inner_key),
        "deploy_auth_key": hx(deploy_auth_key),
        "deploy_auth_verifier": hashlib.sha256(deploy_auth_key).hexdigest(),
        "deploy_inner": {"aad": deploy_aad, "blob": hx(deploy_blob)},
        "outer": outer,
        "blobs": [blob1, blob2],
        "codes": codes,
        "key_file_line": key_file_line,
        "audit": audit,
        "hkdf_rfc5869": HKDF_RFC5869,
    }
    text = json.dumps(out, sort_keys=True, indent=2) + "\n"
    with open(os.path.join(HERE, "vectors.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


if __name__ == "__main__":
    main()
