"""Dead air: neither party active for longer than `dead_air_ms` while a call is in
progress (some speech seen, and the silence not yet `call_end_ms` long, after which
the call is taken to have ended).

Scaling: frame counters only.
"""


class DeadAir:
    def __init__(self, p):
        self.limit = p.dead_air_ms // 10
        self.call_end = p.call_end_ms // 10
        self.reset()

    def reset(self):
        self.in_call = 0
        self.silent = 0          # frames since either party was active
        self.active = 0

    def step(self, anyone):
        if anyone:
            self.in_call = 1
            self.silent = 0
        elif self.in_call:
            self.silent += 1
            if self.silent >= self.call_end:
                self.in_call = 0
        self.active = 1 if self.in_call and self.silent >= self.limit else 0
        return self.active
