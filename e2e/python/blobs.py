"""Reads artifacts from the server's blob store, wherever it keeps them:
files in its data directory, or an S3-compatible store (BUILDBATCH_BLOB,
an s3://BUCKET/PREFIX?endpoint=URL&region=R URL, as the server's --blob)."""

import os
import urllib.parse

import boto3
import botocore.config


def read_object(bucket, key):
    spec = os.environ.get("BUILDBATCH_BLOB", "")
    if not spec:
        with open(os.path.join(os.environ["BUILDBATCH_DATA_DIR"], "artifacts", bucket, key), "rb") as f:
            return f.read()
    u = urllib.parse.urlparse(spec)
    q = urllib.parse.parse_qs(u.query)
    s3 = boto3.client(
        "s3",
        endpoint_url=q["endpoint"][0],
        region_name=q.get("region", ["us-east-1"])[0],
        aws_access_key_id=os.environ["BUILDBATCH_BLOB_KEY"],
        aws_secret_access_key=os.environ["BUILDBATCH_BLOB_SECRET"],
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    parts = [p for p in (u.path.strip("/"), bucket, key) if p]
    return s3.get_object(Bucket=u.netloc, Key="/".join(parts))["Body"].read()
