"""pyserial URL handler `sim://PATH/TO/CALL.wav[?options]`: the virtual dongle as a port.

Registered by the callcue package (it appends "callcue" to
serial.protocol_handler_packages), so every `--port` takes it:

    callcue stream --port 'sim://call.wav'                 # paced in real time
    serial.serial_for_url('sim://call.wav?speed=0&storage=ram')

Options: speed=N (times real time; 0 = as fast as possible; default 1), storage=ram|
IMAGE.lfs|DIR, loop, led (draw the LED on stderr), config=PATH. The firmware keeps
answering after the call has played, until `reboot` or close().
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
        from callcue.simulator import SimError, VirtualDongle

        parts = urllib.parse.urlsplit(self.portstr)
        if parts.scheme != "sim":
            raise SerialException("expected a sim://CALL.wav URL, got %r" % self.portstr)
        path = urllib.parse.unquote(parts.netloc + parts.path)
        opts = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        speed = int(opts.get("speed", ["1"])[0])
        try:
            self.dongle = VirtualDongle(
                path, storage=opts.get("storage", ["ram"])[0], speed=speed,
                loop="loop" in opts, led="led" in opts, stay=True,
                config=opts.get("config", [None])[0])
        except SimError as e:
            raise SerialException(str(e)) from None
        except Exception as e:  # wavio.InputError and friends: say which file and why
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
