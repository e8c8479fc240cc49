"""Talk-over: both parties active at once while the interrupter speaks for at least
`talkover_min_ms`, with who interrupted whom.

An overlap run starts on the first frame both are active; breaks shorter than
`talkover_gap_ms` do not end it. The interrupter is the party whose turn began
later (vad.py `start`: a pause under 700 ms does not end a turn), i.e. who started
while the other was speaking (the rep on a tie).
The run becomes a talk-over (`confirmed`, which the cue policy reads) once it
holds `talkover_min_ms` of frames on which the interrupter is speaking (not
merely held active by the VAD hangover). Counting the interrupter's own speech,
not hangover, is what lets the minimum sit at 300 ms: a backchannel ("mm-hmm",
150-300 ms of speech) plus 100 ms of hangover would pass a 300 ms minimum of
active overlap, but never holds 300 ms of speech. When a confirmed run ends,
`ready` is 1 for one frame with `start`, `end` (frames, end exclusive) and
`interrupter` (0 rep, 1 customer).

Scaling: frame counters only; < 2**30 for 124 days of audio.
"""

REP = 0
CUSTOMER = 1


class Talkover:
    def __init__(self, p):
        self.min_frames = p.talkover_min_ms // 10
        self.gap_frames = p.talkover_gap_ms // 10
        self.reset()

    def reset(self):
        self.open = 0            # an overlap run is in progress
        self.confirmed = 0
        self.count = 0           # overlapping frames the interrupter speaks on
        self.gap = 0             # frames since both were last active
        self.first = 0
        self.last = 0
        self.who = REP
        self.ready = 0
        self.start = 0
        self.end = 0
        self.interrupter = REP

    def step(self, frame, rep_active, cust_active, rep_start, cust_start, rep_speech,
             cust_speech):
        self.ready = 0
        if rep_active and cust_active:
            if not self.open:
                self.open = 1
                self.count = 0
                self.first = frame
                self.who = CUSTOMER if cust_start > rep_start else REP
            if (cust_speech if self.who else rep_speech):
                self.count += 1
            self.gap = 0
            self.last = frame
            if self.count >= self.min_frames:
                self.confirmed = 1
        elif self.open:
            self.gap += 1
            if self.gap > self.gap_frames:
                self.close()

    def close(self):
        """End the run; publish it if it was a talk-over."""
        if self.open and self.confirmed:
            self.ready = 1
            self.start = self.first
            self.end = self.last + 1
            self.interrupter = self.who
        self.open = 0
        self.confirmed = 0
        self.count = 0
        self.gap = 0
