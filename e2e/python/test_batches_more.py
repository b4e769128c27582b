import io
import os

import time
import unittest
import zipfile

from blobs import read_object
from common import client, project_args, wait_batch

ROLE = {"serviceRole": "arn:aws:iam::000000000000:role/batch-role"}


def groups(b):
    return {g["identifier"]: g["currentBuildSummary"]["buildStatus"] for g in b.get("buildGroups", [])}


class MoreBatchesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = client()

    def test_list_fast_fail_and_retry_all(self):
        cb = self.cb
        spec = """version: 0.2
batch:
  fast-fail: true
  build-list:
    - identifier: fails
      env:
        variables: {FAIL: "1"}
    - identifier: slow
      env:
        variables: {SLEEP: "30"}
phases:
  build:
    commands:
      - sleep ${SLEEP:-0}
      - test -z "$FAIL"
"""
        cb.create_project(**project_args("py-fastfail", buildspec=spec, buildBatchConfig=ROLE))
        t0 = time.time()
        b = wait_batch(cb, cb.start_build_batch(projectName="py-fastfail")["buildBatch"]["id"])
        self.assertLess(time.time() - t0, 20)
        self.assertEqual(b["buildBatchStatus"], "FAILED")
        self.assertEqual(groups(b), {"DOWNLOAD_SOURCE": "SUCCEEDED", "fails": "FAILED", "slow": "STOPPED"})
        cb.retry_build_batch(id=b["id"], retryType="RETRY_ALL_BUILDS")
        b = wait_batch(cb, b["id"])
        prior = {g["identifier"]: len(g.get("priorBuildSummaryList", [])) for g in b.get("buildGroups", [])}
        self.assertEqual(prior, {"DOWNLOAD_SOURCE": 0, "fails": 1, "slow": 1})

    def test_stop_build_batch(self):
        cb = self.cb
        cb.create_project(**project_args("py-stop", buildspec="version: 0.2\nbatch:\n  build-list:\n    - identifier: a\nphases:\n  build:\n    commands:\n      - sleep 600\n", buildBatchConfig=ROLE))
        bid = cb.start_build_batch(projectName="py-stop")["buildBatch"]["id"]
        deadline = time.time() + 30
        while True:
            b = cb.batch_get_build_batches(ids=[bid])["buildBatches"][0]
            if groups(b).get("a") == "IN_PROGRESS":
                break
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        s = cb.stop_build_batch(id=bid)["buildBatch"]
        self.assertEqual(s["buildBatchStatus"], "STOPPED")
        self.assertTrue(s["complete"])
        self.assertEqual(groups(s)["a"], "STOPPED")
        self.assertEqual([p["phaseType"] for p in s["phases"]][-1], "STOPPED")

    def test_maximum_builds_allowed(self):
        cb = self.cb
        cb.create_project(**project_args("py-max", buildspec="version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 3\nphases:\n  build:\n    commands: [true]\n",
                                         buildBatchConfig=dict(ROLE, restrictions={"maximumBuildsAllowed": 2})))
        b = wait_batch(cb, cb.start_build_batch(projectName="py-max")["buildBatch"]["id"])
        self.assertEqual(b["buildBatchStatus"], "FAILED")
        spec_phase = b["phases"][1]
        self.assertEqual(spec_phase["phaseType"], "DOWNLOAD_BATCHSPEC")
        self.assertEqual(spec_phase["phaseStatus"], "FAILED")
        self.assertIn("maximumBuildsAllowed", spec_phase["contexts"][0]["message"])
        self.assertIn("at line", spec_phase["contexts"][0]["message"])

    def test_fanout_and_combine_artifacts(self):
        cb = self.cb
        spec = """version: 0.2
batch:
  build-fanout:
    parallelism: 2
phases:
  build:
    commands:
      - mkdir -p out && echo "shard $BUILDBATCH_SHARD_INDEX of $BUILDBATCH_SHARD_COUNT" > out/shard.txt
artifacts:
  files: ['**/*']
  base-directory: out
"""
        cb.create_project(**project_args("py-combine", buildspec=spec,
                                         artifacts={"type": "S3", "location": "py-combined", "name": "all.zip", "packaging": "ZIP"},
                                         buildBatchConfig=dict(ROLE, combineArtifacts=True)))
        b = wait_batch(cb, cb.start_build_batch(projectName="py-combine")["buildBatch"]["id"])
        self.assertEqual(b["buildBatchStatus"], "SUCCEEDED")
        self.assertEqual(b["artifacts"]["location"], "arn:aws:s3:::py-combined/all.zip")
        with zipfile.ZipFile(io.BytesIO(read_object("py-combined", "all.zip"))) as z:
            self.assertEqual(sorted(z.namelist()), ["build1/shard.txt", "build2/shard.txt"])
            self.assertEqual(z.read("build2/shard.txt"), b"shard 1 of 2\n")


if __name__ == "__main__":
    unittest.main()
