"""The archive of pulled session logs: the store and its two back ends (store, sql), the
host's key store (keys), seal checks (seal, integrity) and pulling a dongle's logs into it
(pull)."""
