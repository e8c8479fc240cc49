"""`callcue report`'s page: the self-contained HTML (or PDF) report of archived calls."""
