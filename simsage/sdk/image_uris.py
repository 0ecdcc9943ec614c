"""``image_uris.retrieve``: the real ECR URIs of the images simsage runs, per region.

The same call returns the same URI as the official SDK, so code that builds its image
URI here runs unchanged on AWS. simsage recognises these URIs (any region and account)
and plays the image itself.

Known: ``xgboost`` (framework versions 0.90-1 … 3.0-5, and the legacy algorithm
version ``1``), ``sklearn`` (0.20.0, 0.23-1, 1.0-1, 1.2-1, 1.4-2 for training) and the
first-party algorithms ``kmeans``, ``linear-learner``, ``randomcutforest``, ``knn`` and
``pca`` (version ``1`` only, the default; one image for training and inference).
"""

from __future__ import annotations

# Registries (AWS account ids) per region, from the SDK's published image configuration.
FRAMEWORK_ACCOUNTS = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}

ALGORITHM_ACCOUNTS = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}

# The first-party algorithms' registries (the same for the five of them).
FIRST_PARTY_ACCOUNTS = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "351501993468",
    "ap-northeast-2": "835164637446",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "991648021394",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "712309505854",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "469771592824",
    "ca-west-1": "190319476487",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "664544806723",
    "eu-central-2": "680994064768",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-south-2": "104374241257",
    "eu-west-1": "438346466558",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "226302683700",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
}
FIRST_PARTY = ("kmeans", "linear-learner", "randomcutforest", "knn", "pca")

XGBOOST_VERSIONS = (
    "0.90-1",
    "0.90-2",
    "1.0-1",
    "1.2-1",
    "1.2-2",
    "1.3-1",
    "1.5-1",
    "1.7-1",
    "3.0-5",
)
SKLEARN_VERSIONS = {
    "training": ("0.20.0", "0.23-1", "1.0-1", "1.2-1", "1.4-2"),
    "inference": ("0.20.0", "0.23-1", "1.0-1", "1.2-1"),
}
_ALIASES = {
    "xgboost": "xgboost",
    "sklearn": "sklearn",
    "scikit-learn": "sklearn",
    **{name: name for name in FIRST_PARTY},
}


def _domain(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def _account(table: dict[str, str], framework: str, region: str) -> str:
    try:
        return table[region]
    except KeyError:
        raise ValueError(
            f"Unsupported region: {region}. {framework} images exist in: "
            f"{', '.join(sorted(table))}."
        ) from None


def retrieve(
    framework: str,
    region: str | None = None,
    version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    image_scope: str | None = None,
) -> str:
    """The ECR image URI for ``framework`` at ``version`` in ``region``.

    Parameters
    ----------
    framework:
        ``xgboost`` or ``sklearn`` (``scikit-learn`` is accepted too), or a first-party
        algorithm: ``kmeans``, ``linear-learner``, ``randomcutforest``, ``knn``, ``pca``.
    region:
        The AWS region; defaults to simsage's configured region.
    version:
        The framework version, e.g. ``1.7-1`` (XGBoost) or ``1.2-1`` (scikit-learn).
        ``latest`` or ``1`` for XGBoost names the legacy built-in algorithm image.
    py_version:
        Only ``py3`` exists for scikit-learn (the default); XGBoost takes none.
    instance_type:
        Accepted for signature compatibility; only CPU images exist for these.
    image_scope:
        ``training`` (default) or ``inference``; the registries are the same.

    Raises
    ------
    ValueError
        An unknown framework, version, region, py_version or a GPU instance type.
    """
    name = _ALIASES.get(framework.lower())
    if name is None:
        raise ValueError(
            f"Unsupported framework: {framework}. simsage knows: xgboost, sklearn, "
            f"{', '.join(FIRST_PARTY)}."
        )
    if region is None:
        from simsage.config import load_config

        region = load_config().region
    if instance_type and instance_type.split(".")[1][:1] in ("p", "g"):
        raise ValueError(
            f"Unsupported processor: gpu ({instance_type}); {name} images are CPU only."
        )
    scope = image_scope or "training"
    if scope not in ("training", "inference"):
        raise ValueError(f"Unsupported image scope: {scope}. Use training or inference.")
    if name in FIRST_PARTY:
        if version not in (None, "1"):
            raise ValueError(
                f"Unsupported {name} version: {version}. Supported {name} version(s): 1."
            )
        account = _account(FIRST_PARTY_ACCOUNTS, name, region)
        return f"{account}.dkr.ecr.{region}.{_domain(region)}/{name}:1"
    if name == "xgboost":
        if version in ("1", "latest"):
            account = _account(ALGORITHM_ACCOUNTS, name, region)
            return f"{account}.dkr.ecr.{region}.{_domain(region)}/xgboost:1"
        if version not in XGBOOST_VERSIONS:
            raise ValueError(
                f"Unsupported xgboost version: {version}. Supported xgboost version(s): "
                f"{', '.join(XGBOOST_VERSIONS)}, 1, latest."
            )
        if py_version not in (None, "py3"):
            raise ValueError(f"Unsupported Python version: {py_version}.")
        account = _account(FRAMEWORK_ACCOUNTS, name, region)
        return f"{account}.dkr.ecr.{region}.{_domain(region)}/sagemaker-xgboost:{version}"
    versions = SKLEARN_VERSIONS[scope]
    if version not in versions:
        raise ValueError(
            f"Unsupported sklearn version: {version}. Supported sklearn version(s) for "
            f"{scope}: {', '.join(versions)}."
        )
    if (py_version or "py3") != "py3":
        raise ValueError(f"Unsupported Python version: {py_version}. Supported: py3.")
    account = _account(FRAMEWORK_ACCOUNTS, name, region)
    return f"{account}.dkr.ecr.{region}.{_domain(region)}/sagemaker-scikit-learn:{version}-cpu-py3"
