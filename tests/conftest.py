"""Test-suite set-up. The simsage pytest plugin is normally loaded through its entry
point (the project is installed); naming it here also makes a plain checkout work."""

pytest_plugins = ["simsage.testing"]
