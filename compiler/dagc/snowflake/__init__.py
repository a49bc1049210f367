"""The Snowflake side of dagc: connections, packaging, plan/deploy, operations, ML Jobs.

Modules here may import snowflake.core / Snowpark (inside functions where it is cheap to do so);
the validate path never imports this package. `state` (the normalised model and diff) imports
nothing from Snowflake so that `dagc plan --against manifest.json` stays fast and offline.
"""
