"""How a DockerEngine gives its containers S3 (simsage.runtime.docker_engine with
simsage.runtime.netns_relay), on the fake engine of test_docker_engine: the variables
each container gets (its request's own win), the access asked for once and released
once, none for an isolated job, and a relay that cannot be made said in the log, never
failing the job. The relay itself is driven for real in
tests/integration/test_netns_relay.py and, under Docker, test_docker_s3_access.py."""

from __future__ import annotations

from test_docker_engine import IMAGE, FakeDocker

from simsage.runtime.docker_engine import DockerEngine, HostSpec
from simsage.runtime.netns_relay import ContainerAccess

VARIABLES = {
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:41234",
    "AWS_ACCESS_KEY_ID": "SIMSAGELOCALACCESSKEY",
    "AWS_SECRET_ACCESS_KEY": "simsage-local-secret-key",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Access:
    """A factory of ContainerAccess that counts what is asked of it."""

    def __init__(self, error: Exception | None = None) -> None:
        self.asked = 0
        self.released = 0
        self.error = error

    def __call__(self) -> ContainerAccess:
        self.asked += 1
        if self.error is not None:
            raise self.error
        return ContainerAccess(41234, dict(VARIABLES), self._release)

    def _release(self) -> None:
        self.released += 1


def _hosts(tmp_path, environment=None):
    return [
        HostSpec("algo-1", tmp_path / "1", dict(environment or {})),
        HostSpec("algo-2", tmp_path / "2", dict(environment or {})),
    ]


def test_every_container_gets_the_variables_and_the_requests_own_win(tmp_path):
    client, access, notes = FakeDocker(), Access(), []
    engine = DockerEngine(client, "job", s3=access, on_note=notes.append)
    engine.start_hosts(IMAGE, {}, _hosts(tmp_path, {"AWS_REGION": "eu-west-1"}), False)
    assert access.asked == 1
    for container in client.created:
        assert container.env == {**VARIABLES, "AWS_REGION": "eu-west-1"}
    engine.cleanup()
    engine.cleanup()
    assert access.released == 1
    assert notes == []  # the fake's containers have no host process: nothing to relay


def test_an_isolated_job_gets_no_s3(tmp_path):
    client, access = FakeDocker(), Access()
    engine = DockerEngine(client, "job", s3=access)
    engine.start_hosts(IMAGE, {}, _hosts(tmp_path), True)
    assert access.asked == 0
    assert all("AWS_ENDPOINT_URL_S3" not in c.env for c in client.created)
    engine.cleanup()
    assert access.released == 0


def test_access_that_cannot_be_had_is_said_and_the_containers_still_start(tmp_path):
    client, notes = FakeDocker(), []
    access = Access(OSError("Read-only file system: 's3-endpoint'"))
    engine = DockerEngine(client, "job", s3=access, on_note=notes.append)
    started = engine.start_hosts(IMAGE, {}, _hosts(tmp_path), False)
    assert len(started) == 2
    assert all("AWS_ENDPOINT_URL_S3" not in c.env for c in client.created)
    assert notes == [
        "simsage: the containers cannot reach S3: Read-only file system: 's3-endpoint'"
    ]
    engine.cleanup()


def test_a_relay_that_cannot_be_made_is_said_once(tmp_path):
    client, notes = FakeDocker(), []
    engine = DockerEngine(client, "job", s3=Access(), on_note=notes.append)
    original = client.containers.create

    def create(**options):
        container = original(**options)
        container.attrs = {"State": {"Pid": 2**22 + 4321}}  # no such process here
        return container

    client.containers.create = create
    engine.start_hosts(IMAGE, {}, _hosts(tmp_path), False)
    assert len(notes) == 1
    assert notes[0].startswith(
        "simsage: calls to S3 from inside the containers (http://127.0.0.1:41234) will fail: "
    )
    assert "no process" in notes[0] or "root" in notes[0]
    engine.cleanup()
