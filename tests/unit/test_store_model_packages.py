"""The model registry's rows: references to packages and groups (names, ``group/N``
paths, ARNs) parsed as SageMaker's patterns allow, versions numbered by a counter that
never gives a number twice (even across threads), and a group deleted only while empty."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from simsage.errors import ValidationException
from simsage.ids import Clock
from simsage.store import Database
from simsage.store.model_packages import (
    MODEL_PACKAGE,
    MODEL_PACKAGE_GROUP,
    ModelPackage,
    ModelPackageGroup,
    ModelPackageGroupStore,
    ModelPackageStore,
    split_reference,
)

REGION, ACCOUNT = "us-east-1", "123456789012"
PREFIX = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"


@pytest.fixture
def home(tmp_path: Path):
    database = Database(tmp_path / "state.db")
    yield SimpleNamespace(db=database, clock=Clock())
    database.close()


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("churn", ("churn", None)),
        ("churn/12", ("churn", 12)),
        (f"{PREFIX}:model-package/churn/3", ("churn", 3)),
        (f"{PREFIX}:model-package/solo", ("solo", None)),
        (f"{PREFIX}:model-package-group/churn", None),  # another kind's ARN
        ("churn/", None),
        ("-churn", None),
        ("churn/1/2", None),
    ],
)
def test_package_references(reference, expected):
    assert split_reference(reference, MODEL_PACKAGE.arn_type) == expected


def group(name: str) -> ModelPackageGroup:
    return ModelPackageGroup(
        name=name, arn=MODEL_PACKAGE_GROUP.arn(REGION, ACCOUNT, name), region=REGION, created=1.0
    )


def package(group_name: str) -> ModelPackage:
    return ModelPackage(
        name="", arn="", region=REGION, created=2.0, modified=2.0, package_name="",
        group=group_name,
    )  # fmt: skip


def test_versions_are_numbered_once_across_threads(home):
    groups, packages = ModelPackageGroupStore(home), ModelPackageStore(home)
    groups.create(group("Churn"))
    made: list[str] = []

    def register() -> None:
        for _ in range(5):
            made.append(packages.create_version(groups, package("churn"), ACCOUNT).arn)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == sorted(f"{PREFIX}:model-package/churn/{n}" for n in range(1, 21))
    stored = packages.lookup(f"{PREFIX}:model-package/churn/7", REGION, ACCOUNT)
    assert (stored.group, stored.package_name, stored.version) == ("Churn", "Churn", 7)
    assert packages.lookup("CHURN/7", REGION, ACCOUNT).arn == stored.arn


def test_a_version_of_a_missing_group_is_refused(home):
    with pytest.raises(ValidationException) as caught:
        ModelPackageStore(home).create_version(
            ModelPackageGroupStore(home), package("nope"), ACCOUNT
        )
    assert caught.value.message == (
        f"ModelPackageGroup {PREFIX}:model-package-group/nope does not exist."
    )


def test_an_arn_of_another_region_names_no_package(home):
    groups, packages = ModelPackageGroupStore(home), ModelPackageStore(home)
    groups.create(group("churn"))
    packages.create_version(groups, package("churn"), ACCOUNT)
    other = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/churn/1"
    with pytest.raises(ValidationException) as caught:
        packages.lookup(other, REGION, ACCOUNT)
    assert caught.value.message == f"ModelPackage {other} does not exist."


def test_a_group_is_deleted_only_while_empty(home):
    groups, packages = ModelPackageGroupStore(home), ModelPackageStore(home)
    groups.create(group("churn"))
    arn = packages.create_version(groups, package("churn"), ACCOUNT).arn
    assert groups.delete_empty("CHURN") == [arn]
    assert groups.find("churn") is not None
    packages.delete("churn/1")
    assert groups.delete_empty("churn") == []
    assert groups.find("churn") is None
