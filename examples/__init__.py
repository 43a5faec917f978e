"""Example apps: each module's ``build(app)`` adds its stacks; ``python -m examples.<name>`` synthesizes."""
