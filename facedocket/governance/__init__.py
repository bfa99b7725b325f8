"""The governance kernel: the limits as pure code (no SQL, no I/O).

* :mod:`.permissions` — one table of role × action × whose object;
* :mod:`.requests` — the request state machine as a transition table;
* :mod:`.policy` — policy profiles (schema, shipped files, their SHA-256);
* :mod:`.rules` — the one rule list behind ``check_submission`` and ``check_search``;
* :mod:`.review` — blind review, disagreement, the release rule, candidate summaries;
* :mod:`.retention` — what retention makes due;
* :mod:`.audit` — the hash chain of the audit log;
* :mod:`.explain` — a profile in plain sentences.
"""
