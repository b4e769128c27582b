"""Builds with boto3 on a server started with --max-concurrent-builds 2
--max-queued-builds 1 --timeout-minute 1s (see clients_test.go)."""
import hashlib
import os

import subprocess
import tempfile
import time
import unittest

from blobs import read_object
from common import client, project_args, wait_build

BINARY = os.environ["BUILDBATCH_BINARY"]
ENDPOINT = os.environ["BUILDBATCH_ENDPOINT"]


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def wait_phase(cb, build_id, phase, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cb.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] == phase:
            return
        time.sleep(0.05)
    raise AssertionError("build %s never reached %s" % (build_id, phase))


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = client()
        cls.cb.create_project(**project_args("sleepy", buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n"))

    def test_build_timeout(self):
        b = wait_build(self.cb, self.cb.start_build(projectName="sleepy", timeoutInMinutesOverride=5)["build"]["id"])
        self.assertEqual(b["buildStatus"], "TIMED_OUT")
        build = [p for p in b["phases"] if p["phaseType"] == "BUILD"][0]
        self.assertEqual(build["phaseStatus"], "TIMED_OUT")
        self.assertEqual(b["timeoutInMinutes"], 5)

    def test_queue_and_project_limit(self):
        cb = self.cb
        ids = [cb.start_build(projectName="sleepy")["build"]["id"] for _ in range(3)]
        try:
            time.sleep(0.3)
            phases = [b["currentPhase"] for b in cb.batch_get_builds(ids=ids)["builds"]]
            self.assertEqual(phases.count("QUEUED"), 1, phases)
            with self.assertRaises(cb.exceptions.AccountLimitExceededException) as e:
                cb.start_build(projectName="sleepy")
            self.assertIn("Cannot have more than 1 builds in queue for the account", str(e.exception))
        finally:
            for i in ids:
                cb.stop_build(id=i)
        cb.create_project(**project_args("limited", buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n", concurrentBuildLimit=1))
        first = cb.start_build(projectName="limited")["build"]["id"]
        try:
            with self.assertRaises(cb.exceptions.AccountLimitExceededException) as e:
                cb.start_build(projectName="limited")
            self.assertIn("concurrent build limit of 1", str(e.exception))
        finally:
            cb.stop_build(id=first)

    def test_git_tag_and_artifact_checksum(self):
        cb = self.cb
        repo = tempfile.mkdtemp()
        git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "buildspec.yml"), "w") as f:
            f.write("version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p out && cp VERSION out/\nartifacts:\n  files: ['**/*']\n  base-directory: out\n")
        with open(os.path.join(repo, "VERSION"), "w") as f:
            f.write("1.0\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "v1")
        git(repo, "tag", "v1.0")
        tagged = git(repo, "rev-parse", "HEAD")
        with open(os.path.join(repo, "VERSION"), "w") as f:
            f.write("2.0\n")
        git(repo, "commit", "-qam", "v2")
        cb.create_project(
            name="gitzip",
            source={"type": "GITHUB", "location": "file://" + repo},
            artifacts={"type": "S3", "location": "py-bucket", "name": "out.zip", "packaging": "ZIP", "namespaceType": "BUILD_ID"},
            environment={"type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole="arn:aws:iam::000000000000:role/codebuild",
        )
        b = wait_build(cb, cb.start_build(projectName="gitzip", sourceVersion="v1.0")["build"]["id"])
        self.assertEqual(b["buildStatus"], "SUCCEEDED")
        self.assertEqual(b["resolvedSourceVersion"], tagged)
        uuid = b["id"].split(":", 1)[1]
        self.assertEqual(b["artifacts"]["location"], "arn:aws:s3:::py-bucket/%s/out.zip" % uuid)
        data = read_object("py-bucket", uuid + "/out.zip")
        self.assertEqual(b["artifacts"]["sha256sum"], hashlib.sha256(data).hexdigest())
        self.assertEqual(b["artifacts"]["md5sum"], hashlib.md5(data).hexdigest())

    def test_logs_followed_while_running(self):
        cb = self.cb
        cb.create_project(**project_args("ticking", buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - for i in 1 2 3; do echo tick $i; sleep 0.3; done\n"))
        bid = cb.start_build(projectName="ticking")["build"]["id"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_ENDPOINT_URL"] = ENDPOINT
        proc = subprocess.Popen([BINARY, "logs", "--follow", bid], stdout=subprocess.PIPE, env=env, text=True)
        first = None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("tick 1") and first is None:
                first = cb.batch_get_builds(ids=[bid])["builds"][0]["buildComplete"]
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertIs(first, False, "the first tick should be followed while the build still runs")
        self.assertIn("tick 3\n", lines)
        self.assertTrue(cb.batch_get_builds(ids=[bid])["builds"][0]["buildComplete"])


if __name__ == "__main__":
    unittest.main()
