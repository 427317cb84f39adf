import Foundation
import Logging

/// Every plugin file of the plugin directory: loaded, or rejected with its reason.
public struct PluginCatalog: Sendable {
    /// One `*.so` file of the directory.
    public struct Entry: Sendable {
        public let path: String
        public let outcome: Result<PluginLibrary, PluginRejection>
        /// The manifest, when it could be read (even for a plugin rejected later).
        public let manifest: PluginManifest?
    }

    /// The files, in name order.
    public let entries: [Entry]

    /// The loaded plugins by id.
    public var plugins: [String: PluginLibrary] {
        Dictionary(entries.compactMap { try? $0.outcome.get() }.map { ($0.manifest.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads every `*.so` in `directory`; a missing directory is an empty catalog. Each rejection is
    /// logged once at warning level with its reason; nothing here stops the host.
    public static func load(directory: String, logger: Logger) -> PluginCatalog {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".so") }.sorted()
        var seen: [String: String] = [:]
        var entries: [Entry] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            var entry = inspect(path: path)
            if case .success(let library) = entry.outcome {
                if let first = seen[library.manifest.id] {
                    entry = Entry(path: path, outcome: .failure(PluginRejection("the id '\(library.manifest.id)' is already used by \(first)")), manifest: entry.manifest)
                } else {
                    seen[library.manifest.id] = path
                }
            }
            switch entry.outcome {
            case .success(let library):
                logger.info(
                    "Plugin loaded",
                    metadata: ["sb.plugin": .string(library.manifest.id), "sb.path": .string(path), "sb.version": .string(library.manifest.version)]
                )
            case .failure(let rejection):
                logger.warning("Plugin rejected", metadata: ["sb.path": .string(path), "sb.reason": .string(rejection.reason)])
            }
            entries.append(entry)
        }
        return PluginCatalog(entries: entries)
    }

    /// Reads a plugin file's manifest without initializing it: only the side-effect-free manifest
    /// function runs, as `switchboard plugins inspect` needs.
    /// - Throws: ``PluginRejection`` saying why the file is not a usable plugin.
    public static func readManifest(path: String) throws -> PluginManifest {
        try PluginLibrary.open(path: path, initialize: false, host: .shared).0
    }

    private static func inspect(path: String) -> Entry {
        do {
            let (manifest, library) = try PluginLibrary.open(path: path, initialize: true, host: .shared)
            return Entry(path: path, outcome: library.map { .success($0) } ?? .failure(PluginRejection("not initialized")), manifest: manifest)
        } catch let rejection as PluginRejection {
            return Entry(path: path, outcome: .failure(rejection), manifest: nil)
        } catch {
            return Entry(path: path, outcome: .failure(PluginRejection("\(error)")), manifest: nil)
        }
    }
}
