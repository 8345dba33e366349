#!/usr/bin/env bash
# Copy Swagger UI (npm package swagger-ui-dist) into the package, for the reference page at /docs.
# The copy is committed, so installing tokensmith needs no Node and serving /docs no CDN.
# Usage: scripts/vendor-swagger-ui.sh [VERSION]   (default: the version named below)
set -euo pipefail
version=${1:-5.35.0}
here=$(cd "$(dirname "$0")/.." && pwd)
target=$here/src/tokensmith/server/docs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
for name in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$work/package/$name" "$target/$name"
done
# The bundle names a source map that is not shipped; drop the comment so browsers do not ask.
sed -i '/^\/\/# sourceMappingURL=/d' "$target/swagger-ui-bundle.js"
sed -i '/^\/\*# sourceMappingURL=/d' "$target/swagger-ui.css"
echo "swagger-ui-dist $version" > "$target/VERSION"
echo "Swagger UI $version copied into $target"
