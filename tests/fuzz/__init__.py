"""Model-based fuzzing of the job lifecycle (see model.py); ``python -m tests.fuzz --help``."""
