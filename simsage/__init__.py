"""simsage: Amazon SageMaker on your laptop.

simsage answers boto3 itself, under botocore: the same pipeline code runs here, offline,
and on AWS when ``SIMSAGE_BACKEND=aws``.

    import simsage
    s3 = simsage.boto3_session().client("s3")     # answered by simsage

    simsage.activate()                            # every boto3 client from now on
    with simsage.local(): ...                     # only inside the block
"""

from simsage.config import Config, load_config
from simsage.transport.activation import activate, boto3_session, deactivate, local

__version__ = "0.1.0"

__all__ = ["Config", "activate", "boto3_session", "deactivate", "load_config", "local"]
