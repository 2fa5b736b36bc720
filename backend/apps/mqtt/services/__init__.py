"""Writes only: keyword-only functions that change connections (``connections``: set-up writes;
``control``: operators' start / stop / restart, logged and nudging the worker after the commit).
Reads are in ``apps/mqtt/selectors.py`` (what a user may see) and ``apps/mqtt/ops_selectors.py``
(the staff operations view)."""
