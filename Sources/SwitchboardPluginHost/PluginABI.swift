import CSwitchboardPlugin

/// The plugin ABI version this host implements, as `switchboard_plugin.h` declares it.
public enum PluginABI {
    /// The major version: part of every entry symbol's name.
    public static let major = Int(SB_ABI_VERSION_MAJOR)
    /// The minor version: plugins built against any minor up to this one load.
    public static let minor = Int(SB_ABI_VERSION_MINOR)

    /// The version as `major.minor`.
    public static var versionString: String { "\(major).\(minor)" }
}
