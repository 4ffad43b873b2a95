#!/usr/bin/python3
"""verify_jws.py: check a vrmfs JWS (a consent receipt or a message) with
code the project did not write: the Python standard library and PyNaCl
(Debian: python3-nacl).

    verify_jws.py JWS_FILE ED25519_B64URL

JWS_FILE holds one JWS compact serialization (a final newline is allowed);
ED25519_B64URL is the signer's 32-byte Ed25519 public key, unpadded
base64url (the "ed25519" of the vendor's identity.json).  Prints the payload
(pretty, when it is JSON) and exits 0 if the header says alg EdDSA and the
signature verifies; otherwise says why on stderr and exits 1.
"""

import base64
import binascii
import json
import re
import sys

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode(text):
    """Decode unpadded base64url strictly: no padding, no other alphabet,
    no length that cannot occur, no stray bits."""
    if not B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != text:
        raise ValueError("not canonical base64url")
    return raw


def verify(jws, key_b64):
    """Return the payload bytes of `jws` if it verifies under the key."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise ValueError("a JWS compact serialization has three segments")
    header = json.loads(b64url_decode(parts[0]))
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise ValueError("header alg is not EdDSA")
    if "crit" in header:
        raise ValueError("unsupported critical header parameters")
    payload = b64url_decode(parts[1])
    signature = b64url_decode(parts[2])
    if len(signature) != 64:
        raise ValueError("an Ed25519 signature is 64 bytes")
    key = b64url_decode(key_b64)
    if len(key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    VerifyKey(key).verify(signing_input, signature)
    return payload


def main(argv):
    if len(argv) != 3:
        print("usage: verify_jws.py JWS_FILE ED25519_B64URL", file=sys.stderr)
        return 1
    try:
        with open(argv[1], "r", encoding="ascii") as f:
            text = f.read()
        if text.endswith("\n"):
            text = text[:-1]
        payload = verify(text, argv[2].strip())
    except BadSignatureError:
        print("verify_jws: the signature does not verify", file=sys.stderr)
        return 1
    except (OSError, ValueError, UnicodeError, binascii.Error) as e:
        print("verify_jws: %s" % e, file=sys.stderr)
        return 1
    try:
        print(json.dumps(json.loads(payload), indent=2, ensure_ascii=False))
    except ValueError:
        sys.stdout.write(payload.decode("utf-8", "replace") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
