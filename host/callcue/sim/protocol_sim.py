"""pyserial URL handler `sim://PATH[?options]`: the virtual dongle as a port.

Registered by the callcue package (it appends "callcue" to
serial.protocol_handler_packages), so every `--port` takes it:

    callcue logs pull --port sim://DONGLE_DIR --archive ARCH   # a dongle, plugged in
    callcue stream --port 'sim://call.wav'                     # a live call, real time
    serial.serial_for_url('sim://call.wav?speed=0&storage=ram')

sim://DIR, a dongle folder (`callcue sim CALL.wav --dongle DIR` makes one and plays
calls into it): the firmware boots on that dongle's flash with no call playing and
answers the protocol; whatever it is told (config, clock, key, deletions) stays in DIR.

sim://CALL.wav: the call starts playing when the port opens. Options: speed=N (times
real time; 0 = as fast as possible; default 1; a host too busy for the pace slows the
call down, nothing is lost: `info`'s `sim.lag_ms`), storage=ram|IMAGE.lfs|DIR|DONGLE_DIR,
loop, led (draw the LED on stderr), config=PATH, id=ID (of a board with no config
yet), drop_late (lose the frames a busy host
was late for, counted as overruns, as a real board would). The firmware keeps answering
after the call has played, until `reboot` or close(). Closing the port while the call
plays, on a storage that outlives it, plays the rest at full speed first, so the flash
keeps the whole call (never half a call that would read as a short one).
"""

import os
import select
import time
import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException


class Serial(SerialBase):
    def open(self):
        if self.is_open:
            raise SerialException("Port is already open.")
        from callcue.analysis.wavio import InputError
        from callcue.sim.dongle import Dongle, SimError, VirtualDongle, is_dongle, is_littlefs

        parts = urllib.parse.urlsplit(self.portstr)
        if parts.scheme != "sim":
            raise SerialException("expected a sim://CALL.wav or sim://DIR URL, got %r" %
                                  self.portstr)
        path = urllib.parse.unquote(parts.netloc + parts.path)
        opts = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        try:
            if not os.path.exists(path):
                raise SimError("%s: no such WAV file or dongle folder" % path)
            if os.path.isdir(path):
                self.dongle = Dongle.open(path).plug_in()
            else:
                speed = int(opts.get("speed", ["1"])[0])
                storage = opts.get("storage", ["ram"])[0]
                kw = {"device_id": opts.get("id", [None])[0]}
                if is_dongle(storage):     # a live call into a dongle folder's flash
                    d = Dongle.open(storage)
                    storage = d.flash
                    kw = {"device_id": d.device_id, "lock": d.lock()}
                elif storage.endswith(".lfs") and os.path.exists(storage) \
                        and not is_littlefs(storage):
                    raise SimError("%s: not a LittleFS image" % storage)
                try:
                    self.dongle = VirtualDongle(
                        path, storage=storage, speed=speed, loop="loop" in opts,
                        led="led" in opts, stay=True, config=opts.get("config", [None])[0],
                        drop_late="drop_late" in opts, **kw)
                except BaseException:
                    if kw.get("lock") is not None:
                        kw["lock"].close()
                    raise
        except SimError as e:
            raise SerialException(str(e)) from None
        except InputError as e:
            raise SerialException(str(e)) from None
        except Exception as e:  # a bad option and the like: say which port and why
            raise SerialException("sim://%s: %s" % (path, e)) from None
        self._out = self.dongle.proc.stdout.fileno()
        self._in = self.dongle.proc.stdin.fileno()
        self._rx = bytearray()
        self.is_open = True

    def _reconfigure_port(self):
        pass

    def close(self):
        if self.is_open:
            self.is_open = False
            self.dongle.close()

    def _fill(self, timeout):
        r, _, _ = select.select([self._out], [], [], max(timeout, 0))
        if r:
            data = os.read(self._out, 65536)
            if not data:
                raise SerialException("the virtual dongle has stopped")
            self._rx += data

    @property
    def in_waiting(self):
        if not self.is_open:
            raise PortNotOpenError()
        self._fill(0)
        return len(self._rx)

    def read(self, size=1):
        if not self.is_open:
            raise PortNotOpenError()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while len(self._rx) < size:
            left = 1.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(left)
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def write(self, data):
        if not self.is_open:
            raise PortNotOpenError()
        os.write(self._in, bytes(data))
        return len(data)

    def reset_input_buffer(self):
        self._rx.clear()
        while select.select([self._out], [], [], 0)[0]:
            if not os.read(self._out, 65536):
                break

    def reset_output_buffer(self):
        pass
