import time
import unittest

from common import client, project_args, wait_build

SPEC = """version: 0.2
phases:
  build:
    commands:
      - |
        cat > results.xml <<'XML'
        <testsuite name="py">
          <testcase classname="t.A" name="one" time="0.5"/>
          <testcase classname="t.A" name="two" time="0.25"><failure message="boom">trace</failure></testcase>
          <testcase classname="t.B" name="three" time="0"><skipped/></testcase>
        </testsuite>
        XML
reports:
  pytest:
    files: [results.xml]
"""


class ReportsTest(unittest.TestCase):
    def test_reports_with_paginators(self):
        cb = client()
        cb.create_project(**project_args("py-rep", SPEC))
        b = wait_build(cb, cb.start_build(projectName="py-rep")["build"]["id"])
        self.assertEqual(b["buildStatus"], "SUCCEEDED")
        self.assertEqual(len(b["reportArns"]), 1)
        rep = cb.batch_get_reports(reportArns=b["reportArns"])["reports"][0]
        self.assertEqual(rep["status"], "FAILED")
        self.assertEqual(rep["name"], "py-rep-pytest")
        self.assertEqual(rep["testSummary"]["total"], 3)
        self.assertEqual(rep["testSummary"]["durationInNanoSeconds"], 750000000)
        pages = cb.get_paginator("describe_test_cases").paginate(reportArn=rep["arn"], PaginationConfig={"PageSize": 1})
        names = [tc["name"] for p in pages for tc in p["testCases"]]
        self.assertEqual(len(names), 3)
        groups = [g for p in cb.get_paginator("list_report_groups").paginate() for g in p["reportGroups"]]
        self.assertIn(rep["reportGroupArn"], groups)
        reports = [r for p in cb.get_paginator("list_reports_for_report_group").paginate(reportGroupArn=rep["reportGroupArn"]) for r in p["reports"]]
        self.assertEqual(reports, b["reportArns"])
        with self.assertRaises(cb.exceptions.ResourceNotFoundException):
            cb.describe_test_cases(reportArn=rep["arn"] + "-nope")


FANOUT = """version: 0.2
batch:
  build-fanout:
    parallelism: 2
phases:
  build:
    commands:
      - |
        if [ "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = build1 ]; then
          echo '<testsuite name="a"><testcase classname="a" name="ok" time="0.5"/></testsuite>' > junit.xml
        else
          echo '<testsuite name="b"><testcase classname="b" name="ok" time="0.25"/><testcase classname="b" name="bad" time="0.25"><failure message="no">x</failure></testcase></testsuite>' > junit.xml
        fi
reports:
  unit:
    files: [junit.xml]
"""


class FanoutReportsTest(unittest.TestCase):
    def test_merged_batch_report(self):
        cb = client()
        args = project_args("py-fan", FANOUT)
        args["buildBatchConfig"] = {"serviceRole": "arn:aws:iam::000000000000:role/codebuild"}
        cb.create_project(**args)
        bid = cb.start_build_batch(projectName="py-fan")["buildBatch"]["id"]
        deadline = time.time() + 120
        while True:
            batch = cb.batch_get_build_batches(ids=[bid])["buildBatches"][0]
            if batch.get("complete") or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(batch["buildBatchStatus"], "SUCCEEDED")
        self.assertEqual(len(batch["reportArns"]), 1)
        rep = cb.batch_get_reports(reportArns=batch["reportArns"])["reports"][0]
        self.assertEqual(rep["name"], "py-fan-unit")
        self.assertEqual(rep["executionId"], batch["arn"])
        self.assertEqual(rep["status"], "FAILED")
        self.assertEqual(rep["testSummary"]["total"], 3)
        self.assertEqual(rep["testSummary"]["statusCounts"]["FAILED"], 1)
        self.assertEqual(rep["testSummary"]["durationInNanoSeconds"], 500000000)  # the longest shard
        groups = [g for p in cb.get_paginator("list_report_groups").paginate() for g in p["reportGroups"]]
        for shard in ("py-fan-unitBuildFanoutShard1", "py-fan-unitBuildFanoutShard2"):
            self.assertTrue(any(g.endswith("/" + shard) for g in groups), shard)


if __name__ == "__main__":
    unittest.main()
