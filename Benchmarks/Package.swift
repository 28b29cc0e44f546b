// swift-tools-version: 6.1
// The store's benchmarks, a package of their own so that the main build never compiles the
// benchmark framework. Run from the repository root:
//   swift package --package-path Benchmarks --allow-writing-to-package-directory benchmark
import PackageDescription

let package = Package(
    name: "dlad-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "dlad", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: [
                .product(name: "DLAStore", package: "dlad"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // dlad's engine against the peers (Benchmarks/peers): a plain executable, no framework.
        //   swift run -c release --package-path Benchmarks EngineBenchmarks
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                .product(name: "DLAEngine", package: "dlad"),
                .product(name: "DLAFormat", package: "dlad"),
                .product(name: "DLANumerics", package: "dlad"),
            ],
            path: "Benchmarks/EngineBenchmarks"
        ),
        // Scale check: an INT8 ResNet-18 (1.8 GMAC at 224×224) built in the engine's vocabulary, timed
        // at batch 1 on one thread, with emulated cycles and peak memory.
        //   swift run -c release --package-path Benchmarks ResNetBenchmark
        .executableTarget(
            name: "ResNetBenchmark",
            dependencies: [
                .product(name: "DLAEngine", package: "dlad"),
                .product(name: "DLAFormat", package: "dlad"),
                .product(name: "DLANumerics", package: "dlad"),
            ],
            path: "Benchmarks/ResNetBenchmark"
        ),
    ],
    swiftLanguageModes: [.v6]
)
