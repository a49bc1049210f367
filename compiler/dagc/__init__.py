"""dagc: declare Snowflake Task Graphs in YAML, validate them in CI, run them locally, deploy them."""

__version__ = "0.1.0"
