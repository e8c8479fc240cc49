"""Giving a dongle its sealing key (`callcue device key`): the key store's side of
set_key (firmware/LOGFORMAT.md, "Seal"; the key store itself is callcue.archive.keys).

A new key is saved as pending before it leaves this host, and only the device's answer
decides what becomes of it, so a run cut off between set_key and its reply loses nothing:
the next run settles it (settle_pending).
"""

import secrets

from callcue.archive.keys import KEY_SIZE, key_id
from callcue.archive.pull import check_device, dev_name
from callcue.errors import CommandError


def settle_pending(dev, store, info, say=print):
    """A key left pending by an earlier run (cut off between set_key and its reply):
    kept if the device shows it (it was accepted), dropped if not (it never took it).
    Returns the device's info, as it is now."""
    device_id = info["device_id"]
    p = store.pending(device_id)
    if p is None:
        return info
    if info.get("key_id") == key_id(p[0]):
        store.confirm(device_id)
        say("the key %s sent earlier was accepted by %s; saved" % (key_id(p[0]), device_id))
    else:
        store.drop_pending(device_id)
        say("the key %s sent earlier never reached %s; dropped" % (key_id(p[0]), device_id))
    return info


def provision(dev, store, rotate=False, say=print):
    """Give the connected dongle a new key (see the module doc). The key is saved as
    pending before set_key is sent, and only the device's answer decides: accepted, it
    becomes the current key; refused, it is dropped; no answer, the device's info says
    which (or, unreachable, it stays pending for the next run to settle). Returns
    (device_id, key_id) of the key now in force."""
    from callcue.device.client import DeviceError
    from firmware.seal import rekey_proof

    info = check_device(dev)
    device_id = info["device_id"]
    store.path(device_id)                      # the id names a file: checked
    info = settle_pending(dev, store, info, say)
    args = {}
    if info.get("key_set"):
        cur = store.find(device_id, info.get("key_id"))
        if not rotate:
            if cur is not None:
                say("%s already has key %s (in %s); nothing to do (--rotate replaces it)" % (
                    device_id, info["key_id"], store.folder))
                return device_id, info["key_id"]
            raise CommandError(dev_name(dev), "%s has a key (%s) that is not in %s; give the "
                               "key store that provisioned it (--keys DIR)" % (
                                device_id, info.get("key_id"), store.folder))
        if cur is None:
            raise CommandError(dev_name(dev), "cannot replace %s's key %s: it is not in %s, and "
                               "the device takes a new key only with proof of the current one"
                               % (device_id, info.get("key_id"), store.folder))
    elif rotate:
        say("%s has no key yet: giving it its first" % device_id)
    new = secrets.token_bytes(KEY_SIZE)
    if info.get("key_set"):
        args["proof"] = rekey_proof(cur, new).hex()
    store.save_pending(device_id, new)          # before it leaves this host
    try:
        reply = dev.request("set_key", key=new.hex(), **args)
    except DeviceError as e:
        if e.code in ("MISMATCH", "BAD_ARGS", "STORAGE", "BUSY", "UNSUPPORTED"):
            store.drop_pending(device_id)       # refused: nothing changed on the device
            raise CommandError(dev_name(dev), "the device refused the key (%s); no key "
                               "saved" % e) from None
        try:                                    # no answer: ask what the device holds
            now = dev.info()
        except (DeviceError, OSError):
            raise CommandError(dev_name(dev), "no answer to set_key (%s); the key is kept as "
                               "pending in %s: run `callcue device key` again with the dongle "
                               "connected to settle it" % (e, store.folder)) from None
        settle_pending(dev, store, now, say=lambda _m: None)
        if now.get("key_id") != key_id(new):
            raise CommandError(dev_name(dev), "the device did not take the key (%s); no key "
                               "saved" % e) from None
        reply = {"key_id": now["key_id"]}
    except OSError as e:
        raise CommandError(dev_name(dev), "the device went away during set_key (%s); the key "
                           "is kept as pending in %s: run `callcue device key` again with the "
                           "dongle connected to settle it" % (e.strerror or e, store.folder)
                           ) from None
    if reply.get("key_id") != key_id(new):
        store.drop_pending(device_id)
        raise CommandError(dev_name(dev), "the device answered key_id %s for key %s; no key "
                           "saved" % (reply.get("key_id"), key_id(new)))
    if store.pending(device_id) is not None:
        store.confirm(device_id)
    say("%s: %s key %s, saved in %s" % (
        device_id, "replaced its key with" if args else "provisioned", key_id(new),
        store.path(device_id)))
    return device_id, key_id(new)
