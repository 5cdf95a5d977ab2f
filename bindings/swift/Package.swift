// swift-tools-version:5.9
// The CrmSync Swift package: the Rust library as a binary XCFramework (`CrmSyncFFI`, built by
// build-xcframework.sh), the generated bindings plus hand-written Swift in the `CrmSync` module,
// and a sample companion app (menu-bar item + settings window) on top.
import PackageDescription

let package = Package(
    name: "CrmSync",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "CrmSync", targets: ["CrmSync"]),
        .executable(name: "CrmSyncCompanion", targets: ["CrmSyncCompanion"]),
    ],
    targets: [
        // The static library (arm64 + x86_64), its C header and the `CrmSyncFFI` module map.
        .binaryTarget(name: "CrmSyncFFI", path: "CrmSyncFFI.xcframework"),
        // Sources/CrmSync/Generated/CrmSync.swift is build output of build-xcframework.sh.
        .target(
            name: "CrmSync",
            dependencies: ["CrmSyncFFI"],
            path: "Sources/CrmSync",
            linkerSettings: [.linkedFramework("Security"), .linkedFramework("SystemConfiguration")]
        ),
        .executableTarget(
            name: "CrmSyncCompanion",
            dependencies: ["CrmSync"],
            path: "Sources/CrmSyncCompanion"
        ),
        .testTarget(
            name: "CrmSyncTests",
            dependencies: ["CrmSync"],
            path: "Tests/CrmSyncTests"
        ),
    ]
)
