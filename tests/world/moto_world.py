"""Starts the local AWS (moto with rollouts that live, `tests/localaws`) on a free 127.0.0.1 port with the
network a Fargate service needs.

Prints one JSON line {"endpoint", "vpc", "subnet", "security_group"} on stdout, then serves until its
standard input closes, so the server dies with whoever started it. ECS and ECR are set up by the caller
through the AWS SDK it tests. The clock and the Lambda endpoint come from the environment (LOCAL_AWS_TICK,
LOCAL_AWS_MINUTE, LOCAL_AWS_MANUAL, LOCAL_AWS_LAMBDA_ENDPOINT, LOCAL_AWS_EVENTS_FUNCTION; see `make local-aws`).
"""

import json
import os
import sys

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from localaws import Config, LocalAws  # noqa: E402


def main() -> None:
    aws = LocalAws(Config.from_env(port=0)).start()
    endpoint = aws.endpoint
    ec2 = boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="deployer-world", Description="ecs-deployer tests", VpcId=vpc)
    print(
        json.dumps({"endpoint": endpoint, "vpc": vpc, "subnet": subnet, "security_group": group["GroupId"]}),
        flush=True,
    )
    sys.stdin.read()
    aws.stop()


if __name__ == "__main__":
    main()
