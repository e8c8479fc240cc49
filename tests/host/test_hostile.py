"""Nothing a device sends is trusted, and nothing in its config file stops it.

Device side, under the real MicroPython unix port: `Config.load` survives any file (too
big, nested too deep, bad JSON, wrong types, and with the RP2040's ~190 KB heap) and
falls back to defaults with a status; a calibration too big or too deep is refused when
set; the link never sends a line over the protocol's MAX_REPLY (it answers TOO_LARGE).
Host side: a reply line over MAX_REPLY fails its request at once (no wait for a
timeout), and the link goes on; JSON nested thousands deep, bad session lists, sizes and
chunks are errors; a device id that is no safe file name (`/abs/path`, `../x`, ...) makes
`logs pull` stop with one line naming the port before anything is written; a 100 KB or
20,000-deep calibration in the virtual dongle's config file leaves `device info` working.
"""

import json
import time

import numpy as np
import pytest
import soundfile

from callcue.device import wire as W
from callcue.device.client import Device, DeviceError
from firmware import protocol as P

from .. import synthlogs
from ..conftest import one_line_error
from ..firmware import test_protocol as protocol_tests
from ..mpyrun import ROOT, run

MPY = ROOT / "tests" / "firmware" / "mpy"
RP2040_HEAP = "190K"


# ------------------------------------------------------------------ the device's config


def _config_files(folder):
    """name -> file text: every kind of bad config file, and two good ones."""
    good = {"version": 1, "device_id": "cc-0042", "params": {"talkover_min_ms": 600},
            "calibration": {"rep": {"loss_db": 18}}}
    files = {
        "good": json.dumps(good),
        "huge": json.dumps({**good, "calibration": {"pad": "y" * 300_000}}),
        "bigcal": json.dumps({**good, "calibration": {"note": "x" * 5000}}),
        "deep": '{"version": 1, "params": {}, "calibration": ' + '{"a":' * 1300 + "1"
                + "}" * 1300 + "}",
        "deeplist": "[" * 4000 + "]" * 4000,
        "deepcal": json.dumps({**good, "calibration": {"a": {"b": {"c": {"d": {"e": 1}}}}}}),
        "notjson": "{not json",
        "binary": "\x00\xff\x01garbage",
        "empty": "",
        "list": "[1, 2, 3]",
        "version": json.dumps({**good, "version": "1"}),
        "params_list": json.dumps({**good, "params": [1, 2]}),
        "params_text": json.dumps({**good, "params": {"talkover_min_ms": "600"}}),
        "params_float": json.dumps({**good, "params": {"talkover_min_ms": 600.5}}),
        "cal_list": json.dumps({**good, "calibration": [1, 2]}),
        "cal_null": json.dumps({**good, "calibration": None}),
        "id_number": json.dumps({**good, "device_id": 7}),
    }
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_bytes(text.encode("latin-1"))
        paths.append(path)
    return paths


@pytest.mark.parametrize("heap", [RP2040_HEAP, None])
def test_config_load_survives_any_file(micropython, tmp_path, heap):
    args = ["-X", f"heapsize={heap}"] if heap else []
    out = run(micropython, *args, MPY / "config_hostile.py", ROOT,
              *_config_files(tmp_path))
    rows = {}
    for line in out.splitlines():
        if "|" in line:
            name, status, params, cal_bytes, dev_id = line.split("|")
            rows[name] = (status, json.loads(params), int(cal_bytes), dev_id)
    assert rows["good"] == ("ok", {"talkover_min_ms": 600}, len('{"rep": {"loss_db": 18}}'),
                            "cc-0042")
    assert rows["cal_null"][0] == "ok" and rows["cal_null"][2] == 2
    assert rows["huge"][0] == "bad json: %d bytes, at most 8192" % (  # never read
        tmp_path / "huge").stat().st_size
    assert rows["bigcal"][0].startswith("bad calibration: 50")
    assert rows["bigcal"][0].endswith(" bytes, at most 2048")
    assert rows["deepcal"][0] == "bad calibration: nested deeper than 4"
    assert rows["cal_list"][0] == "bad calibration: must be an object"
    # thousands deep: the reader's MemoryError or RecursionError, caught, or (with heap
    # enough to read it) the depth check
    assert rows["deep"][0].startswith(("bad json: ", "bad calibration: nested")), rows
    assert rows["deeplist"][0].startswith(("bad json: ", "bad version")), rows
    for name in ("notjson", "binary", "empty"):
        assert rows[name][0] == "bad json", rows[name]
    for name in ("list", "version"):
        assert rows[name][0] == "bad version"
    for name in ("params_list", "params_text", "params_float"):
        assert rows[name][0].startswith("bad params"), rows[name]
    # a bad file of any kind: the defaults, no overrides, no calibration, the default id
    for name, (status, params, cal_bytes, dev_id) in rows.items():
        if status.startswith("bad"):
            assert (params, cal_bytes, dev_id) == ({}, 2, "cc-default"), name
    assert rows["id_number"][0] == "ok" and rows["id_number"][3] == "cc-default"
    sets = [line for line in out.splitlines() if line.startswith("set ")]
    assert sets[0].startswith("set big: ValueError calibration: 30")
    assert sets[1:] == [
                    "set deep: ValueError calibration: nested deeper than 4",
                    "set list: ValueError calibration: must be an object",
                    'set fine: ok {"rep": {"loss_db": 18}}'], sets


def test_link_never_sends_a_line_over_the_limit(micropython):
    """A reply of 100 KB of text, one nested 20,000 deep, one of 10,000 small integers:
    TOO_LARGE each; one exactly MAX_REPLY long is sent; the link answers the next
    request. Under the RP2040's heap the handlers themselves may run out of memory
    (INTERNAL), but no line is ever longer and the link still answers."""
    out = run(micropython, MPY / "link_oversize.py", ROOT).encode()
    lines = out.split(b"\n")[:-1]
    assert [line[:16] for line in lines] == [
        b"ERR 1 TOO_LARGE ", b"ERR 2 TOO_LARGE ", b"ERR 3 TOO_LARGE ",
        b"OK 4 {\"result\":{", b"OK 5 {\"protocol\""]
    assert len(lines[3]) + 1 == P.MAX_REPLY
    assert W.parse_response(lines[1]) == ("ERR", 2, ("TOO_LARGE",
                                                     "reply nested deeper than 16"))
    out = run(micropython, "-X", f"heapsize={RP2040_HEAP}", MPY / "link_oversize.py",
              ROOT).encode()
    lines = out.split(b"\n")[:-1]
    assert len(lines) == 5 and all(len(line) + 1 <= P.MAX_REPLY for line in lines)
    assert {W.parse_response(line)[2][0] for line in lines[:3]} <= {"TOO_LARGE", "INTERNAL"}
    assert lines[4] == b'OK 5 {"protocol":1}'


# ------------------------------------------------------------------ the host's client


class FakePort(protocol_tests.FakePort):
    """test_protocol's scripted port, with all of its input waiting at once."""

    @property
    def in_waiting(self):
        return min(len(self.incoming), 4096)


def test_client_overlong_reply_fails_at_once_and_the_link_goes_on():
    port = FakePort()
    dev = Device(port, sync=False, timeout=10.0)
    rid = dev._rid + 1
    port.incoming += (f"OK {rid} {{\"calibration\":\"" + "x" * 100_000 + "\"}\n").encode()
    port.incoming += f"OK {rid + 1} {{\"protocol\":1}}\n".encode()
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as e:
        dev.info()
    assert time.monotonic() - t0 < 2.0       # not the 10 s timeout
    assert e.value.code == W.BAD_RESPONSE and "65536" in e.value.message
    assert dev.ping() == {"protocol": 1}
    # exactly MAX_REPLY bytes with the terminator is a good line
    head = f"OK {rid + 2} {{\"protocol\":1,\"pad\":\""
    text = head + "x" * (P.MAX_REPLY - len(head) - 3) + "\"}\n"
    assert len(text) == P.MAX_REPLY
    port.incoming += text.encode()
    assert dev.ping()["protocol"] == 1


def test_client_rejects_hostile_replies():
    port = FakePort()
    dev = Device(port, sync=False, timeout=0.5)

    def reply(body):
        port.incoming += f"OK {dev._rid + 1} {body}\n".encode()

    reply('{"protocol":1,"x":' + "[" * 20000 + "]" * 20000 + "}")  # RecursionError
    with pytest.raises(DeviceError) as e:
        dev.ping()
    assert e.value.code == W.BAD_RESPONSE and "deep" in e.value.message
    for body in ('{"sessions":[{"id":"../x","bytes":1}]}', '{"sessions":[{"id":-1}]}',
                 '{"sessions":[7]}', '{"sessions":[{"id":1,"start":"0"}]}'):
        reply(body)
        with pytest.raises(DeviceError) as e:
            dev.sessions()
        assert e.value.code == W.BAD_RESPONSE, body
    for body in ('{"id":3,"bytes":1099511627776,"crc32":1,"open":false}',
                 '{"id":4,"bytes":10,"crc32":1,"open":false}',
                 '{"id":3,"bytes":-5,"crc32":1,"open":false}'):
        reply(body)
        with pytest.raises(DeviceError) as e:
            dev.stat_session(3)
        assert e.value.code == W.BAD_RESPONSE, body
    # a chunk longer than asked for: never appended
    reply(P.dumps(P.chunk_reply(3, 0, 100, bytes(64))))
    with pytest.raises(DeviceError) as e:
        dev._chunk(3, 0, 32, retries=0)
    assert e.value.code == W.CRC


# ------------------------------------------------------------------ the commands, end to end


def _device_folder(folder, device_id, config=None, header_id=None):
    """A virtual dongle's storage: /config.json and one finished session log."""
    (folder / "logs").mkdir(parents=True)
    doc = {"version": 1, "device_id": device_id, "params": {}}
    (folder / "config.json").write_text(config if config is not None else json.dumps(doc))
    log = synthlogs.log(header_id or "cc-fine-0001", 1, 1_790_000_000,
                        synthlogs.body(30, seed=1))
    (folder / "logs" / "s000001.log").write_bytes(log)
    return folder


@pytest.fixture(scope="module")
def silence(tmp_path_factory):
    wav = tmp_path_factory.mktemp("wav") / "silence.wav"
    soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
    return wav


def _files(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("device_id", ["{tmp}/outside/evil", "../../escaped", ".hidden",
                                       "x" * 65, "cc\nx", "a/b", "", "cc 01"])
def test_pull_refuses_an_unsafe_device_id(micropython, tmp_path, silence, callcue,
                                          device_id):
    device_id = device_id.replace("{tmp}", str(tmp_path))
    dev = _device_folder(tmp_path / "dev", device_id)
    (tmp_path / "outside").mkdir()
    # what a path built from the id would hit: it must stay as it is
    victims = [tmp_path / "outside" / "evil-s000001.part", tmp_path / "escaped-s000001.part"]
    for v in victims:
        v.write_text("precious")
    before = _files(tmp_path)
    archive = tmp_path / "archive"
    r = callcue("logs", "pull", "--port", f"sim://{silence}?speed=0&storage={dev}",
                "--archive", archive)
    if device_id == "":   # an empty id is no id: the firmware keeps its default
        assert r.returncode == 0, r.stderr
        return
    one_line_error(r, "sim://", "not a safe name", "nothing pulled")
    assert r.returncode == 1
    assert not archive.exists()
    assert _files(tmp_path) == before


def test_pull_refuses_an_unsafe_id_in_a_session_header(micropython, tmp_path, silence,
                                                       callcue):
    dev = _device_folder(tmp_path / "dev", "cc-fine-0001", header_id="../../evil")
    archive = tmp_path / "archive"
    r = callcue("logs", "pull", "--port", f"sim://{silence}?speed=0&storage={dev}",
                "--archive", archive)
    one_line_error(r, "session 1", "not a safe name", "in its header")
    assert not list(tmp_path.glob("evil*")) and not list(archive.rglob("evil*"))
    from callcue.archive.store import Archive

    with Archive(archive, create=False) as ar:
        assert ar.counts()["sessions"] == 0


@pytest.mark.parametrize("case", ["calibration 100 KB", "calibration 20000 deep",
                                  "config.json 300 KB"])
def test_oversized_config_leaves_info_working(micropython, tmp_path, silence, callcue,
                                              case):
    """The issue's three: `info` and `get_config` answered at once from the defaults, with
    the reason in config_status (was: a timeout on every `info`, or INTERNAL)."""
    doc = '{"version": 1, "device_id": "cc-big", "params": {}, "calibration": %s}'
    config = {"calibration 100 KB": doc % json.dumps({"note": "x" * 100_000}),
              "calibration 20000 deep": doc % ('{"a":' * 20000 + "1" + "}" * 20000),
              "config.json 300 KB": doc % json.dumps({"pad": "y" * 300_000})}[case]
    dev = _device_folder(tmp_path / "dev", "cc-big", config=config)
    port = f"sim://{silence}?speed=0&storage={dev}"
    t0 = time.monotonic()
    r = callcue("device", "info", "--port", port, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["config_status"].startswith("bad json: ") and info["calibration"] is None
    assert time.monotonic() - t0 < 30
    r = callcue("device", "config", "get", "--port", port, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["calibration"] == {}, r.stderr
