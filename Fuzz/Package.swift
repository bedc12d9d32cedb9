// swift-tools-version:6.0
// libFuzzer targets for RNNKit's readers. Not part of the main build: `Fuzz/run.sh` builds them with
// `swift build --sanitize fuzzer --sanitize address` (libFuzzer supplies `main`) and runs each one.
import PackageDescription

let package = Package(
    name: "RNNKitFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "RNNKit", path: "..")],
    targets: ["FuzzIDX", "FuzzSafeTensors", "FuzzCheckpoint", "FuzzText", "FuzzTS", "FuzzNumPy", "FuzzCSV", "FuzzForecast", "FuzzPairs",
              "FuzzLexicon"].map {
        .executableTarget(name: $0, dependencies: [.product(name: "RNNKit", package: "RNNKit")])
    }
)
