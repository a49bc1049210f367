"""The ML logic behind the training and inference pipelines, as plain pandas/numpy functions.

The step wrappers in steps/training.py and steps/inference.py only move data between tables and
these functions, so everything here runs the same in a test, in a plain script (bench/), in a
local dagc run and inside a Snowflake task or ML Job. Modules import pandas/numpy at top level
(they are only imported when a step runs, never by `dagc validate`); xgboost and scikit-learn are
imported inside the functions that need them.
"""
