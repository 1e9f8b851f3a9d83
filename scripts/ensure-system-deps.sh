#!/usr/bin/env bash
# The real-registry and layout tests need Debian's docker-registry, skopeo, umoci, htpasswd and openssl.
# Install them when missing and we are root; otherwise stop with the exact command to run.
set -euo pipefail
missing=()
for pair in docker-registry:docker-registry skopeo:skopeo umoci:umoci htpasswd:apache2-utils openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages for the tests: ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "the tests need Debian packages that are missing: ${missing[*]}" >&2
echo "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
exit 1
