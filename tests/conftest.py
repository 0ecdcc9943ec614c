"""Test-suite set-up. The simsage pytest plugin is normally loaded through its entry
point (the project is installed); naming it here also makes a plain checkout work.
docker_helpers brings the fixtures of the tests marked ``docker``."""

pytest_plugins = ["simsage.testing", "docker_helpers"]
