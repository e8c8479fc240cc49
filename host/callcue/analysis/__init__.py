"""Analysis on the host: the DSP engine over call WAVs (analyze), the float reference it is
checked against (reference, verify), test calls (synth), filter design (design), WAV input
(wavio) and the one call summary of per-second records (summary)."""
