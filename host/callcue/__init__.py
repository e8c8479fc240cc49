"""callcue host tools: analyse calls, drive the dongle, compare against the reference."""

__version__ = "0.1.0"


def _register_sim_url():
    """Let pyserial open `sim://CALL.wav` (callcue.protocol_sim) wherever a port is taken."""
    try:
        import serial
    except ImportError:
        return
    if "callcue" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("callcue")


_register_sim_url()
