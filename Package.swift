// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RNNKit",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "RNNKit", targets: ["RNNKit"]),
        .executable(name: "rnnkit", targets: ["rnnkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // .npz archives (zip, stored or deflated) and CSV files: the readers of Data/NumPy.swift and Data/CSVTable.swift.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        // ONNX export: the messages of onnx.proto, generated once into Export/onnx.pb.swift (scripts/generate-onnx-proto.sh).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The only door to the product libraries: BLAS, and oneDNN's sgemm loaded at run time (dlopen).
        // Exactly one Swift file (Tensor/BLAS.swift) imports it.
        .target(
            name: "CBLAS",
            linkerSettings: [
                .linkedLibrary("openblas", .when(platforms: [.linux])),
                .linkedLibrary("dl", .when(platforms: [.linux])),
                .linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS])),
            ]
        ),
        // zlib's inflate for .gz data files (not named CZlib: ZIPFoundation's zlib module has that name); imported only by Data/Gzip.swift.
        .target(name: "CInflate", linkerSettings: [.linkedLibrary("z")]),
        // A system call Swift's Glibc does not expose (atomic folder exchange), the Ctrl-C handler
        // (signal handlers must be C) and malloc tuning; imported only by Checkpoint/AtomicFolder.swift,
        // Training/Interruption.swift and Tensor/BLAS.swift.
        .target(name: "CPlatform"),
        // The vector kernels of wide.h (step products, activations, cell updates), built for AVX-512 and
        // AVX2 + FMA and chosen at run time; imported by Tensor/Kernels.swift, Activations.swift and PackedProduct.swift.
        .target(name: "CKernels"),
        // Open MPI, loaded at run time (dlopen) for distributed training; imported only by Training/ProcessGroup.swift.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(
            name: "RNNKit",
            dependencies: [
                "CBLAS",
                "CInflate",
                "CPlatform",
                "CKernels",
                "CMPI",
                .product(name: "RealModule", package: "swift-numerics"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "rnnkit",
            dependencies: [
                "RNNKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "RNNKitTests",
            dependencies: ["RNNKit", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Fixtures"]
        ),
    ]
)
