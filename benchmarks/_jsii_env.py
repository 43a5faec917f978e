"""Imported before aws_cdk: silences jsii's end-of-life banner for Node 20 (the Makefile sets it too)."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
