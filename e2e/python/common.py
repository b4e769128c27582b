"""Shared helpers for the boto3 end-to-end tests (run by e2e/*_test.go)."""
import os
import time

import boto3
import botocore.config

ENDPOINT = os.environ["BUILDBATCH_ENDPOINT"]


def client(access_key="test", region="us-east-1"):
    return boto3.client(
        "codebuild",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def project_args(name, buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n", **extra):
    args = dict(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": buildspec},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::000000000000:role/codebuild",
    )
    args.update(extra)
    return args


def wait_build(cb, build_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = cb.batch_get_builds(ids=[build_id])["builds"][0]
        if b["buildComplete"]:
            return b
        time.sleep(0.05)
    raise AssertionError("build %s did not complete" % build_id)


def wait_batch(cb, batch_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = cb.batch_get_build_batches(ids=[batch_id])["buildBatches"][0]
        if b["complete"]:
            return b
        time.sleep(0.05)
    raise AssertionError("batch %s did not complete" % batch_id)
