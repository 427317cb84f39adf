import CSwitchboardPlugin
import Foundation
import SwitchboardCore

/// A plugin shared library that passed every load check: its manifest and its hook table.
///
/// - Important: Libraries are opened with `RTLD_NOW | RTLD_LOCAL` and never closed: Swift (and Go)
///   code cannot be unloaded safely. The hook table is immutable after init.
public final class PluginLibrary: @unchecked Sendable {
    // @unchecked: every stored property is immutable; `hooks` holds C function pointers that the plugin
    // promises stay valid for the life of the process.
    public let path: String
    public let manifest: PluginManifest
    /// The ABI version the plugin was built against.
    public let abiMajor: Int
    public let abiMinor: Int
    let hooks: sb_plugin_api

    private init(path: String, manifest: PluginManifest, hooks: sb_plugin_api) {
        self.path = path
        self.manifest = manifest
        self.abiMajor = Int(hooks.abi_major)
        self.abiMinor = Int(hooks.abi_minor)
        self.hooks = hooks
    }

    /// Opens `path`, reads its manifest and, unless `initialize` is false, calls its init.
    /// - Throws: ``PluginRejection`` with one sentence saying why the file cannot be used.
    package static func open(path: String, initialize: Bool, host: HostAPI) throws -> (PluginManifest, PluginLibrary?) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PluginRejection("the file cannot be read") }
        let magic = (try? handle.read(upToCount: 4)) ?? nil
        try? handle.close()
        guard magic == Data([0x7F, 0x45, 0x4C, 0x46]) else { throw PluginRejection("not an ELF shared object") }

        guard let library = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginRejection("dlopen failed: \(dlerror().map { String(cString: $0) } ?? "unknown error")")
        }
        guard let manifestSymbol = dlsym(library, "sb_plugin_manifest_v1"), let initSymbol = dlsym(library, "sb_plugin_init_v1") else {
            let other = (2...9).first { dlsym(library, "sb_plugin_init_v\($0)") != nil }
            if let other {
                throw PluginRejection("built for plugin ABI \(other).x; this host speaks \(PluginABI.versionString)")
            }
            throw PluginRejection("missing the entry symbols sb_plugin_manifest_v1 and sb_plugin_init_v1")
        }
        let manifestFunction = unsafeBitCast(manifestSymbol, to: sb_plugin_manifest_v1_fn.self)
        let text = manifestFunction()
        guard let pointer = text.ptr, text.len > 0, text.len <= 1 << 20 else { throw PluginRejection("the manifest is empty") }
        let manifest: PluginManifest
        do {
            manifest = try PluginManifest(json: Array(UnsafeRawBufferPointer(start: pointer, count: text.len)))
        } catch let error as ManifestError {
            throw PluginRejection("malformed manifest: \(error.message)")
        }
        guard initialize else { return (manifest, nil) }

        var hooks = sb_plugin_api()
        hooks.struct_size = UInt32(MemoryLayout<sb_plugin_api>.size)
        let initFunction = unsafeBitCast(initSymbol, to: sb_plugin_init_v1_fn.self)
        let status = PluginStatus(initFunction(host.table, &hooks))
        guard status == .ok else { throw PluginRejection("sb_plugin_init_v1 refused to load (\(status))") }
        guard Int(hooks.abi_major) == PluginABI.major else {
            throw PluginRejection("built for plugin ABI \(hooks.abi_major).\(hooks.abi_minor); this host speaks \(PluginABI.versionString)")
        }
        guard Int(hooks.abi_minor) <= PluginABI.minor else {
            throw PluginRejection("built for plugin ABI 1.\(hooks.abi_minor), newer than this host's \(PluginABI.versionString)")
        }
        guard Int(hooks.struct_size) >= PluginABI.pluginTableSize else {
            throw PluginRejection("its sb_plugin_api is \(hooks.struct_size) bytes, smaller than ABI 1.0's \(PluginABI.pluginTableSize)")
        }
        guard hooks.create != nil, hooks.destroy != nil else { throw PluginRejection("the required hooks create and destroy are missing") }
        return (manifest, PluginLibrary(path: path, manifest: manifest, hooks: hooks))
    }
}

/// Why a plugin file was not loaded: one sentence for the log line, the CLI and the integrations API.
public struct PluginRejection: Error, CustomStringConvertible, Equatable {
    public let reason: String
    package init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
