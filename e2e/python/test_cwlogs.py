"""Build logs read through CloudWatch Logs with boto3: paginators and the token loop."""
import os
import unittest

import boto3
import botocore

from common import ENDPOINT, client, project_args, wait_build


def logs_client():
    return boto3.client(
        "logs",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


SPEC = """version: 0.2
phases:
  build:
    commands:
      - for i in $(seq 1 25); do echo "row $i"; done
      - echo WARN low disk
"""


class CloudWatchLogsTest(unittest.TestCase):
    def test_read_a_build_log(self):
        cb = client()
        logs = logs_client()
        cb.create_project(**project_args("pylogs", SPEC))
        b = wait_build(cb, cb.start_build(projectName="pylogs")["build"]["id"])
        group, stream = b["logs"]["groupName"], b["logs"]["streamName"]
        self.assertEqual(group, "/aws/codebuild/pylogs")

        # The loop users write: stop when the token sent comes back.
        messages, token = [], None
        for _ in range(100):
            kw = dict(logGroupName=group, logStreamName=stream, startFromHead=True, limit=4)
            if token:
                kw["nextToken"] = token
            out = logs.get_log_events(**kw)
            self.assertIn("events", out, out)
            messages += [e["message"] for e in out["events"]]
            if out["nextForwardToken"] == token:
                break
            token = out["nextForwardToken"]
        else:
            self.fail("get_log_events never returned the token it was sent")
        self.assertIn("row 25\n", messages)
        self.assertEqual(messages.count("WARN low disk\n"), 1)
        self.assertTrue(messages[-1].startswith("[Container]"))

        streams = [s["logStreamName"] for p in logs.get_paginator("describe_log_streams").paginate(logGroupName=group, PaginationConfig={"PageSize": 1})
                   for s in p["logStreams"]]
        self.assertEqual(streams, [stream])
        groups = [g["logGroupName"] for p in logs.get_paginator("describe_log_groups").paginate() for g in p["logGroups"]]
        self.assertEqual(groups, [group])
        events = [e for p in logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern="row", PaginationConfig={"PageSize": 10})
                  for e in p["events"]]
        # 25 rows, and the [Container] line of the command that printed them.
        self.assertEqual(len([e for e in events if e["message"].startswith("row ")]), 25)
        self.assertEqual(len({e["eventId"] for e in events}), len(events))
        with self.assertRaises(logs.exceptions.ResourceNotFoundException):
            logs.get_log_events(logGroupName=group, logStreamName="nope")


if __name__ == "__main__":
    unittest.main()
