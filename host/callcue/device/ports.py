"""Connecting to dongles for the host commands, and `callcue devices` (which ports answer).

    with connect("/dev/ttyACM0") as dev:     # or a pty from `callcue sim`, or sim://CALL.wav
        print(dev.info()["device_id"])

Every failure to reach a device becomes callcue.errors.CommandError(port, what to do): one
line for the command line, never a traceback. Every read has a timeout (Device polls at
50 ms and gives up after its request timeout), so nothing here can hang on a silent port.
"""

import contextlib

from callcue.device.client import Device, DeviceError
from callcue.errors import CommandError


def open_device(port, timeout=5.0):
    """A connected Device on `port` (path or pyserial URL); CommandError if it cannot be."""
    import serial

    try:
        return Device.open(port, timeout=timeout)
    except serial.SerialException as e:
        text = str(e)
        if "busy" in text.lower() or "Errno 16" in text:
            reason = "the port is busy: close the other program using it (screen, minicom, " \
                     "a second callcue) and try again"
        elif "No such file" in text or "Errno 2" in text or "could not open" in text:
            reason = "no such port: plug the dongle in, or list ports with `callcue devices`"
        else:
            reason = f"cannot open the port ({text})"
        raise CommandError(port, reason) from None
    except DeviceError as e:
        raise CommandError(port, f"the device does not answer the callcue protocol ({e}); is "
                           "the callcue firmware flashed (`callcue flash`)?") from None
    except OSError as e:
        raise CommandError(port, f"cannot open the port ({e.strerror or e})") from None


@contextlib.contextmanager
def connect(port, timeout=5.0):
    """open_device() as a context manager that turns DeviceError and a vanished port
    (serial/OS errors mid-transfer) into CommandError naming the port."""
    import serial

    dev = open_device(port, timeout)
    try:
        yield dev
    except DeviceError as e:
        raise CommandError(port, str(e)) from None
    except (serial.SerialException, OSError) as e:
        raise CommandError(port, f"the device went away ({e}); plug it back in and run the "
                           "command again (pulls resume where they stopped)") from None
    finally:
        with contextlib.suppress(Exception):
            dev.close()


def usb_ports():
    """Serial ports that look like USB CDC devices (the RP2040's /dev/ttyACM*)."""
    from serial.tools import list_ports

    return [p.device for p in list_ports.comports() if p.vid is not None
            or p.device.startswith(("/dev/ttyACM", "/dev/cu.usbmodem"))]


def probe(port, timeout=1.0):
    """{port, device_id, firmware, ...} if a callcue dongle answers on `port`, else None."""
    try:
        dev = open_device(port, timeout)
    except CommandError:
        return None
    try:
        info = dev.info()
    except Exception:  # noqa: BLE001 - anything that is not a dongle is skipped
        return None
    finally:
        with contextlib.suppress(Exception):
            dev.close()
    return {"port": port, "device_id": info["device_id"], "firmware": info["firmware"],
            "sessions_free_bytes": info.get("free_bytes"), "time": info.get("time")}


