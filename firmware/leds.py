"""Cue colours: what the rep sees for each cue (shared by the real and simulated LED)."""

# index = dsp.cues cue code; (name, (r, g, b)) at full brightness
CUE_COLOURS = (
    ("none", (0, 0, 0)),
    ("talkover", (255, 0, 0)),      # red: stop and let the customer finish
    ("fast", (255, 120, 0)),        # amber: slow down
    ("flat", (0, 90, 255)),         # blue: more vocal variety
    ("dead_air", (150, 0, 255)),    # violet: tell the customer what is happening
)
