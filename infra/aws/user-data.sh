#!/bin/bash
# agentwatt runner: EC2 launch-template user data for an Auto Scaling group
# that 'agentwatt scaler' sizes (one group per pool). On boot it installs
# the agentwatt binary, claims a single-use enrolment token, and runs the
# runner until it has been idle for 15 minutes; then the instance removes
# itself from the group (decrementing the desired capacity, so Auto Scaling
# does not replace it) and terminates.
#
# Fill in the four settings below (or template them per group). What the
# instance reads from SSM Parameter Store (SecureString, KMS-encrypted):
#   /agentwatt/runner/env            shell exports: AGENTWATT_NATS,
#                                    AGENTWATT_S3_ENDPOINT, _BUCKET,
#                                    _ACCESS_KEY, _SECRET_KEY (and _REGION)
#   /agentwatt/runner/nats.creds     the runner's NATS credentials (optional)
#   /agentwatt/enrol/<pool>/<name>   one enrolment token per parameter, minted
#                                    by an operator or a job with
#                                    'agentwatt runner enrol-token --pool <pool>
#                                    --ttl 24h --count N' and put there one per
#                                    parameter. An instance claims one by
#                                    deleting it (DeleteParameter succeeds
#                                    once), so two instances never use the same
#                                    token; the token is single-use anyway.
# infra/aws/README.md lists the IAM permissions of the instance role.
set -euo pipefail

POOL="h200x8"                                   # the pool this group serves
AGENTWATT_URL="https://example.com/agentwatt"   # where the release binary is
AGENTWATT_SHA256="replace-with-the-release-sha256"
IDLE_EXIT="15m"

export AWS_DEFAULT_REGION
imds() { curl -fsS -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "http://169.254.169.254/latest/$1"; }
IMDS_TOKEN=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" http://169.254.169.254/latest/api/token)
INSTANCE_ID=$(imds meta-data/instance-id)
AWS_DEFAULT_REGION=$(imds meta-data/placement/region)

# Engines run as another user (nobody) and must never reach the instance
# role's credentials (they can read enrolment tokens): only root may talk to
# the instance metadata service. Set HttpPutResponseHopLimit=1 in the launch
# template too, so that a container engine cannot get an IMDSv2 token.
iptables -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT

# The binary, checked against the release's sha256.
install -d -m 0755 /opt/agentwatt
curl -fsSL -o /opt/agentwatt/agentwatt.new "$AGENTWATT_URL"
echo "$AGENTWATT_SHA256  /opt/agentwatt/agentwatt.new" | sha256sum -c -
install -m 0755 /opt/agentwatt/agentwatt.new /usr/local/bin/agentwatt
rm -f /opt/agentwatt/agentwatt.new

# Settings and secrets, readable by root only.
install -d -m 0700 /run/agentwatt /var/lib/agentwatt-runner
umask 077
aws ssm get-parameter --with-decryption --name /agentwatt/runner/env --query Parameter.Value --output text > /run/agentwatt/env
if aws ssm get-parameter --with-decryption --name /agentwatt/runner/nats.creds --query Parameter.Value --output text > /run/agentwatt/nats.creds 2>/dev/null; then
  echo "export AGENTWATT_NATS_CREDS=/run/agentwatt/nats.creds" >> /run/agentwatt/env
else
  rm -f /run/agentwatt/nats.creds
fi

# Claim one enrolment token: list the pool's, take the first one this
# instance manages to delete.
claimed=""
for name in $(aws ssm get-parameters-by-path --path "/agentwatt/enrol/$POOL/" --query 'Parameters[].Name' --output text); do
  value=$(aws ssm get-parameter --with-decryption --name "$name" --query Parameter.Value --output text) || continue
  if aws ssm delete-parameter --name "$name" 2>/dev/null; then
    printf '%s\n' "$value" > /run/agentwatt/enrol.token
    claimed="$name"
    break
  fi
done
unset value
leave() {
  aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$INSTANCE_ID" --should-decrement-desired-capacity || true
  shutdown -h now
}
if [ -z "$claimed" ]; then
  echo "agentwatt: no enrolment token left under /agentwatt/enrol/$POOL/; leaving the group" >&2
  leave
  exit 1
fi

# The runner reads and removes the token before any engine starts, enrols
# its fresh key for $POOL under its id, and exits 0 after $IDLE_EXIT
# without a job (or when the scaler's scale-in stops the instance).
set +e
(
  set -a
  . /run/agentwatt/env
  set +a
  exec /usr/local/bin/agentwatt runner \
    --pool "$POOL" --id "$POOL-$INSTANCE_ID" --instance "$INSTANCE_ID" \
    --work-dir /var/lib/agentwatt-runner --idle-exit "$IDLE_EXIT" \
    --enrol-token-file /run/agentwatt/enrol.token --metrics-addr 127.0.0.1:9464
)
echo "agentwatt runner exited with status $?" >&2
leave
