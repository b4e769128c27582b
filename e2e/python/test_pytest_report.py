"""A build running real pytest with one failing test, seen through boto3."""
import unittest

from common import client, project_args, wait_build

SPEC = """version: 0.2
phases:
  build:
    commands:
      - mkdir -p tests
      - |
        cat > tests/test_shop.py <<'PY'
        def test_total():
            assert sum([1, 2, 3]) == 6

        def test_discount():
            price = 100 * 0.9
            assert price == 80, "ten percent off 100 is 80"

        def test_empty_cart():
            assert [] == []
        PY
      - /usr/bin/python3 -m pytest -p no:cacheprovider --junitxml=out/junit.xml tests
reports:
  shop:
    files: [out/junit.xml]
"""


class PytestReportTest(unittest.TestCase):
    def test_failing_pytest_run(self):
        cb = client()
        cb.create_project(**project_args("pyshop", SPEC))
        arns = []
        for _ in range(3):
            b = wait_build(cb, cb.start_build(projectName="pyshop")["build"]["id"])
            self.assertEqual(b["buildStatus"], "FAILED")
            self.assertEqual(len(b["reportArns"]), 1)
            arns.append(b["reportArns"][0])
        rep = cb.batch_get_reports(reportArns=arns[:1])["reports"][0]
        self.assertEqual(rep["status"], "FAILED")
        self.assertEqual(rep["testSummary"]["total"], 3)
        self.assertEqual(rep["testSummary"]["statusCounts"]["FAILED"], 1)
        self.assertEqual(rep["testSummary"]["statusCounts"]["SUCCEEDED"], 2)
        failed = [tc for p in cb.get_paginator("describe_test_cases").paginate(reportArn=rep["arn"], filter={"status": "FAILED"})
                  for tc in p["testCases"]]
        self.assertEqual([tc["name"] for tc in failed], ["test_discount"])
        self.assertIn("ten percent off 100 is 80", failed[0]["message"])
        self.assertEqual(failed[0]["prefix"], "tests.test_shop")
        trend = cb.get_report_group_trend(reportGroupArn=rep["reportGroupArn"], trendField="PASS_RATE")
        self.assertEqual(len(trend["rawData"]), 3)
        self.assertEqual(sorted(d["reportArn"] for d in trend["rawData"]), sorted(arns))
        self.assertEqual(trend["stats"], {"average": "66.67", "max": "66.67", "min": "66.67"})


if __name__ == "__main__":
    unittest.main()
