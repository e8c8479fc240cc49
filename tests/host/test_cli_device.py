"""The host tools' command line: every command has --help with an example, and
`callcue flash --dry-run` lists the mpy-cross and mpremote commands it would run."""

import pytest

HOST_COMMANDS = (("devices",), ("device",), ("device", "config", "set"), ("logs",),
                 ("logs", "pull"), ("report",), ("stream",), ("flash",))


@pytest.mark.parametrize("argv", HOST_COMMANDS, ids=" ".join)
def test_help_has_an_example(callcue, argv):
    r = callcue(*argv, "--help")
    assert r.returncode == 0, r.stderr
    if len(argv) == 1:
        assert "example" in r.stdout and f"callcue {argv[0]}" in r.stdout


def test_flash_dry_run_lists_the_plan(callcue, mpy_cross, repo_root):
    from callcue import manifest

    r = callcue("flash", "--port", "/dev/ttyACM7", "--dry-run")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "--dry-run" in out and "/dev/ttyACM7" in out
    copy = next(line for line in out.splitlines() if " fs cp " in line)
    for src, dst in manifest.files():         # exactly what firmware/manifest.py names
        if dst == "main.py":
            assert f" fs cp {src} : + " in copy
            continue
        mpy = dst.replace(".py", ".mpy")
        assert f"-march=armv6m -o build/flash/{mpy} {src}" in out
        assert f" build/flash/{mpy} " in copy and f":{mpy}" in copy
    for folder in ("dsp", "firmware"):
        assert f".mpy :{folder}/ + " in copy
    assert "sim.mpy" not in out and "hal_sim" not in out and "sim_repl" not in out
    assert "bench" not in out and "manifest" not in out
    assert out.count(" -march=armv6m ") == len(manifest.files()) - 1
    for step in ("sha256sum", "rtc --set", "+ reset", "write if absent /config.json"):
        assert step in out



def test_flash_refuses_a_device_id_the_archive_would_refuse(callcue):
    """--device-id becomes the dongle's id for good (kept in /config.json): one that is no
    safe name, or longer than the 16 bytes a session header keeps, would flash a dongle
    whose logs `logs pull` refuses. One line, exit 2, before any step, dry run or not."""
    for bad, why in (("../x", "not a safe name"), ("", "not a safe name"),
                     ("cc-" + "0" * 14, "longer than 16 characters")):
        for extra in (("--dry-run",), ()):
            r = callcue("flash", "--port", "/dev/ttyACM7", "--device-id", bad, *extra)
            assert r.returncode == 2 and r.stdout == "", r.stdout
            assert r.stderr.startswith("callcue: error: --device-id: "), r.stderr
            assert why in r.stderr and r.stderr.count("\n") == 1

def test_logs_export_format_is_described(callcue):
    r = callcue("logs", "export", "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "csv (default), jsonl" in text and "parquet (needs pyarrow)" in text


def test_logs_list_takes_a_port_or_an_archive(callcue):
    r = callcue("logs", "list")
    assert r.returncode == 2 and "one of the arguments --port --archive" in r.stderr


# an `info` reply as the firmware sends it (firmware/app.py cmd_info), after `callcue
# calibrate` stored its three steps (cal_save) and set the couplings it implied
CALIBRATED_INFO = {
    "device_id": "cc-0042", "firmware": "0.1.0", "protocol": 1, "log_format": 2,
    "calibration": {
        "silence": {"step": "silence", "frames": 500, "used_frames": 500,
                    "rep_floor_db_q8": -15616, "customer_floor_db_q8": -15488},
        "rep": {"step": "rep", "frames": 500, "used_frames": 420,
                "rep_floor_db_q8": -15616, "customer_floor_db_q8": -15488,
                "rep_level_db_q8": -6400, "customer_level_db_q8": -11008,
                "difference_db_q8": 4608},
        "customer": {"step": "customer", "frames": 500, "used_frames": 400,
                     "rep_floor_db_q8": -15616, "customer_floor_db_q8": -15488,
                     "rep_level_db_q8": -13824, "customer_level_db_q8": -6144,
                     "difference_db_q8": -7680}},
    "config_status": "ok", "cal_hash": 123456, "params": {"sidetone_loss_db": 18,
                                                          "echo_loss_db": 30},
    "free_bytes": 14_000_000, "total_bytes": 15_728_640, "uptime_s": 3725, "time": None,
    "overruns": 0, "frames": 372500, "session": 7, "records_logged": 3600,
    "key_set": True, "key_id": "1a2b3c4d", "capture_done": False, "stream": "off",
}


def test_device_info_reads_as_words(capsys):
    from callcue.commands.device import show_info

    show_info(CALIBRATED_INFO)
    out = capsys.readouterr().out
    shown = dict(line.split(None, 1) for line in out.splitlines()
                 if not line.startswith(("  ", "counters", "sealing key")))
    assert shown["clock"] == "clock not set (`callcue device time set`)"
    assert shown["calibration"] == ("measured: silence, rep, customer; noise floor rep "
                                    "-61.0 dB, customer -60.5 dB; set: sidetone 18 dB, "
                                    "echo 30 dB loss")
    assert shown["overrides"] == "echo_loss_db=30, sidetone_loss_db=18"
    assert shown["uptime"] == "1:02:05" and shown["recording"] == "session 7"
    assert shown["storage"] == "13.4 MB free of 15.0 MB"
    assert "sealing key                  key 1a2b3c4d" in out
    assert "  records_logged             3600" in out and "None" not in out
    # a clock set: local time; a device's odd words cannot draw on the terminal
    show_info({**CALIBRATED_INFO, "time": 1_800_000_000, "calibration": None,
               "device_id": "cc\x1b[2J"})
    out = capsys.readouterr().out
    assert "\x1b" not in out and "'cc\\x1b[2J'" in out
    assert "not calibrated" in out and "clock not set" not in out
    # a group of counters (the virtual dongle's) reads one a line, not as JSON
    show_info({**CALIBRATED_INFO, "sim": {"frames_played": 4000, "lag_ms": 0, "speed": 2}})
    out = capsys.readouterr().out
    assert "  sim\n    frames_played            4000\n    lag_ms" in out and "{" not in out
