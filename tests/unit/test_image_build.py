"""``simsage images build`` without an engine (simsage/runtime/image_build.py, the CLI):
which images exist, what goes into a build context (and what does not), the build
arguments and tags, the Dockerfiles' shared install step, and the one-line errors.

The engine's side is a small test double (``FakeClient``) where a test needs one: the
docker SDK calls the module makes (``images.get``/``pull``, ``api.build``'s decoded
stream). A real build runs in tests/integration/test_simsage_images.py (opt-in)."""

from __future__ import annotations

import re
from pathlib import Path

import docker.errors
import pytest
from click.testing import CliRunner

import simsage
from simsage.cli import main
from simsage.runtime import docker_engine, image_build
from simsage.runtime.image_build import (
    RECIPES,
    BuildError,
    assemble_context,
    context_files,
    recipes,
    source_root,
)

ROOT = source_root()
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_the_images_are_xgboost_sklearn_and_every_emulated_first_party_algorithm():
    assert list(RECIPES) == [
        "xgboost",
        "sklearn",
        "kmeans",
        "linear-learner",
        "randomcutforest",
        "knn",
        "pca",
    ]
    assert [r.name for r in recipes([])] == list(RECIPES)  # none named: all
    assert [r.name for r in recipes(["pca", "kmeans", "pca"])] == ["pca", "kmeans"]
    assert RECIPES["knn"].folder == "first-party" and RECIPES["knn"].args == {"ALGORITHM": "knn"}
    assert RECIPES["sklearn"].args == {}
    with pytest.raises(BuildError, match="no simsage image named tensorflow; the images are"):
        recipes(["tensorflow"])


def test_a_context_holds_the_package_the_image_folder_and_nothing_else(tmp_path):
    plan = assemble_context(RECIPES["kmeans"], tmp_path / "ctx", "simsage-base:bookworm")
    files = context_files(plan.context)
    package = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "simsage").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    assert [f for f in files if f.startswith("simsage/")] == package
    assert "simsage/runtime/image_build.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    others = [f for f in files if not f.startswith("simsage/")]
    assert others == [
        "README.md",
        "containers/first-party/Dockerfile",
        "containers/first-party/serve",
        "containers/first-party/train",
        "pyproject.toml",
    ]  # no tests, no other image's folder, no CA file unless asked
    assert (plan.context / "pyproject.toml").read_bytes() == (ROOT / "pyproject.toml").read_bytes()
    assert (plan.context / "containers/first-party/train").stat().st_mode & 0o111  # executable
    assert plan.dockerfile == "containers/first-party/Dockerfile"
    assert plan.buildargs == {"BASE_IMAGE": "simsage-base:bookworm", "ALGORITHM": "kmeans"}
    assert plan.tag == f"simsage-kmeans:{simsage.__version__}"
    assert plan.labels == {"simsage.version": simsage.__version__}


def test_the_tag_prefix_and_base_image_and_ca_bundle_reach_the_plan(tmp_path):
    plan = assemble_context(
        RECIPES["xgboost"], tmp_path, tag="latest", ca_bundle=PEM, prefix="team/simsage-"
    )
    assert plan.tag == "team/simsage-xgboost:latest"
    assert plan.buildargs == {"BASE_IMAGE": "python:3.11-slim"}  # the default base
    assert (tmp_path / "containers" / "build-ca.pem").read_bytes() == PEM
    assert "containers/xgboost/Dockerfile" in context_files(tmp_path)


def test_a_simsage_without_its_source_tree_says_so(tmp_path):
    (tmp_path / "simsage").mkdir()
    with pytest.raises(BuildError, match="has no pyproject.toml, README.md, containers"):
        source_root(tmp_path / "simsage")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: image_build.check_tag("-x"), "is not a Docker tag"),
        (lambda: image_build.check_prefix("Simsage-"), "cannot begin a Docker image name"),
    ],
)
def test_tags_and_prefixes_are_checked_before_any_engine_is_asked(call, message):
    with pytest.raises(BuildError, match=message):
        call()


def test_a_ca_bundle_must_hold_a_certificate(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(BuildError, match="holds no PEM certificate"):
        image_build.check_ca_bundle(bad)
    good = tmp_path / "good.pem"
    good.write_bytes(PEM)
    assert image_build.check_ca_bundle(good) == PEM


def _shared_install(dockerfile: Path) -> list[str]:
    text = dockerfile.read_text()
    start = text.index("ARG BASE_IMAGE=")
    end = text.index("# -- the image's own part")
    return text[start:end].splitlines()


def test_every_dockerfile_takes_the_base_image_and_shares_the_install_step():
    """The engine's layer cache shares the pip install between the images only if the
    instructions up to it are the same in every Dockerfile."""
    dockerfiles = [ROOT / "containers" / f / "Dockerfile" for f in ("xgboost", "sklearn")]
    dockerfiles.append(ROOT / "containers" / "first-party" / "Dockerfile")
    first = _shared_install(dockerfiles[0])
    assert first[:2] == ["ARG BASE_IMAGE=python:3.11-slim", "FROM ${BASE_IMAGE}"]
    for dockerfile in dockerfiles[1:]:
        assert _shared_install(dockerfile) == first, dockerfile
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        assert "ENV PATH=/opt/simsage/venv/bin:$PATH" in text
        assert "SIMSAGE_IN_CONTAINER=1" in text
        assert 'ENTRYPOINT ["python", "-m", "simsage.algorithms.image_entry"]' in text
    first_party = dockerfiles[2].read_text()
    assert first_party.index("ARG ALGORITHM") > first_party.index("# -- the image's own part")


# -- the command line ----------------------------------------------------------------------


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_no_engine_is_one_line_saying_how_to_start_one(monkeypatch):
    monkeypatch.setattr(docker_engine, "connect", lambda: (None, "FileNotFoundError: no socket"))
    for args in (["images", "build", "kmeans"], ["images", "ls"]):
        result = _cli(*args)
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error: no Docker engine answers (FileNotFoundError: no socket)")
        assert "sudo systemctl start docker" in lines[0] and "DOCKER_HOST" in lines[0]


def test_an_unknown_image_name_is_a_usage_error():
    result = _cli("images", "build", "tensorflow")
    assert result.exit_code == 2
    assert "'tensorflow' is not one of 'xgboost', 'sklearn', 'kmeans'" in result.output


class FakeImages:
    def __init__(self, present: set[str], pull_error: str | None = None) -> None:
        self.present = present
        self.pull_error = pull_error
        self.pulled: list[str] = []

    def get(self, name: str):
        if name not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return type("Image", (), {"id": f"sha256:{'ab' * 32}"})()

    def pull(self, name: str):
        self.pulled.append(name)
        if self.pull_error:
            raise docker.errors.APIError("pull failed", explanation=self.pull_error)
        self.present.add(name)


class FakeApi:
    def __init__(self, chunks: list[dict], images: FakeImages) -> None:
        self.chunks = chunks
        self.images = images
        self.calls: list[dict] = []

    def build(self, **kwargs):
        self.calls.append(kwargs)
        kwargs_files = context_files(Path(kwargs["path"]))
        self.calls[-1]["files"] = kwargs_files
        yield from self.chunks
        if not any("error" in c for c in self.chunks):
            self.images.present.add(kwargs["tag"])


class FakeClient:
    def __init__(self, chunks: list[dict], present=(), pull_error: str | None = None) -> None:
        self.images = FakeImages(set(present), pull_error)
        self.api = FakeApi(chunks, self.images)
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _use(monkeypatch, client: FakeClient) -> FakeClient:
    monkeypatch.setattr(docker_engine, "connect", lambda: (client, ""))
    return client


def test_a_base_image_the_engine_cannot_pull_is_named(monkeypatch):
    client = _use(monkeypatch, FakeClient([], pull_error='Get "https://registry-1.docker.io/v2/"'))
    result = _cli("images", "build", "pca", "--base-image", "nosuch:1")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "pulling the base image nosuch:1",
        "error: the base image nosuch:1 is not on the Docker engine and could not be pulled "
        '(Get "https://registry-1.docker.io/v2/"); pass --base-image with one the engine has '
        "(docker images).",
    ]
    assert client.api.calls == [] and client.closed


def test_build_output_is_streamed_by_line_and_each_image_is_built_from_its_own_context(
    monkeypatch, tmp_path
):
    chunks = [
        {"stream": "Step 1/14 : ARG BASE_IMAGE=python:3.11-slim\n"},
        {"stream": "Step 5/14 : RUN pip"},  # a line in two pieces
        {"stream": " install\n ---> Running in 1234\nCollecting boto3\n"},
        {"stream": "Successfully built abc\n"},
    ]
    client = _use(monkeypatch, FakeClient(chunks, present={"base:1"}))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(PEM)
    result = _cli(
        "images", "build", "kmeans", "sklearn", "--base-image", "base:1", "--tag", "t1",
        "--prefix", "simsage-it-", "--ca-bundle", str(ca), "--platform", "linux/amd64",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:6] == [
        "building simsage-it-kmeans:t1 from base:1 (containers/first-party/Dockerfile)",
        "Step 1/14 : ARG BASE_IMAGE=python:3.11-slim",
        "Step 5/14 : RUN pip install",
        " ---> Running in 1234",
        "Collecting boto3",
        "Successfully built abc",
    ]
    assert re.fullmatch(r"built simsage-it-sklearn:t1 \(sha256:abababababab\) in \d+ s", lines[-1])
    kmeans, sklearn = client.api.calls
    assert kmeans["tag"] == "simsage-it-kmeans:t1" and sklearn["tag"] == "simsage-it-sklearn:t1"
    assert kmeans["buildargs"] == {"BASE_IMAGE": "base:1", "ALGORITHM": "kmeans"}
    assert sklearn["dockerfile"] == "containers/sklearn/Dockerfile"
    assert kmeans["pull"] is False and kmeans["forcerm"] is True and kmeans["decode"] is True
    assert kmeans["platform"] == sklearn["platform"] == "linux/amd64"
    assert "containers/build-ca.pem" in kmeans["files"]
    assert not [f for f in sklearn["files"] if f.startswith("containers/first-party")]
    assert not Path(kmeans["path"]).exists()  # the temporary context is gone
    assert client.images.pulled == []  # the base image was there


def test_a_failed_pip_install_is_one_line_then_the_last_output_lines(monkeypatch):
    chunks = [
        {"stream": "Step 5/14 : RUN set -eu; python3 -m venv /opt/simsage/venv\n"},
        {"stream": " ---> Running in 5f54\n"},
        {"stream": "\x1b[91mERROR: No matching distribution found for setuptools>=68\n"},
        {"stream": "\x1b[0m"},  # the builder's colour codes around a step's stderr
        {"stream": "Removing intermediate container 5f54\n"},
        {
            "error": "The command '/bin/sh -c set -eu; ...' returned a non-zero code: 1",
            "errorDetail": {
                "code": 1,
                "message": "The command '/bin/sh -c set -eu;\n ...' returned a non-zero code: 1",
            },
        },
    ]
    client = _use(monkeypatch, FakeClient(chunks, present={"base:1"}))
    result = _cli("images", "build", "pca", "--base-image", "base:1", "--tag", "t1")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "platform" not in client.api.calls[0]  # the engine's own unless asked
    error = lines.index(
        "error: building simsage-pca:t1 failed at step 5/14: a RUN step exited with 1"
    )
    assert lines[error + 1 :] == [
        "last output lines:",
        "  Step 5/14 : RUN set -eu; python3 -m venv /opt/simsage/venv",
        "  ERROR: No matching distribution found for setuptools>=68",
    ]


def test_images_ls_lists_the_labelled_images(monkeypatch):
    class Image:
        tags = ["simsage-kmeans:0.1.0"]
        short_id = "sha256:e797005a9870"
        labels = {"simsage.image": "kmeans", "simsage.version": "0.1.0"}
        attrs = {"Created": "2026-12-03T11:48:49.123Z", "Size": 732_900_000}

    class Images:
        def list(self, filters):
            assert filters == {"label": "simsage.image"}
            return [Image()]

    client = type("Client", (), {"images": Images(), "close": lambda self: None})()
    monkeypatch.setattr(docker_engine, "connect", lambda: (client, ""))
    result = _cli("images", "ls")
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        "2026-12-03",
        "11:48:49",
        "698.9",
        "MiB",
        "e797005a9870",
        "kmeans",
        "simsage-kmeans:0.1.0",
    ]
