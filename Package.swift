// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
        // The in-process benchmarks of scripts/bench: security envelope, statistics, plugin dispatch.
        .executable(name: "switchboard-bench", targets: ["switchboard-bench"]),
        // The webhook receiver of scripts/bench.
        .executable(name: "sb-bench-receiver", targets: ["WebhookReceiver"]),
        // async-http-client alone against that receiver: the ceiling of the webhook figure.
        .executable(name: "sb-bench-client", targets: ["WebhookClient"]),
        // The realtime fan-out on bare SwiftNIO channels: a baseline of scripts/bench-realtime.
        .executable(name: "sb-bench-nio-floor", targets: ["RealtimeNIOFloor"]),
        // Example plugins: shared libraries the host loads with dlopen (never linked into it).
        .library(name: "echo-c", type: .dynamic, targets: ["EchoC"]),
        .library(name: "echo-swift", type: .dynamic, targets: ["EchoSwift"]),
        // Statistics sinks.
        .library(name: "stats-prometheus", type: .dynamic, targets: ["StatsPrometheus"]),
        .library(name: "stats-file", type: .dynamic, targets: ["StatsFile"]),
        .library(name: "ticketing-rt", type: .dynamic, targets: ["TicketingRT"]),
        .library(name: "crm-tryton", type: .dynamic, targets: ["CRMTryton"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-structured-headers", from: "1.7.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(name: "CSwitchboardPlugin"),
        .target(name: "PluginKit", dependencies: ["CSwitchboardPlugin"], path: "Plugins/plugin-kit", swiftSettings: swiftSettings),
        .target(name: "EchoC", dependencies: ["CSwitchboardPlugin"], path: "Plugins/echo-c"),
        .target(name: "EchoSwift", dependencies: ["CSwitchboardPlugin"], path: "Plugins/echo-swift", swiftSettings: swiftSettings),
        .target(
            name: "StatsPrometheus",
            dependencies: ["CSwitchboardPlugin", "PluginKit"],
            path: "Plugins/stats-prometheus",
            exclude: ["README.md"],
            swiftSettings: swiftSettings
        ),
        .target(name: "StatsFile", dependencies: ["CSwitchboardPlugin", "PluginKit"], path: "Plugins/stats-file", exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "TicketingRT", dependencies: ["CSwitchboardPlugin", "PluginKit"], path: "Plugins/ticketing-rt", exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "CRMTryton", dependencies: ["CSwitchboardPlugin", "PluginKit"], path: "Plugins/crm-tryton", exclude: ["README.md"], swiftSettings: swiftSettings),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "SwitchboardCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardStore",
            dependencies: [
                "CSQLite",
                "SwitchboardCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardPostgres",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardPluginHost",
            dependencies: [
                "CSwitchboardPlugin",
                "SwitchboardCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwitchboardServer",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardStore",
                "SwitchboardPostgres",
                "SwitchboardPluginHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "RawStructuredFieldValues", package: "swift-http-structured-headers"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardServer",
                "SwitchboardPostgres",
                "SwitchboardPluginHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The in-process benchmarks (security envelope, statistics, plugin dispatch): scripts/bench.
        .executableTarget(
            name: "switchboard-bench",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardServer",
                "SwitchboardPluginHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/Bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "WebhookReceiver",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Benchmarks/WebhookReceiver",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "WebhookClient",
            dependencies: [.product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Benchmarks/WebhookClient",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RealtimeNIOFloor",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Benchmarks/RealtimeNIOFloor",
            swiftSettings: swiftSettings
        ),
        // What the store and server tests share: the databases they run on.
        .target(
            name: "SwitchboardTestSupport",
            dependencies: ["SwitchboardCore", "SwitchboardStore", "SwitchboardPostgres", .product(name: "Logging", package: "swift-log")],
            path: "Tests/SwitchboardTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardCoreTests",
            dependencies: ["SwitchboardCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardStoreTests",
            dependencies: ["SwitchboardStore", "SwitchboardPostgres", "SwitchboardTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardPluginHostTests",
            dependencies: [
                "SwitchboardPluginHost", "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardServerTests",
            dependencies: [
                "SwitchboardServer",
                "SwitchboardStore",
                "SwitchboardPostgres",
                "SwitchboardCore",
                "SwitchboardPluginHost",
                "SwitchboardTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
