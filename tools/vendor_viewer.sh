#!/usr/bin/env bash
# Reproduces static/vendor/ (the splat viewer and the video muxers the page loads, and the
# Swagger UI / ReDoc files /docs and /redoc load) from the npm registry.
#
#   tools/vendor_viewer.sh            # npm ci from tools/viewer/package-lock.json, then copy
#   tools/vendor_viewer.sh --check    # same, then fail if static/vendor/ differs from the copy
#
# Why a copy instead of a CDN: the page must work with no internet. Why only some files: the
# page imports three's ES module build, two three add-ons and Spark's ES module (which inlines
# its WASM and worker), so the CommonJS, minified, WebGPU and type files would be dead weight.
# Versions are pinned exactly in tools/viewer/package.json and locked (with hashes) in
# package-lock.json; to upgrade, edit package.json, run `npm install` there, then this script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
NPM_DIR="$ROOT/tools/viewer"
DEST="$ROOT/static/vendor"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

command -v npm >/dev/null || { echo "error: npm not found (install Node.js 18+)" >&2; exit 1; }
(cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
NM="$NPM_DIR/node_modules"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

put() {  # put SRC_RELATIVE_TO_node_modules DEST_RELATIVE_TO_vendor
    mkdir -p "$(dirname "$STAGE/$2")"
    cp "$NM/$1" "$STAGE/$2"
}

# three: the ES module build (three.module.js imports three.core.js) and the add-ons we use.
for f in LICENSE package.json build/three.module.js build/three.core.js \
         examples/jsm/controls/OrbitControls.js examples/jsm/postprocessing/Pass.js; do
    put "three/$f" "three/$f"
done
# Spark: the ES module (WASM and sort/decode worker inlined), its source map and dist/assets/.
for f in LICENSE package.json dist/spark.module.js dist/spark.module.js.map; do
    put "@sparkjsdev/spark/$f" "spark/$f"
done
mkdir -p "$STAGE/spark/dist/assets"
cp "$NM/@sparkjsdev/spark/dist/assets/"* "$STAGE/spark/dist/assets/"
# API docs, offline: Swagger UI's browser bundle and stylesheet, ReDoc's standalone bundle.
for f in LICENSE NOTICE package.json swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css; do
    put "swagger-ui-dist/$f" "swagger-ui/$f"
done
for f in LICENSE package.json bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt; do
    put "redoc/$f" "redoc/$f"
done
# The recorder's MP4 and WebM muxers (static/js/recorder.js): each one's ES module build.
for pkg in mp4-muxer webm-muxer; do
    for f in LICENSE package.json "build/$pkg.mjs"; do
        put "$pkg/$f" "$pkg/$f"
    done
done

node -e '
const fs = require("fs");
const out = {};
for (const [name, dir] of [["three", "three"], ["@sparkjsdev/spark", "spark"],
                           ["swagger-ui-dist", "swagger-ui"], ["redoc", "redoc"],
                           ["mp4-muxer", "mp4-muxer"], ["webm-muxer", "webm-muxer"]]) {
  const p = JSON.parse(fs.readFileSync(process.argv[1] + "/" + dir + "/package.json"));
  out[name] = { version: p.version, license: p.license };
}
fs.writeFileSync(process.argv[1] + "/VERSIONS.json", JSON.stringify(out, null, 2) + "\n");
' "$STAGE"

if [ "$CHECK" = 1 ]; then
    if diff -r "$STAGE" "$DEST" >/dev/null; then
        echo "static/vendor/ matches tools/viewer/package-lock.json"
        exit 0
    fi
    echo "error: static/vendor/ differs from what tools/viewer/package-lock.json gives:" >&2
    diff -rq "$STAGE" "$DEST" >&2 || true
    exit 1
fi
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
cp -r "$STAGE" "$DEST"
chmod -R a+rX "$DEST"
echo "vendored into static/vendor/:"
cat "$DEST/VERSIONS.json"
