"""Is an archived call the dongle's? Its raw log's seals checked with the device's key
(callcue.archive.seal, keys from callcue.archive.keys), and the rows reports are computed from (the
session's per-second records and talk-over events) compared with what that log decodes
to: an edited, deleted, added or reordered row, or a blob that was edited or forged, is
caught by one or the other.

check_session() gives a Check: `mark` is one of
- VERIFIED: the rows are the log's and its seals verify (also unclosed or recovered by
  the device: the note says so);
- NOT_SIGNED: the rows are the log's, but nothing proves the log (or its last records):
  no key known for the device, the log has no seal and the device had no key when it
  recorded it, or records after the last seal (an unsealed tail);
- NOT_VERIFIED: the rows differ from the log, the log does not decode, a seal is broken
  or under a key this host does not hold for the device, its seals read otherwise than
  when it was pulled (segments cut off its end, a seal damaged), or the log has no seal
  though it was sealed when pulled or the device had a key when it recorded it (seals
  stripped).
"""

from callcue.archive import seal as hs
from callcue.archive.keys import key_id
from callcue.archive.store import RECORD_COLUMNS
from firmware.logformat import decode_log

VERIFIED, NOT_SIGNED, NOT_VERIFIED = "verified", "not signed", "not verified"
# A call's start is the dongle's clock, the key's time this host's: an unsigned call is
# taken for a stripped one only when it started this long after its device got a key
CLOCK_MARGIN_S = 300
EVENT_FIELDS = ("seq", "start_f", "end_f", "interrupter")


class Check:
    def __init__(self, mark, note, seal=None):
        self.mark, self.note, self.seal = mark, note, seal

    @property
    def failed(self):
        return self.mark == NOT_VERIFIED

    def __repr__(self):
        return "Check(%s: %s)" % (self.mark, self.note)


def seal_result(raw, keys):
    """callcue.archive.seal.verify of `raw` under the one of `keys` ([(key, since)]) that sealed
    it (by the seals' key id), else under the newest (wrong_key). None: no key."""
    if not keys:
        return None
    res = None
    for key, _since in reversed(keys):
        res = hs.verify(raw, key)
        if res.status != hs.WRONG_KEY:
            return res
    return res


def _rows_problem(sess, raw, recs, events):
    """How the archived rows differ from the raw log, or None."""
    try:
        hdr, secs, evs = decode_log(raw)
    except ValueError as e:
        return "the archived log does not decode (%s)" % e
    for field, want in (("device_id", hdr["device_id"]), ("session_id", hdr["session_id"]),
                        ("start_time", hdr["start_time"])):
        if sess.get(field) != want:
            return "its %s is %r, the log says %r" % (field, sess.get(field), want)
    if sess.get("n_records") is not None and sess["n_records"] != len(secs):
        return "it counts %d records, the log holds %d" % (sess["n_records"], len(secs))
    for what, have, want, fields in (("record", recs, secs, RECORD_COLUMNS),
                                     ("talk-over event", events, evs, EVENT_FIELDS)):
        for i, (a, b) in enumerate(zip(have, want)):
            diff = [f for f in fields if a.get(f) != b.get(f)]
            if diff:
                return "%s %d (seq %s) differs from the log in %s" % (
                    what, i, b["seq"], ", ".join(diff))
        if len(have) != len(want):
            return "%d %s rows, the log holds %d (rows %s)" % (
                len(have), what, len(want), "deleted" if len(have) < len(want) else "added")
    return None


def check_session(ar, sess, store):
    """Check archived session `sess` (a row of Archive.sessions()) against its raw log
    and the device's keys in `store` (callcue.archive.keys.KeyStore). Read-only."""
    raw = ar.raw(sess["pk"])
    if raw is None:
        return Check(NOT_VERIFIED, "no raw log archived")
    # the rows are read in seq order, so a reordering shows as rows out of place
    problem = _rows_problem(sess, raw, ar.records(sess["pk"]), ar.events(sess["pk"]))
    keys = store.keys(sess["device_id"]) if store is not None else []
    res = seal_result(raw, keys)
    if problem is not None:
        return Check(NOT_VERIFIED, "rows differ from the log: " + problem, res)
    pulled = ar.seal(sess["pk"])[0]
    if res is None:
        return Check(NOT_SIGNED, "no key known for %s" % sess["device_id"])
    if res.status in (hs.BROKEN, hs.WRONG_KEY):
        return Check(NOT_VERIFIED, res.message, res)
    if pulled is not None and pulled != res.status:
        # e.g. sealed segments cut off the end (verified -> unclosed), a seal's CRC
        # broken (-> unsealed tail): the log is not what was pulled
        return Check(NOT_VERIFIED, "its seals read %s now, %s when it was pulled (%s)" % (
            res.status, pulled, res.message), res)
    if res.status == hs.NOT_SIGNED:
        since = keys[0][1]
        if pulled not in (None, hs.NOT_SIGNED):
            return Check(NOT_VERIFIED, "no seal, but it was sealed (%s) when pulled: seals "
                         "stripped" % pulled, res)
        if sess["start_time"] > 0 and since and sess["start_time"] >= since + CLOCK_MARGIN_S:
            return Check(NOT_VERIFIED, "no seal, but %s had key %s since before this call "
                         "started: seals stripped" % (
                             sess["device_id"], key_id(keys[0][0])), res)
        return Check(NOT_SIGNED, "recorded before %s had a key" % sess["device_id"], res)
    if res.status == hs.UNSEALED_TAIL:   # those records are not proven: not "verified"
        return Check(NOT_SIGNED, res.message, res)
    return Check(VERIFIED, res.message, res)
