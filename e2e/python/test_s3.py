"""The artifact store through boto3's S3 client: transfers (multipart past 8 MiB), paginators, errors."""
import hashlib
import os
import tempfile
import unittest

import boto3
import botocore

from common import ENDPOINT


def s3(access_key="test"):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


class S3Test(unittest.TestCase):
    def test_transfers(self):
        c = s3()
        c.create_bucket(Bucket="py-bucket")
        data = os.urandom(9 * 1024 * 1024 + 17)  # past the 8 MiB multipart threshold
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "src.bin"), os.path.join(d, "dst.bin")
            with open(src, "wb") as f:
                f.write(data)
            c.upload_file(src, "py-bucket", "blobs/big.bin")
            c.download_file("py-bucket", "blobs/big.bin", dst)
            with open(dst, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        for i in range(5):
            c.put_object(Bucket="py-bucket", Key="many/%d.txt" % i, Body=b"x" * i)
        keys = [o["Key"] for p in c.get_paginator("list_objects_v2").paginate(Bucket="py-bucket", Prefix="many/", PaginationConfig={"PageSize": 2})
                for o in p.get("Contents", [])]
        self.assertEqual(keys, ["many/%d.txt" % i for i in range(5)])
        head = c.head_object(Bucket="py-bucket", Key="blobs/big.bin")
        self.assertEqual(head["ContentLength"], len(data))
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            c.get_object(Bucket="py-bucket", Key="nope")
        self.assertEqual(e.exception.response["Error"]["Code"], "NoSuchKey")
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            s3("111111111111").get_object(Bucket="py-bucket", Key="blobs/big.bin")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDenied")
        with self.assertRaises(c.exceptions.BucketAlreadyExists):
            s3("111111111111").create_bucket(Bucket="py-bucket")
        self.assertIn("py-bucket", [b["Name"] for b in c.list_buckets()["Buckets"]])


if __name__ == "__main__":
    unittest.main()
