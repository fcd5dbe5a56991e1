#!/usr/bin/env bash
# `just lint`'s Prometheus checks (when promtool is installed; .ci/run installs Debian's
# prometheus): the alert rules (syntax and their unit tests), the compose scrape configuration,
# and every PromQL expression of the Grafana dashboards (checked as recording rules).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT/deploy/prometheus"

promtool check rules rules.yml
promtool test rules rules.test.yml
promtool check config prometheus.yml
dash_rules="$(mktemp --suffix=.yml)"
trap 'rm -f "$dash_rules"' EXIT
python3 - "$PAYMSA_ROOT"/deploy/grafana/dashboards/*.json >"$dash_rules" <<'PY'
import json, sys
print("groups:\n  - name: dashboards\n    rules:")
n = 0
for path in sys.argv[1:]:
    for panel in json.load(open(path))["panels"]:
        for target in panel.get("targets", []):
            n += 1
            print("      - record: dashboard:expr%d\n        expr: %s" % (n, json.dumps(target["expr"])))
PY
echo "Checking the dashboards' expressions"
promtool check rules "$dash_rules" | grep -v "^Checking\|^$"
