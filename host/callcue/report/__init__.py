"""`callcue report`: the self-contained HTML (or PDF) report of archived calls.

page.py builds the full report (build) from calls.py (each call: records, figures, mark,
flags, sentence, CSV row), team.py (reps and teams, the team band, the team CSV) and
plots.py (matplotlib timelines and trends); summary.py builds the --summary page (one row
per rep and per team, computed in the database). markup.py (stylesheet, sort script,
table cells) and words.py (how figures read) serve both pages."""
