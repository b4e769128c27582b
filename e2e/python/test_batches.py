import unittest

from common import client, project_args, wait_batch

BATCH_ROLE = "arn:aws:iam::000000000000:role/batch-role"

GRAPH = """version: 0.2
batch:
  build-graph:
    - identifier: first
    - identifier: second
      depend-on: [first]
    - identifier: flaky
      ignore-failure: true
      env:
        variables: {FAIL: "1"}
phases:
  build:
    commands:
      - test -z "$FAIL"
"""

MATRIX = """version: 0.2
batch:
  build-matrix:
    dynamic:
      env:
        variables:
          A: [x, y]
          B: ["1", "2"]
phases:
  build:
    commands:
      - echo $A$B
"""


class BatchesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = client()
        cls.cb.create_project(**project_args("py-batch", buildspec=GRAPH, buildBatchConfig={"serviceRole": BATCH_ROLE}))

    def test_graph_batch(self):
        cb = self.cb
        started = cb.start_build_batch(projectName="py-batch")["buildBatch"]
        self.assertEqual(started["currentPhase"], "SUBMITTED")
        self.assertNotIn("phases", started)
        b = wait_batch(cb, started["id"])
        self.assertEqual(b["buildBatchStatus"], "SUCCEEDED")
        self.assertEqual([p["phaseType"] for p in b["phases"]],
                         ["SUBMITTED", "DOWNLOAD_BATCHSPEC", "IN_PROGRESS", "COMBINE_ARTIFACTS", "SUCCEEDED"])
        groups = {g["identifier"]: g for g in b["buildGroups"]}
        self.assertEqual(list(groups), ["DOWNLOAD_SOURCE", "first", "second", "flaky"])
        self.assertEqual(groups["flaky"]["currentBuildSummary"]["buildStatus"], "FAILED")
        self.assertTrue(groups["flaky"]["ignoreFailure"])
        self.assertEqual(groups["second"]["dependsOn"], ["first"])
        self.assertNotIn("dependsOn", groups["DOWNLOAD_SOURCE"])
        builds = cb.batch_get_builds(ids=[g["currentBuildSummary"]["arn"] for g in b["buildGroups"]])["builds"]
        self.assertEqual(len(builds), 4)
        for build in builds:
            self.assertEqual(build["buildBatchArn"], b["arn"])
        first = [x for x in builds if x["arn"] == groups["first"]["currentBuildSummary"]["arn"]][0]
        second = [x for x in builds if x["arn"] == groups["second"]["currentBuildSummary"]["arn"]][0]
        self.assertGreaterEqual(second["startTime"], first["endTime"])

    def test_matrix_retry_delete_and_lists(self):
        cb = self.cb
        b = wait_batch(cb, cb.start_build_batch(projectName="py-batch", buildspecOverride=MATRIX)["buildBatch"]["id"])
        self.assertEqual(b["buildBatchStatus"], "SUCCEEDED")
        self.assertEqual([g["identifier"] for g in b["buildGroups"]], ["DOWNLOAD_SOURCE", "build1", "build2", "build3", "build4"])

        failing = GRAPH.replace("ignore-failure: true", "ignore-failure: false")
        f = wait_batch(cb, cb.start_build_batch(projectName="py-batch", buildspecOverride=failing)["buildBatch"]["id"])
        self.assertEqual(f["buildBatchStatus"], "FAILED")
        r = cb.retry_build_batch(id=f["id"], retryType="RETRY_FAILED_BUILDS", idempotencyToken="retry-1")["buildBatch"]
        self.assertEqual(r["currentPhase"], "SUBMITTED")
        r2 = cb.retry_build_batch(id=f["id"], retryType="RETRY_FAILED_BUILDS", idempotencyToken="retry-1")["buildBatch"]
        self.assertEqual(r2["id"], f["id"])
        f = wait_batch(cb, f["id"])
        flaky = [g for g in f["buildGroups"] if g["identifier"] == "flaky"][0]
        self.assertEqual(len(flaky["priorBuildSummaryList"]), 1)

        ids = [i for page in cb.get_paginator("list_build_batches_for_project").paginate(projectName="py-batch", PaginationConfig={"PageSize": 1}) for i in page["ids"]]
        self.assertIn(b["id"], ids)
        failed = cb.list_build_batches(filter={"status": "FAILED"})["ids"]
        self.assertIn(f["id"], failed)
        self.assertNotIn(b["id"], failed)

        d = cb.delete_build_batch(id=b["id"])
        self.assertEqual(d["statusCode"], "BATCH_DELETED")
        self.assertEqual(len(d["buildsDeleted"]), 5)
        self.assertEqual(cb.batch_get_build_batches(ids=[b["id"]])["buildBatchesNotFound"], [b["id"]])

    def test_errors(self):
        cb = self.cb
        with self.assertRaises(cb.exceptions.ResourceNotFoundException):
            cb.start_build_batch(projectName="nope")
        with self.assertRaises(cb.exceptions.ResourceNotFoundException):
            cb.stop_build_batch(id="py-batch:nope")
        with self.assertRaises(cb.exceptions.InvalidInputException):
            cb.list_build_batches(maxResults=500)
        with self.assertRaises(cb.exceptions.InvalidInputException):
            cb.start_build_batch(projectName="py-batch", buildTimeoutInMinutesOverride=5000)


if __name__ == "__main__":
    unittest.main()
