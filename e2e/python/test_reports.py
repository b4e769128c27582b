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


if __name__ == "__main__":
    unittest.main()
