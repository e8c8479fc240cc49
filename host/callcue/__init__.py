"""callcue host tools: analyse calls, drive the dongle, compare against the reference."""

__version__ = "0.1.0"


def _register_sim_url():
    """Let pyserial open `sim://CALL.wav` wherever a port is taken: pyserial looks a URL's
    handler up as `<package>.protocol_<scheme>`, here callcue.sim.protocol_sim."""
    try:
        import serial
    except ImportError:
        return
    if "callcue.sim" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("callcue.sim")


_register_sim_url()
