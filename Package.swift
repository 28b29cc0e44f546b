// swift-tools-version: 6.1
// The dlad package: an edge inference daemon on an emulated NVDLA-style accelerator.
// Module floors follow docs/ARCHITECTURE.md: a module only imports modules on lower floors.
import PackageDescription

let package = Package(
    name: "dlad",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dlad", targets: ["dlad"]),
        .executable(name: "dlactl", targets: ["dlactl"]),
        .library(name: "DLANumerics", targets: ["DLANumerics"]),
        .library(name: "DLAFormat", targets: ["DLAFormat"]),
        .library(name: "DLAEngine", targets: ["DLAEngine"]),
        .library(name: "DLAStore", targets: ["DLAStore"]),
        // For the ONNX fuzz target (Fuzz/), which depends on this package by path.
        .library(name: "DLACompiler", targets: ["DLACompiler"]),
        // For the NVDLA loadable fuzz target (Fuzz/).
        .library(name: "NVDLALoadable", targets: ["NVDLALoadable"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        // No default traits: BinaryDelimitedStreams imports all of Foundation, whose ICU data
        // (34 MB) would otherwise be linked into the static dlactl.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0", traits: []),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // Floor 1
        .target(name: "DLANumerics"),
        // Optimized even in debug builds: the engine's tests run these loops on real-sized layers.
        .target(name: "CDLAKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "DLAStore", dependencies: ["CSQLite", "CWALWriteBuffer"]),
        // Gathers each WAL commit's frame writes into one write (docs/STORE.md, "Write-ahead log writes").
        .target(name: "CWALWriteBuffer", dependencies: ["CSQLite"]),
        // Test-only: an SQLite VFS that simulates power cuts, for DLAStoreTests' PowerCutTests.
        .target(name: "CPowerCutVFS", dependencies: ["CSQLite"]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "Systemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        // Generated from tools/onnx-proto/onnx.proto by `make onnx-proto`; committed so that
        // builds never need protoc or the plugin.
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Floor 5 helper: a child process that the store's crash test SIGKILLs mid-write.
        .executableTarget(name: "dlad-store-torture", dependencies: ["DLAStore"]),
        // Floor 5 helper: a child process that SystemdTests start with a socket at fd 3 and
        // systemd's environment variables, which a test must not set in its own process.
        .executableTarget(name: "dlad-systemd-probe", dependencies: ["Systemd"]),
        // The socket API's wire types, shared by the daemon and its clients.
        .target(name: "DLAAPI"),
        // Floor 2
        .target(name: "DLAClient", dependencies: ["DLAAPI"]),
        // NVIDIA's NVDLA loadables (flatbuffers) and .dimg images, read strictly: pushed files are hostile.
        .target(name: "NVDLALoadable"),
        .target(
            name: "DLAFormat",
            dependencies: ["DLANumerics", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Floor 3
        .target(name: "DLAEngine", dependencies: ["DLAFormat", "DLANumerics", "CDLAKernels"]),
        // NVDLA loadables run at the memory level: firmware descriptors on an emulated flat memory,
        // through DLAEngine's units.
        .target(name: "NVDLARuntime", dependencies: ["NVDLALoadable", "DLAEngine", "DLANumerics"]),
        // Floor 4
        .target(
            name: "DLADaemon",
            dependencies: [
                "DLAAPI", "DLAEngine", "DLAFormat", "DLAStore", "Systemd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(name: "DLACompiler", dependencies: ["ONNXProto", "DLAFormat", "DLANumerics", "DLAEngine"]),
        // Floor 5
        .executableTarget(
            name: "dlactl",
            dependencies: [
                "DLAFormat", "DLAEngine", "DLANumerics", "DLACompiler", "DLAAPI", "DLAClient", "NVDLALoadable", "NVDLARuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // glibc's <malloc.h> (mallopt), which the Glibc module leaves out.
        .systemLibrary(name: "CMalloc"),
        .executableTarget(
            name: "dlad",
            dependencies: [
                "DLADaemon", "DLAStore", "DLAAPI", "Systemd", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "DLAAPITests", dependencies: ["DLAAPI"]),
        .testTarget(name: "DLANumericsTests", dependencies: ["DLANumerics"]),
        .testTarget(name: "DLAFormatTests", dependencies: ["DLAFormat", "DLANumerics"], exclude: ["Fixtures"]),
        .testTarget(name: "DLAStoreTests", dependencies: ["DLAStore", "CPowerCutVFS", "CWALWriteBuffer"]),
        .testTarget(name: "SystemdTests", dependencies: ["Systemd", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "DLADaemonTests",
            dependencies: [
                "DLADaemon", "DLAAPI", "DLAEngine", "DLAFormat", "DLAStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Starts the real executables; depends on them so that they are built first.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "DLAFormat", "DLAEngine", "DLAAPI", "DLAClient", "dlactl", "dlad",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "DLACompilerTests",
            dependencies: ["DLACompiler", "DLAEngine", "DLAFormat", "DLANumerics", "ONNXProto"]
        ),
        .testTarget(
            name: "NVDLARuntimeTests",
            dependencies: ["NVDLARuntime", "NVDLALoadable", "DLAEngine", "DLANumerics", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "NVDLALoadableTests",
            dependencies: ["NVDLALoadable", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "DLAEngineTests", dependencies: ["DLAEngine", "DLAFormat", "DLANumerics", "CDLAKernels"]),
    ],
    swiftLanguageModes: [.v6]
)
