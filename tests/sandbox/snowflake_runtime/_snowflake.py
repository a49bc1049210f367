"""Stand-in for the `_snowflake` module Snowflake's Python runtime gives a procedure.

Only the secret accessors: a procedure reads the SECRET objects its `SECRETS = (...)` clause
granted, by the name given there. The sandbox passes the granted secrets in
DAGC_SANDBOX_GRANTED (JSON: name -> value); anything else fails the way Snowflake does.
"""

import json
import os


def _granted():
    return json.loads(os.environ.get("DAGC_SANDBOX_GRANTED") or "{}")


def get_generic_secret_string(name):
    secrets = _granted()
    if name not in secrets:
        raise ValueError(f"Secret '{name}' is not available: it is not in the procedure's SECRETS clause")
    return secrets[name]


def get_username_password(name):
    raise ValueError(f"Secret '{name}' is not a PASSWORD secret")
