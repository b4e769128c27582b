"""boto3 against the operations beyond projects, builds, batches and
reports: webhooks, source credentials, fleets, sandboxes, sharing, badges,
public builds, caches and curated images."""
import hashlib
import hmac
import json
import time
import unittest
import urllib.error
import urllib.request

from common import client, project_args, wait_build

SPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"event=$CODEBUILD_WEBHOOK_EVENT trigger=$CODEBUILD_WEBHOOK_TRIGGER\"\n"


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def get(url):
    try:
        with urllib.request.urlopen(url) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class OperationsTest(unittest.TestCase):
    def test_every_operation_is_served(self):
        cb = client()
        method_of = {api: method for method, api in cb.meta.method_to_api_mapping.items()}
        self.assertEqual(len(cb.meta.service_model.operation_names), 59)
        for op in cb.meta.service_model.operation_names:
            method = getattr(cb, method_of[op])
            try:
                method()
            except cb.exceptions.ClientError as e:
                self.assertNotEqual(e.response["Error"]["Code"], "UnknownOperationException", op)
            except Exception as e:  # botocore's own parameter validation
                self.assertIn("ParamValidation", type(e).__name__, op)

    def test_webhook_starts_a_build(self):
        cb = client()
        loc = "https://github.com/owner/py-hooked.git"
        cb.create_project(**project_args("py-hooked", SPEC, source={"type": "GITHUB", "location": loc, "buildspec": SPEC}))
        hook = cb.create_webhook(projectName="py-hooked", filterGroups=[[
            {"type": "EVENT", "pattern": "PULL_REQUEST_CREATED"},
            {"type": "BASE_REF", "pattern": "^refs/heads/main$"}]])["webhook"]
        self.assertTrue(hook["secret"])
        payload = json.dumps({"action": "opened", "number": 7,
                              "pull_request": {"number": 7, "head": {"ref": "feature", "sha": "a" * 40},
                                               "base": {"ref": "main", "sha": "b" * 40}, "merged": False},
                              "repository": {"full_name": "owner/py-hooked", "clone_url": loc},
                              "sender": {"id": 99}}).encode()
        sig = "sha256=" + hmac.new(hook["secret"].encode(), payload, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "py-1",
                   "X-Hub-Signature-256": sig}
        code, out = post(hook["payloadUrl"], payload, headers)
        self.assertEqual(code, 200, out)
        # The project's source is on github.com, which this machine cannot
        # reach: the build fails in DOWNLOAD_SOURCE, but it was started
        # with the pull request's source version and variables.
        b = cb.batch_get_builds(ids=[out["buildId"]])["builds"][0]
        self.assertEqual(b["sourceVersion"], "pr/7")
        code, out = post(hook["payloadUrl"], payload, dict(headers, **{"X-Hub-Signature-256": "sha256=" + "0" * 64}))
        self.assertEqual(code, 401, out)
        # Pull request comment approval: an untrusted author's pull request
        # waits for a trusted user's /codebuild_run(<sha>) comment.
        cb.update_webhook(projectName="py-hooked", pullRequestBuildPolicy={
            "requiresCommentApproval": "ALL_PULL_REQUESTS", "approverRoles": ["GITHUB_ADMIN", "GITHUB_MAINTAIN", "GITHUB_WRITE"]})

        def signed(payload, event, delivery):
            body = json.dumps(payload).encode()
            return body, {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                          "X-Hub-Signature-256": "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()}
        untrusted = json.loads(payload)
        untrusted["pull_request"]["author_association"] = "NONE"
        code, out = post(hook["payloadUrl"], *signed(untrusted, "pull_request", "py-2"))
        self.assertEqual(code, 200, out)
        self.assertNotIn("buildId", out)
        self.assertIn("Pull request approval required", out["message"])
        comment = {"action": "created", "issue": {"number": 7, "pull_request": {"url": "x"}},
                   "comment": {"body": "/codebuild_run(" + "a" * 40 + ")", "author_association": "NONE"},
                   "repository": {"full_name": "owner/py-hooked", "clone_url": loc}, "sender": {"id": 5}}
        code, out = post(hook["payloadUrl"], *signed(comment, "issue_comment", "py-3"))
        self.assertEqual(code, 200, out)
        self.assertNotIn("buildId", out)  # an untrusted commenter approves nothing
        comment["comment"]["author_association"] = "MEMBER"
        code, out = post(hook["payloadUrl"], *signed(comment, "issue_comment", "py-4"))
        self.assertEqual(code, 200, out)
        self.assertEqual(cb.batch_get_builds(ids=[out["buildId"]])["builds"][0]["sourceVersion"], "pr/7")
        project = cb.batch_get_projects(names=["py-hooked"])["projects"][0]
        self.assertEqual(project["webhook"]["payloadUrl"], hook["payloadUrl"])
        self.assertNotIn("secret", project["webhook"])
        cb.delete_webhook(projectName="py-hooked")
        self.assertNotIn("webhook", cb.batch_get_projects(names=["py-hooked"])["projects"][0])

    def test_source_credentials(self):
        cb = client("222233334444")
        arn = cb.import_source_credentials(serverType="GITLAB", authType="PERSONAL_ACCESS_TOKEN", token="glpat-secret")["arn"]
        self.assertEqual(arn, "arn:aws:codebuild:us-east-1:222233334444:token/gitlab")
        infos = cb.list_source_credentials()["sourceCredentialsInfos"]
        self.assertEqual([(i["serverType"], i["authType"]) for i in infos], [("GITLAB", "PERSONAL_ACCESS_TOKEN")])
        self.assertNotIn("glpat-secret", json.dumps(infos))
        self.assertEqual(cb.delete_source_credentials(arn=arn)["arn"], arn)
        with self.assertRaises(cb.exceptions.ResourceNotFoundException):
            cb.delete_source_credentials(arn=arn)

    def test_fleet(self):
        cb = client("333344445555")
        fleet = cb.create_fleet(name="py-fleet", baseCapacity=1, environmentType="LINUX_CONTAINER",
                                computeType="BUILD_GENERAL1_SMALL")["fleet"]
        self.assertEqual(fleet["status"]["statusCode"], "CREATING")
        got = cb.batch_get_fleets(names=[fleet["arn"]])["fleets"][0]
        self.assertEqual(got["status"]["statusCode"], "ACTIVE")
        self.assertEqual(cb.list_fleets()["fleets"], [fleet["arn"]])
        cb.create_project(**project_args("py-on-fleet", environment={
            "type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL",
            "fleet": {"fleetArn": fleet["arn"]}}))
        b = wait_build(cb, cb.start_build(projectName="py-on-fleet")["build"]["id"])
        self.assertEqual(b["buildStatus"], "SUCCEEDED")
        self.assertEqual(b["environment"]["fleet"]["fleetArn"], fleet["arn"])
        cb.delete_fleet(arn=fleet["arn"])
        self.assertEqual(cb.batch_get_fleets(names=[fleet["arn"]])["fleetsNotFound"], [fleet["arn"]])

    def test_sandbox(self):
        cb = client("444455556666")
        cb.create_project(**project_args("py-sandbox"))
        sb = cb.start_sandbox(projectName="py-sandbox")["sandbox"]
        deadline = time.time() + 60
        while time.time() < deadline:
            cur = cb.batch_get_sandboxes(ids=[sb["id"]])["sandboxes"][0]
            if cur.get("currentSession", {}).get("currentPhase") == "RUN_SANDBOX":
                break
            time.sleep(0.05)
        else:
            self.fail("the sandbox never ran")
        first = cb.start_command_execution(sandboxId=sb["id"], command="export GREETING=hello; cd /tmp", type="SHELL")["commandExecution"]
        second = cb.start_command_execution(sandboxId=sb["id"], command="echo $GREETING from $(pwd)", type="SHELL")["commandExecution"]
        deadline = time.time() + 60
        while time.time() < deadline:
            got = cb.batch_get_command_executions(sandboxId=sb["id"], commandExecutionIds=[first["id"], second["id"]])["commandExecutions"]
            if all(c["status"] in ("SUCCEEDED", "FAILED") for c in got):
                break
            time.sleep(0.05)
        by_id = {c["id"]: c for c in got}
        self.assertEqual(by_id[second["id"]]["status"], "SUCCEEDED")
        self.assertEqual(by_id[second["id"]]["standardOutputContent"].strip(), "hello from /tmp")
        self.assertEqual(len(cb.list_command_executions_for_sandbox(sandboxId=sb["id"])["commandExecutions"]), 2)
        self.assertIn(sb["id"], cb.list_sandboxes_for_project(projectName="py-sandbox")["ids"])
        self.assertEqual(cb.stop_sandbox(id=sb["id"])["sandbox"]["status"], "STOPPING")
        deadline = time.time() + 60
        while cb.batch_get_sandboxes(ids=[sb["id"]])["sandboxes"][0]["status"] != "STOPPED":
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)

    def test_sharing_badge_public_cache_images(self):
        owner, friend, stranger = client("555566667777"), client("666677778888"), client("777788889999")
        owner.create_project(**project_args("py-shared", badgeEnabled=True))
        arn = "arn:aws:codebuild:us-east-1:555566667777:project/py-shared"
        b = wait_build(owner, owner.start_build(projectName="py-shared")["build"]["id"])
        owner.put_resource_policy(resourceArn=arn, policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "666677778888"}, "Action": ["codebuild:BatchGetProjects", "codebuild:BatchGetBuilds"],
            "Resource": arn}]}))
        self.assertEqual(len(friend.batch_get_projects(names=[arn])["projects"]), 1)
        self.assertEqual(len(friend.batch_get_builds(ids=[b["arn"]])["builds"]), 1)
        self.assertEqual(friend.list_shared_projects()["projects"], [arn])
        self.assertEqual(stranger.batch_get_projects(names=[arn])["projects"], [])
        badge = owner.batch_get_projects(names=["py-shared"])["projects"][0]["badge"]["badgeRequestUrl"]
        code, svg = get(badge)
        self.assertEqual(code, 200)
        self.assertIn('data-status="PASSING"', svg)
        alias = owner.update_project_visibility(projectArn=arn, projectVisibility="PUBLIC_READ")["publicProjectAlias"]
        code, page = get(badge.split("/badges")[0] + "/public/" + alias)
        self.assertEqual(code, 200)
        self.assertIn(b["id"], page)
        owner.invalidate_project_cache(projectName="py-shared")
        platforms = owner.list_curated_environment_images()["platforms"]
        names = [i["name"] for p in platforms for l in p["languages"] for i in l["images"]]
        self.assertIn("aws/codebuild/standard:7.0", names)


if __name__ == "__main__":
    unittest.main()
