// swift-tools-version: 6.1
// libFuzzer targets for dlad's untrusted inputs: the readers (NVDLA loadables and .dimg images
// included), the .dla load-and-run path and the ONNX compiler. A fuzz executable cannot live in the main build (it is instrumented and linked
// with libFuzzer), so this package depends on the root one by path. Each target starts libFuzzer itself through `LLVMFuzzerRunDriver`.
// Build and run with `make fuzz` (see the Makefile for the exact flags).
import PackageDescription

let package = Package(
    name: "dlad-fuzz",
    dependencies: [.package(name: "dlad", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "FuzzDLAReader",
            dependencies: ["FuzzDriver", .product(name: "DLAFormat", package: "dlad")],
        ),
        .executableTarget(
            name: "FuzzNPYReader",
            dependencies: ["FuzzDriver", .product(name: "DLAFormat", package: "dlad")],
        ),
        .executableTarget(
            name: "FuzzDLAEngine",
            dependencies: ["FuzzDriver", .product(name: "DLAFormat", package: "dlad"), .product(name: "DLAEngine", package: "dlad")],
        ),
        .executableTarget(
            name: "FuzzONNXCompiler",
            dependencies: ["FuzzDriver", .product(name: "DLACompiler", package: "dlad")],
        ),
        .executableTarget(
            name: "FuzzNVDLALoadable",
            dependencies: ["FuzzDriver", .product(name: "NVDLALoadable", package: "dlad")],
        ),
        .executableTarget(
            name: "FuzzSeeds",
            dependencies: [.product(name: "DLAFormat", package: "dlad")],
        ),
    ],
    swiftLanguageModes: [.v6]
)
