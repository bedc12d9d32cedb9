#!/usr/bin/env bash
# Regenerates Sources/RNNKit/Export/onnx.pb.swift from Debian's onnx.proto (python3-onnx 1.12) with
# protoc (protobuf-compiler) and swift-protobuf's protoc-gen-swift, built from the same version the
# package depends on. Run once when the proto or swift-protobuf changes; the output is committed,
# so builds never need protoc or the plugin (whose first build takes about ten minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
proto=/usr/lib/python3/dist-packages/onnx/onnx.proto
[ -f "$proto" ] || { echo "needs Debian's python3-onnx ($proto)"; exit 1; }
command -v protoc >/dev/null || { echo "needs Debian's protobuf-compiler"; exit 1; }
version=$(sed -n 's/.*swift-protobuf", from: "\([0-9.]*\)".*/\1/p' Package.swift)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q --branch "$version" "${SWIFT_PROTOBUF_GIT:-https://github.com/apple/swift-protobuf}" "$work/swift-protobuf"
swift build -c release --package-path "$work/swift-protobuf" --product protoc-gen-swift
mkdir -p "$work/proto" && cp "$proto" "$work/proto/onnx.proto"
protoc --plugin="$work/swift-protobuf/.build/release/protoc-gen-swift" --proto_path="$work/proto" \
       --swift_out=Visibility=Public:Sources/RNNKit/Export onnx.proto
echo "wrote Sources/RNNKit/Export/onnx.pb.swift"
