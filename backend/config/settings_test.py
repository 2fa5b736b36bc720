"""Settings for the test suite: production settings (DEBUG off) with fixed test secrets."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# A throw-away key, used by tests only: it protects nothing.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "hpdnnHBRvzbuDchnrkoSSfkaiNzqKhiIqPDfrFvM_4c=")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
