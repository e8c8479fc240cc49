"""The dongle from the host: the protocol client (client), finding and opening its port
(ports), the host's half of the line protocol (wire) and device units as people read them
(human)."""
