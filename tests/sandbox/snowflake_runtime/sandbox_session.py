"""The Snowpark session a sandboxed task receives: every call goes to the stand-in Snowflake
(tests/sandbox/standin.py) in the parent process, so the task's own interpreter imports nothing
but the standard library, the staged bundle and its declared packages.

Only what a Snowpark session offers is here (call, sql().collect()/to_pandas(), table().to_pandas(),
write_pandas); a DataFrame travels as a pickle, so `to_pandas` needs pandas importable in the task,
as it does on Snowflake.
"""

import os
import pickle
from multiprocessing.connection import Client


class Row:
    """Like snowflake.snowpark.Row: by position, by column name, as_dict()."""

    def __init__(self, values, names):
        self._values = list(values)
        self._names = list(names)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self._values[key]
        for n, v in zip(self._names, self._values):
            if n == key or n.upper() == str(key).upper():
                return v
        raise KeyError(key)

    def as_dict(self):
        return dict(zip(self._names, self._values))

    def __repr__(self):
        return f"Row({self.as_dict()!r})"


class Link:
    def __init__(self, address, authkey):
        self.conn = Client(address, authkey=authkey)

    def ask(self, op, *args):
        self.conn.send((op, args))
        status, value = self.conn.recv()
        if status == "error":
            raise SnowflakeError(value)
        return value


class SnowflakeError(Exception):
    """What Snowflake answered with an error (SQL compilation error, function error, ...)."""


class DataFrame:
    def __init__(self, link, query=None, table=None):
        self.link, self.query, self.table_name = link, query, table

    def collect(self):
        names, rows = self.link.ask("collect", self.query, self.table_name)
        return [Row(r, names) for r in rows]

    def to_pandas(self):
        import pandas  # noqa: F401 - Snowpark's to_pandas needs pandas in the procedure, like here

        return pickle.loads(self.link.ask("to_pandas", self.query, self.table_name))

    def to_pandas_batches(self):
        """Snowpark yields the result in batches; the stand-in yields it as one."""
        yield self.to_pandas()


class Session:
    def __init__(self, link):
        self.link = link

    def call(self, name, *args):
        return self.link.ask("call", name, args)

    def sql(self, query):
        return DataFrame(self.link, query=query)

    def table(self, name):
        return DataFrame(self.link, table=name)

    def write_pandas(self, df, table_name, *, auto_create_table=False, overwrite=False, quote_identifiers=True, **kw):
        self.link.ask("write_pandas", pickle.dumps(df), table_name, auto_create_table, overwrite, quote_identifiers)
        return None

    def close(self):
        pass


class Models:
    """dagc's model registry protocol served by the stand-in (Snowflake's ML Registry needs a real
    account: this is the one dagc class the sandbox replaces, see tests/sandbox/README)."""

    def __init__(self, session):
        self.link = session.link

    def log_model(self, name, model, *, metrics, lineage, sample_input=None):
        return self.link.ask("model", "log", name, pickle.dumps(model), dict(metrics), dict(lineage))

    def set_default(self, name, version):
        return self.link.ask("model", "set_default", name, version)

    def get_default(self, name):
        return self.link.ask("model", "get_default", name)

    def load(self, name, version=None):
        return pickle.loads(self.link.ask("model", "load", name, version))

    def versions(self, name):
        from dagc.runtime.context import ModelVersionInfo

        return [ModelVersionInfo(**v) for v in self.link.ask("model", "versions", name)]

    def delete_version(self, name, version):
        return self.link.ask("model", "delete_version", name, version)

    def models(self):
        return self.link.ask("model", "models")


def connect():
    return Session(Link(os.environ["DAGC_SANDBOX_ADDRESS"], bytes.fromhex(os.environ["DAGC_SANDBOX_AUTHKEY"])))
