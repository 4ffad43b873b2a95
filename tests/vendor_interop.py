#!/usr/bin/python3
"""vendor_interop.py: a vendor's side of vrmfs messages, written with code the
project did not write: the Python standard library and PyNaCl (Debian:
python3-nacl).  Nothing is imported from vrmfs; the format is the one
vrmfs(5) and lib/msg/envelope.h describe.

    vendor_interop.py open SECRET_JSON FILE
        Open a message from the person (FILE) with the vendor's X25519
        secret from SECRET_JSON (as 'vrmfs vendor keygen' writes it), verify
        the JWS inside with the Ed25519 key in its header's "jwk", and print
        the payload (pretty JSON).  Exit 0, or 1 with the reason on stderr.

    vendor_interop.py reply SECRET_JSON IDENTITY_JSON SPOOL_DIR [IN_REPLY_TO]
        Build a reply {v, id, kind, from, to, created, [in_reply_to,] body},
        sign it as a JWS (EdDSA) with the vendor's Ed25519 key, seal it with
        a sealed box to the "x25519" of IDENTITY_JSON (the person's
        identity.json for this vendor), deliver it into the maildir SPOOL_DIR
        (tmp/ID.vrm, then new/ID.vrm) and print the id.

The wire: crypto_box_seal(JWS compact serialization) to the recipient's
X25519 key.  The JWS header: {"alg":"EdDSA","kid":KID,"typ":"vrm+jws",
"jwk":{"kty":"OKP","crv":"Ed25519","x":B64URL}}; a vendor's KID is the
unpadded base64url of the first 16 bytes of BLAKE2b-256 of its Ed25519 key.
"""

import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import sys

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class Refused(Exception):
    """A message or an input that does not pass."""


def b64url_decode(text, size=None):
    """Decode unpadded base64url strictly (one text per value)."""
    if not isinstance(text, str) or not B64URL.match(text) or len(text) % 4 == 1:
        raise Refused("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise Refused("not canonical base64url")
    if size is not None and len(raw) != size:
        raise Refused("%d bytes, not %d" % (len(raw), size))
    return raw


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Refused("duplicate key in JSON")
    return dict(pairs)


def load_json(path):
    with open(path, "rb") as f:
        obj = json.loads(f.read().decode("utf-8"), object_pairs_hook=no_duplicates)
    if not isinstance(obj, dict):
        raise Refused("%s: not a JSON object" % path)
    return obj


def load_secret(path):
    """The vendor's secret.json: the Ed25519 signing key and X25519 key."""
    s = load_json(path)
    ed = b64url_decode(s.get("ed25519_secret"), 64)
    x = b64url_decode(s.get("x25519_secret"), 32)
    # libsodium's Ed25519 secret key is seed || public key.
    sign = SigningKey(ed[:32])
    if bytes(sign.verify_key) != ed[32:]:
        raise Refused("%s: ed25519_secret is inconsistent" % path)
    return sign, PrivateKey(x)


def key_id(ed25519_public):
    return b64url_encode(hashlib.blake2b(ed25519_public, digest_size=32).digest()[:16])


def open_message(secret_path, path):
    _, box_key = load_secret(secret_path)
    with open(path, "rb") as f:
        wire = f.read()
    try:
        jws = SealedBox(box_key).decrypt(wire)
    except CryptoError:
        raise Refused("the sealed box does not open with this key")
    try:
        text = jws.decode("ascii")
    except UnicodeError:
        raise Refused("not a JWS (not ASCII)")
    parts = text.split(".")
    if len(parts) != 3:
        raise Refused("not a JWS: a compact serialization has three segments")
    header = json.loads(b64url_decode(parts[0]), object_pairs_hook=no_duplicates)
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise Refused("header alg is not EdDSA")
    if "crit" in header:
        raise Refused("unsupported critical header parameters")
    if header.get("typ") != "vrm+jws":
        raise Refused("header typ is not vrm+jws")
    if not isinstance(header.get("kid"), str):
        raise Refused("header has no kid")
    jwk = header.get("jwk")
    if (not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519"
            or "d" in jwk):
        raise Refused("header has no Ed25519 jwk")
    key = b64url_decode(jwk.get("x"), 32)
    signature = b64url_decode(parts[2], 64)
    try:
        VerifyKey(key).verify((parts[0] + "." + parts[1]).encode("ascii"), signature)
    except BadSignatureError:
        raise Refused("the signature does not verify")
    payload = json.loads(b64url_decode(parts[1]).decode("utf-8"),
                         object_pairs_hook=no_duplicates)
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise Refused("the payload is not a version 1 message")
    return payload


def write_maildir(spool, msg_id, data):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(spool, sub), mode=0o700, exist_ok=True)
    tmp = os.path.join(spool, "tmp", msg_id + ".vrm")
    dst = os.path.join(spool, "new", msg_id + ".vrm")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.link(tmp, dst)           # fails if the id is already there
    os.unlink(tmp)
    dfd = os.open(os.path.join(spool, "new"), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def reply(secret_path, identity_path, spool, in_reply_to=None):
    sign, _ = load_secret(secret_path)
    ident = load_json(identity_path)
    person_id = ident.get("id")
    b64url_decode(person_id, 16)
    person_box = PublicKey(b64url_decode(ident.get("x25519"), 32))
    pub = bytes(sign.verify_key)
    kid = key_id(pub)
    msg_id = b64url_encode(os.urandom(16))
    payload = {
        "v": 1,
        "id": msg_id,
        "kind": "reply",
        "from": kid,
        "to": person_id,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if in_reply_to is not None:
        payload["in_reply_to"] = in_reply_to
    payload["body"] = {"text": "Thank you, Ada. Your parcel ships on Tuesday \u2014 ACME."}
    header = {"alg": "EdDSA", "kid": kid, "typ": "vrm+jws",
              "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(pub)}}
    compact = lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    signing_input = b64url_encode(compact(header)) + "." + b64url_encode(compact(payload))
    signature = sign.sign(signing_input.encode("ascii")).signature
    jws = signing_input + "." + b64url_encode(signature)
    write_maildir(spool, msg_id, SealedBox(person_box).encrypt(jws.encode("ascii")))
    return msg_id


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "open":
            print(json.dumps(open_message(argv[2], argv[3]), indent=2, ensure_ascii=False))
            return 0
        if len(argv) in (5, 6) and argv[1] == "reply":
            print(reply(argv[2], argv[3], argv[4], argv[5] if len(argv) == 6 else None))
            return 0
    except Refused as e:
        print("vendor_interop: %s" % e, file=sys.stderr)
        return 1
    except (OSError, ValueError, UnicodeError, binascii.Error, CryptoError) as e:
        print("vendor_interop: %s" % e, file=sys.stderr)
        return 1
    print("usage: vendor_interop.py open SECRET_JSON FILE\n"
          "       vendor_interop.py reply SECRET_JSON IDENTITY_JSON SPOOL_DIR [IN_REPLY_TO]",
          file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
