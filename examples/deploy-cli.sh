#!/usr/bin/env bash
# Deploys an image version to the ECS service with the ecs-deployer function, from a shell.
#
#   examples/deploy-cli.sh v2            # FUNCTION=<name or ARN> to skip the stack lookup
#   WAIT=1 examples/deploy-cli.sh v2     # follow the rollout (up to 15 minutes); fail if it fails
#
# The call itself is the AWS CLI v2 one-liner:
#
#   aws lambda invoke --function-name "$FUNCTION" --cli-binary-format raw-in-base64-out \
#     --payload '{"version":"v2"}' out.json
#
# `aws lambda invoke` exits 0 even when the function failed: the failure is in the response's FunctionError
# field and in out.json ({"errorType": "<code>", "errorMessage": "..."}), so both are checked below.
set -euo pipefail

VERSION="${1:?usage: $0 VERSION (an image tag or sha256:<digest>)}"
STACK="${STACK:-ecs-deployer}"
FUNCTION="${FUNCTION:-$(aws cloudformation describe-stacks --stack-name "$STACK" \
  --query "Stacks[0].Outputs[?OutputKey=='DeployerFunctionName'].OutputValue" --output text)}"
OUT="${OUT:-out.json}"
WAIT="${WAIT:-}"

# jq builds the payload, so a version can never break out of the JSON string.
if [ -n "$WAIT" ]; then
  PAYLOAD="$(jq -nc --arg v "$VERSION" '{version: $v, wait: true}')"
else
  PAYLOAD="$(jq -nc --arg v "$VERSION" '{version: $v}')"
fi

# --cli-read-timeout above the function's 900 s Timeout, so the CLI never gives up on a deploy still running;
# one attempt, so the CLI never invokes a running deploy again (that retry would only meet its lock).
AWS_MAX_ATTEMPTS=1 aws lambda invoke --function-name "$FUNCTION" --cli-binary-format raw-in-base64-out \
  --cli-read-timeout 960 --payload "$PAYLOAD" "$OUT" > invoke-meta.json

if jq -e 'has("FunctionError")' invoke-meta.json > /dev/null \
  || jq -e 'type == "object" and has("errorType")' "$OUT" > /dev/null; then
  echo "deploy of $VERSION failed: $(jq -r '"\(.errorType // "error"): \(.errorMessage // .)"' "$OUT")" >&2
  exit 1
fi

jq -r '"\(.status): \(.service) in \(.cluster) runs \(.task_definition // "(dry run)") with \(.image)"' "$OUT"
