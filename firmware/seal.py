"""Tamper evidence: HMAC-SHA256 (RFC 2104) on hashlib.sha256, and the device's key file.

MicroPython ships hashlib.sha256 but no hmac module, so HMAC is built here from its
definition: H((K ^ opad) || H((K ^ ipad) || message)), K the key zero-padded to the
64-byte block (hashed first if longer). The session log seals its records with it
(sessionlog.py, LOGFORMAT.md "Seal"); tests check it against CPython's hmac.

The key is 32 bytes, provisioned once by the host (`set_key`, PROTOCOL.md) and kept in
its own file; nothing in the protocol reads it back. Runs unchanged on CPython.
"""

import hashlib

KEY_SIZE = 32
KEY_ID_SIZE = 4              # the key id: the first bytes of SHA-256 of the key
TAG_SIZE = 16                # a seal's tag: HMAC-SHA256 truncated (RFC 2104 section 5)
_BLOCK = 64                  # SHA-256's block size
_REKEY = b"callcue set_key "  # what a key change's proof is computed over, then the new key


class Hmac:
    """HMAC-SHA256 under one key, its pads computed once (a seal then costs two SHA-256
    objects and the bytes hashed, no key work)."""

    def __init__(self, key):
        self.key_id = key_id(key)
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        k = bytearray(_BLOCK)
        k[:len(key)] = key
        self._ipad = bytes([b ^ 0x36 for b in k])
        self._opad = bytes([b ^ 0x5C for b in k])

    def start(self):
        """A running inner hash: update() it with the message, then finish() it."""
        h = hashlib.sha256()
        h.update(self._ipad)
        return h

    def finish(self, h):
        """The 32-byte HMAC of what h (from start()) was fed."""
        o = hashlib.sha256()
        o.update(self._opad)
        o.update(h.digest())
        return o.digest()

    def mac(self, msg):
        h = self.start()
        h.update(msg)
        return self.finish(h)


def hmac_sha256(key, msg):
    """HMAC-SHA256(key, msg), 32 bytes (RFC 2104; any key length)."""
    return Hmac(key).mac(msg)


def key_id(key):
    """The key's public id: the first KEY_ID_SIZE bytes of SHA-256 of the key."""
    return hashlib.sha256(key).digest()[:KEY_ID_SIZE]


def rekey_proof(current_key, new_key):
    """What a host sends to replace a key that is set: it proves the host holds the
    current key without sending it."""
    return hmac_sha256(current_key, _REKEY + new_key)


def load_key(path):
    """The key in the file at path (exactly KEY_SIZE bytes), or None: no file, or a
    file of another size (a torn write; the host provisions again)."""
    try:
        with open(path, "rb") as f:
            key = f.read(KEY_SIZE + 1)
    except OSError:
        return None
    return key if len(key) == KEY_SIZE else None


def save_key(path, key):
    """Write the key file: a copy, then renamed over it (atomic on LittleFS, so a power
    cut leaves the old key or the new one). Raises OSError."""
    import os
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(key)
    os.rename(tmp, path)


def equal(a, b):
    """a == b for two byte strings, in time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0
