import CSwitchboardPlugin

/// The plugin ABI version this host implements, as `switchboard_plugin.h` declares it.
public enum PluginABI {
    /// The major version: part of every entry symbol's name.
    public static let major = Int(SB_ABI_VERSION_MAJOR)
    /// The minor version: plugins built against any minor up to this one load.
    public static let minor = Int(SB_ABI_VERSION_MINOR)

    /// The version as `major.minor`.
    public static var versionString: String { "\(major).\(minor)" }

    /// The size of the ABI 1.0 part of `sb_plugin_api`: every v1 plugin fills at least this much.
    static let pluginTableSize = MemoryLayout<sb_plugin_api>.offset(of: \.cancel)! + MemoryLayout<UnsafeRawPointer>.size
}

/// `sb_status` as a Swift value; any value the header does not define reads as `.internal`.
public struct PluginStatus: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    let raw: sb_status

    private init(_ name: String, _ raw: sb_status) {
        self.name = name
        self.raw = raw
    }

    init(_ raw: sb_status) {
        self = Self.all.first { $0.raw == raw } ?? .internal
    }

    /// The status from its numeric value, as frames carry it.
    init(code: Int64) {
        self.init(sb_status(rawValue: UInt32(truncatingIfNeeded: code)))
    }

    /// The numeric value of `sb_status`.
    var code: Int32 { Int32(bitPattern: raw.rawValue) }

    public static let ok = PluginStatus("ok", SB_OK)
    public static let pending = PluginStatus("pending", SB_PENDING)
    public static let invalid = PluginStatus("invalid", SB_INVALID)
    public static let notFound = PluginStatus("not_found", SB_NOT_FOUND)
    public static let denied = PluginStatus("denied", SB_DENIED)
    public static let timeout = PluginStatus("timeout", SB_TIMEOUT)
    public static let unavailable = PluginStatus("unavailable", SB_UNAVAILABLE)
    public static let unsupported = PluginStatus("unsupported", SB_UNSUPPORTED)
    public static let `internal` = PluginStatus("internal", SB_INTERNAL)
    public static let conflict = PluginStatus("conflict", SB_CONFLICT)
    private static let all: [PluginStatus] = [.ok, .pending, .invalid, .notFound, .denied, .timeout, .unavailable, .unsupported, .internal, .conflict]

    /// Whether trying the same thing later may succeed.
    public var isRetryable: Bool { self == .unavailable || self == .timeout || self == .internal }
    public var description: String { name }
}
