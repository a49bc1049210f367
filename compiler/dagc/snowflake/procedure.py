"""What a Python task's procedure gets besides its code: packages, a log level, secrets.

Shared by the Snowflake emitter and the manifest (stdlib only), so that the manifest a reviewer
reads states exactly what the task procedures get:

- packages: `packaging.pipeline_packages` (the pipeline's `packages:` plus what dagc's runtime needs);
- LOG_LEVEL: without one, `ctx.log` records never reach the event table. Every Python task gets
  LOG_LEVEL = INFO unless its `log_level:` (or the pipeline's) or a `session_parameters:` LOG_LEVEL
  says otherwise (`task_log_level`);
- secrets: see `secret_grants`.
"""

from __future__ import annotations

from typing import Any, Mapping

DEFAULT_LOG_LEVEL = "INFO"


def _get(params: Mapping[str, Any], key: str) -> Any:
    return next((v for k, v in params.items() if str(k).upper() == key), None)


def task_log_level(pipeline: Any, task: Any) -> str | None:
    """The LOG_LEVEL a task is created with: its `log_level:` (the pipeline's is every task's
    default), else a LOG_LEVEL in its or the pipeline's `session_parameters:`, else, for a Python
    task, INFO (without one `ctx.log` never reaches the event table)."""
    if getattr(task, "log_level", None):
        return str(task.log_level)
    own = _get(task.session_parameters or {}, "LOG_LEVEL")
    if own is not None:
        return str(own)
    if getattr(task.kind, "value", task.kind) == "sql":
        return None
    graph = _get(pipeline.session_parameters or {}, "LOG_LEVEL")
    return str(graph) if graph is not None else DEFAULT_LOG_LEVEL


def task_session_parameters(pipeline: Any, task: Any) -> dict[str, Any]:
    """The session parameters a task is created with, LOG_LEVEL / TRACE_LEVEL included."""
    params = {k: v for k, v in dict(task.session_parameters or {}).items() if str(k).upper() != "LOG_LEVEL"}
    level = task_log_level(pipeline, task)
    if level is not None:
        params["LOG_LEVEL"] = level
    if getattr(task, "trace_level", None):
        params["TRACE_LEVEL"] = task.trace_level
    return params


# -- secrets --------------------------------------------------------------------------------------------
class SecretInClear(ValueError):
    """A secret value would land in task text or graph config (visible to MONITOR / OPERATE)."""


def _secret_values(pipeline: Any) -> list[str]:
    from dagc.redact import secrets_of

    return sorted(secrets_of(pipeline), key=len, reverse=True)


def contains_secret(text: str, pipeline: Any) -> bool:
    """Whether a secret value appears in `text` (whole, or as a substring of 4+ characters)."""
    return any(s and (s == text or (len(s) >= 4 and s in text)) for s in _secret_values(pipeline))


def protect(value: Any, pipeline: Any, where: str, used: dict[str, Any]) -> Any:
    """`value` with every secret replaced by a reference the runtime resolves (see
    dagc.runtime.secrets), recording the SecretRef of each in `used`. A secret that has no SECRET
    object (a secret-looking config key with a literal value, an env_var()) cannot be referenced:
    SecretInClear, so it never reaches Snowflake in clear."""
    from dagc.runtime.secrets import reference

    values = _secret_values(pipeline)
    refs = dict(getattr(pipeline, "secret_refs", None) or {})

    def one(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: one(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [one(x) for x in v]
        if not isinstance(v, str):
            if v is not None and not isinstance(v, bool) and str(v) in values:
                raise SecretInClear(f"{where}: a secret value would be stored in clear")
            return v
        for s in values:
            if s and (s == v or (len(s) >= 4 and s in v)):
                ref = refs.get(s)
                if ref is None:
                    raise SecretInClear(f"{where}: a secret value would be stored in clear")
                used[ref.name] = ref
                v = v.replace(s, reference(ref.name))
        return v

    return one(value)


def grants(used: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(SECRETS clause: name -> SECRET object, EXTERNAL_ACCESS_INTEGRATIONS) for the refs used."""
    secrets = {name: ref.object for name, ref in sorted(used.items())}
    integrations = sorted({ref.integration for ref in used.values() if ref.integration})
    return secrets, integrations


def _call_class() -> Any:
    from snowflake.core.task import StoredProcedureCall

    class SecretProcedureCall(StoredProcedureCall):  # type: ignore[misc]
        """A task procedure granted SECRET objects.

        snowflake.core registers a task's procedure (`_register_task_definition_stored_procedure`)
        with Snowpark's `session.sproc.register` but passes no `secrets=` or
        `external_access_integrations=`, both of which Snowpark's registration supports. So this
        definition registers the procedure itself, with them, the first time snowflake.core asks
        for its function (when the task is created), through the deploying Snowpark session, and
        hands snowflake.core the registered (anonymous, permanent) procedure; snowflake.core then
        writes the task body as `WITH ... AS PROCEDURE ... SECRETS=(...) ... CALL ...`."""

        def __init__(self, func: Any, *, secrets: dict[str, str], integrations: list[str], **kw: Any) -> None:
            self.handler = func
            self.secrets = dict(secrets)
            self.integrations = list(integrations)
            self._registered: Any = None
            self._session: Any = None
            super().__init__(func, **kw)

        @property  # type: ignore[override]
        def func(self) -> Any:
            if self._registered is None:
                self._registered = self.register()
            return self._registered

        @func.setter
        def func(self, value: Any) -> None:
            self.handler = value

        def register_with(self, session: Any) -> Any:
            """Register now, through `session`: what `dagc deploy` does before it creates or
            alters the task, so the procedure (and its SECRETS) is made by the deploying session
            and not by whatever `get_active_session()` finds when snowflake.core asks for `func`."""
            self._registered = self.register(session)
            return self._registered

        def register(self, session: Any = None) -> Any:
            from snowflake.snowpark.context import get_active_session
            from snowflake.snowpark.types import StringType

            session = session or self._session or get_active_session()
            return session.sproc.register(
                self.handler, name="task_handler_sp", return_type=StringType(), input_types=[],
                stage_location=self._stage_location, imports=self._imports or [], packages=self._packages,
                anonymous=True, is_permanent=True, secrets=self.secrets,
                external_access_integrations=self.integrations or None,
            )

    return SecretProcedureCall


def with_secrets(definition: Any, secrets: dict[str, str], integrations: list[str]) -> Any:
    """The StoredProcedureCall `definition`, granted `secrets` (see SecretProcedureCall)."""
    cls = _call_class()
    return cls(definition.func, secrets=secrets, integrations=integrations, args=definition._args,
               return_type=definition._return_type, input_types=definition._input_types,
               stage_location=definition._stage_location, imports=definition._imports,
               packages=definition._packages)
