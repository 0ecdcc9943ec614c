"""S3 from inside the test image, standard library only: one SigV4-signed request to
AWS_ENDPOINT_URL_S3 with the container's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_REGION, signed as boto3 signs it (so the endpoint really verifies the keys the
container was given). A refused connection is retried, as botocore retries it."""

import datetime
import hashlib
import hmac
import http.client
import os
import time
import urllib.parse


def endpoint():
    return os.environ.get("AWS_ENDPOINT_URL_S3")


def request(method, bucket, key, body=b""):
    """(status, body) of ``method`` on s3://bucket/key."""
    url = urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL_S3"])
    region = os.environ["AWS_REGION"]
    access, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = "/" + urllib.parse.quote(f"{bucket}/{key}")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": url.netloc, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    names = sorted(headers)
    signed = ";".join(names)
    canonical = "\n".join(
        [method, path, "", *(f"{n}:{headers[n]}" for n in names), "", signed, payload]
    )
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, digest])
    signing = ("AWS4" + secret).encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}"
    )
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            connection.close()
            return response.status, data
        except ConnectionRefusedError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens at {url.netloc} in this container")
