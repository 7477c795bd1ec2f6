#!/usr/bin/env bash
# Builds the Examples/ package (LatentKit used as a library, as a user's package uses it) and runs each program
# briefly: train-a-vae for one epoch on 10,000 MNIST images (then `latentkit eval` reads its checkpoint), and
# dirichlet-block for one epoch on 5,000. Run after scripts/setup.sh (data/mnist) and a release build of latentkit.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --package-path Examples -c release
rm -rf runs/swift-api-example
Examples/.build/release/train-a-vae 1
.build/release/latentkit eval runs/swift-api-example --k 0 --limit 1000
Examples/.build/release/dirichlet-block 1
rm -rf runs/swift-api-example
echo "examples-check: both examples built and ran"
