#!/usr/bin/env bash
# Installs the npm packages the test suite drives for real into .tools/ (git-ignored):
#   .tools/claude          the pinned @anthropic-ai/claude-code (the real binary behind e2e tests)
#   .tools/openapi         @octokit/openapi: GitHub's REST description (client paths are validated against it)
#   .tools/actions-cache   @actions/cache: the toolkit our cache client must interoperate with
# Idempotent: a package already at the wanted version is not reinstalled.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${KAGURA_TOOLS_DIR:-$root/.tools}"
pin="$(sed -n 's/^CLAUDE_CODE_VERSION = "\(.*\)"/\1/p' "$root/src/kagura_engineer/__init__.py")"

want() {  # want DIR PACKAGE VERSION
  local dir="$tools/$1" pkg="$2" version="$3"
  local have
  have="$(node -e "try{console.log(require('$dir/node_modules/$pkg/package.json').version)}catch(e){}" 2>/dev/null || true)"
  if [ "$have" = "$version" ]; then
    echo "tools: $pkg@$version already in $dir"
    return
  fi
  echo "tools: installing $pkg@$version into $dir"
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" "$pkg@$version" >/dev/null
}

want claude @anthropic-ai/claude-code "$pin"
want openapi @octokit/openapi 23.0.2
want actions-cache @actions/cache 4.1.0
