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

    def test_tail_follow(self):
        """What `aws logs tail GROUP --follow` (aws cli v2, not on this
        machine) asks while a build runs: FilterLogEvents over the group,
        interleaved, from a start time, through nextToken; at the end of the
        pages the same call again from the newest timestamp seen, skipping
        the eventIds already shown at that timestamp. Every line must come
        once, in order, and the follower must see the build's last line."""
        import time
        from collections import defaultdict

        cb = client()
        logs = logs_client()
        spec = ("version: 0.2\nphases:\n  build:\n    commands:\n"
                "      - for i in $(seq 1 12); do echo \"tick $i\"; sleep 0.1; done\n")
        cb.create_project(**project_args("pytail", spec))
        build_id = cb.start_build(projectName="pytail")["build"]["id"]
        group = "/aws/codebuild/pytail"
        kwargs = {"logGroupName": group, "interleaved": True, "startTime": int((time.time() - 600) * 1000)}
        seen_at = defaultdict(set)
        shown = []
        complete, quiet_polls, shown_while_running = False, 0, 0
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                out = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                out = {"events": []}  # the group appears with the build's first line
            new = 0
            for e in out["events"]:
                if e["eventId"] not in seen_at[e["timestamp"]]:
                    seen_at[e["timestamp"]].add(e["eventId"])
                    shown.append(e["message"])
                    new += 1
            if seen_at:
                newest = max(seen_at)
                seen_at = defaultdict(set, {newest: seen_at[newest]})
            if "nextToken" in out:
                kwargs["nextToken"] = out["nextToken"]
                continue
            kwargs.pop("nextToken", None)
            if seen_at:
                kwargs["startTime"] = max(seen_at)
            if complete:
                quiet_polls = quiet_polls + 1 if new == 0 else 0
                if quiet_polls >= 2:
                    break
            else:
                complete = cb.batch_get_builds(ids=[build_id])["builds"][0]["buildComplete"]
                if complete:
                    shown_while_running = len([m for m in shown if m.startswith("tick ")])
            time.sleep(0.2)
        else:
            self.fail("the follower did not settle: %r" % shown[-3:])
        # It followed: lines came while the build ran, not all at its end.
        self.assertGreater(shown_while_running, 0)
        ticks = [m for m in shown if m.startswith("tick ")]
        self.assertEqual(ticks, ["tick %d\n" % i for i in range(1, 13)])
        # Nothing shown twice, and the follower reached the end of the log.
        full = [e["message"] for p in logs.get_paginator("filter_log_events").paginate(logGroupName=group) for e in p["events"]]
        self.assertEqual(shown, full)


if __name__ == "__main__":
    unittest.main()
