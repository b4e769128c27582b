import os
import subprocess
import time
import unittest

from common import client, project_args, wait_build


def phases(b):
    return " ".join(p["phaseType"] + (":" + p["phaseStatus"] if "phaseStatus" in p else "") for p in b["phases"])


class BuildsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = client()
        cls.cb.create_project(**project_args("py-pass", buildspec="""version: 0.2
env:
  exported-variables: [ANSWER]
phases:
  build:
    commands:
      - export ANSWER=42
      - echo building $CODEBUILD_BUILD_NUMBER
"""))
        cls.cb.create_project(**project_args("py-fail", buildspec="""version: 0.2
phases:
  pre_build:
    commands:
      - echo pre
  build:
    commands:
      - false
  post_build:
    commands:
      - echo post
"""))
        cls.cb.create_project(**project_args("py-sleep", buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n"))

    def test_passing_build(self):
        b = self.cb.start_build(projectName="py-pass")["build"]
        self.assertEqual(b["buildStatus"], "IN_PROGRESS")
        self.assertEqual(b["currentPhase"], "QUEUED")
        b = wait_build(self.cb, b["id"])
        self.assertEqual(b["buildStatus"], "SUCCEEDED")
        self.assertEqual(len(b["phases"]), 11)
        self.assertEqual(b["exportedEnvironmentVariables"], [{"name": "ANSWER", "value": "42"}])
        self.assertGreaterEqual(b["endTime"], b["startTime"])

    def test_failing_build(self):
        b = wait_build(self.cb, self.cb.start_build(projectName="py-fail")["build"]["id"])
        self.assertEqual(b["buildStatus"], "FAILED")
        self.assertIn("BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED", phases(b))
        build = [p for p in b["phases"] if p["phaseType"] == "BUILD"][0]
        self.assertEqual(build["contexts"], [{"statusCode": "COMMAND_EXECUTION_ERROR",
                                              "message": "Error while executing command: false. Reason: exit status 1"}])

    def test_stop_and_errors(self):
        b = self.cb.start_build(projectName="py-sleep")["build"]
        deadline = time.time() + 30
        while self.cb.batch_get_builds(ids=[b["id"]])["builds"][0]["currentPhase"] != "BUILD":
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        s = self.cb.stop_build(id=b["id"])["build"]
        self.assertEqual(s["buildStatus"], "STOPPED")
        self.assertTrue(s["buildComplete"])
        with self.assertRaises(self.cb.exceptions.ResourceNotFoundException):
            self.cb.stop_build(id="py-sleep:00000000-0000-0000-0000-000000000000")
        with self.assertRaises(self.cb.exceptions.ResourceNotFoundException):
            self.cb.start_build(projectName="nope")
        with self.assertRaises(self.cb.exceptions.InvalidInputException):
            self.cb.start_build(projectName="py-sleep", computeTypeOverride="HUGE")
        got = self.cb.batch_get_builds(ids=[b["id"], "py-sleep:missing"])
        self.assertEqual(got["buildsNotFound"], ["py-sleep:missing"])

    def test_list_paginators(self):
        for _ in range(3):
            wait_build(self.cb, self.cb.start_build(projectName="py-pass")["build"]["id"])
        ids = [i for page in self.cb.get_paginator("list_builds_for_project").paginate(projectName="py-pass") for i in page["ids"]]
        nums = [b["buildNumber"] for b in self.cb.batch_get_builds(ids=ids)["builds"]]
        self.assertEqual(nums, sorted(nums, reverse=True))


if __name__ == "__main__":
    unittest.main()
