import datetime
import unittest

from common import client, project_args


class ProjectsTest(unittest.TestCase):
    def setUp(self):
        self.cb = client()

    def test_lifecycle(self):
        cb = self.cb
        out = cb.create_project(**project_args("py-proj", tags=[{"key": "k", "value": "v"}], concurrentBuildLimit=1,
                                               buildBatchConfig={"serviceRole": "arn:aws:iam::000000000000:role/b", "restrictions": {"maximumBuildsAllowed": 5}}))
        p = out["project"]
        self.assertEqual(p["arn"], "arn:aws:codebuild:us-east-1:000000000000:project/py-proj")
        self.assertIsInstance(p["created"], datetime.datetime)
        self.assertEqual(p["timeoutInMinutes"], 60)
        self.assertEqual(p["queuedTimeoutInMinutes"], 480)
        self.assertEqual(p["badge"], {"badgeEnabled": False})
        self.assertEqual(p["buildBatchConfig"]["restrictions"]["maximumBuildsAllowed"], 5)
        self.assertTrue(out["ResponseMetadata"]["RequestId"])

        with self.assertRaises(cb.exceptions.ResourceAlreadyExistsException):
            cb.create_project(**project_args("py-proj"))

        up = cb.update_project(name="py-proj", timeoutInMinutes=90, badgeEnabled=True)["project"]
        self.assertEqual(up["timeoutInMinutes"], 90)
        self.assertTrue(up["badge"]["badgeEnabled"])
        self.assertIn("badgeRequestUrl", up["badge"])
        self.assertEqual(up["tags"], [{"key": "k", "value": "v"}])

        got = cb.batch_get_projects(names=["py-proj", "nope"])
        self.assertEqual([x["name"] for x in got["projects"]], ["py-proj"])
        self.assertEqual(got["projectsNotFound"], ["nope"])

        with self.assertRaises(cb.exceptions.ResourceNotFoundException):
            cb.update_project(name="nope", description="x")

        cb.delete_project(name="py-proj")
        self.assertEqual(cb.batch_get_projects(names=["py-proj"])["projects"], [])

    def test_server_side_validation(self):
        cb = self.cb
        # botocore checks min client-side but not max, enums or patterns.
        with self.assertRaises(cb.exceptions.InvalidInputException) as e:
            cb.create_project(**project_args("py-bad", timeoutInMinutes=5000))
        self.assertIn("timeoutInMinutes", str(e.exception))
        with self.assertRaises(cb.exceptions.InvalidInputException) as e:
            cb.create_project(**project_args("py-bad", environment={"type": "LINUX_CONTAINER", "image": "i", "computeType": "NOPE"}))
        self.assertIn("environment.computeType", str(e.exception))
        with self.assertRaises(cb.exceptions.InvalidInputException):
            cb.create_project(**project_args("bad name"))
        with self.assertRaises(cb.exceptions.InvalidInputException):
            cb.list_projects(nextToken="garbage")

    def test_pagination(self):
        cb = self.cb
        for i in range(105):
            cb.create_project(**project_args("page-%03d" % i))
        pages = list(cb.get_paginator("list_projects").paginate(sortBy="NAME", sortOrder="DESCENDING"))
        names = [n for page in pages for n in page["projects"] if n.startswith("page-")]
        self.assertEqual(len(pages), 2)
        self.assertEqual(names, ["page-%03d" % i for i in reversed(range(105))])


if __name__ == "__main__":
    unittest.main()
