import Foundation
import Logging

/// One line per record on standard error: `time level label: key=value ... message`.
///
/// Unlike swift-log's `StreamLogHandler`, which re-renders all metadata whenever one key changes, this
/// handler renders metadata only when a record is written: requests set several keys and usually log
/// nothing. It also fits in a logger's inline storage (label and provider live in a shared, immutable
/// object), so setting a key on a request's copy of the logger does not copy a boxed handler.
public struct StandardErrorLogHandler: LogHandler {
    private final class Fixed: Sendable {
        let label: String
        let metadataProvider: Logger.MetadataProvider?

        init(label: String, metadataProvider: Logger.MetadataProvider?) {
            self.label = label
            self.metadataProvider = metadataProvider
        }
    }

    public var logLevel: Logger.Level
    private var fixed: Fixed
    // A short list, not a dictionary: copying it for one more key is a small array copy, not a rehash.
    private var entries: [(key: String, value: Logger.Metadata.Value)] = []

    public var metadata: Logger.Metadata {
        get { Dictionary(entries, uniquingKeysWith: { _, last in last }) }
        set { entries = newValue.map { ($0.key, $0.value) } }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { fixed.metadataProvider }
        set { fixed = Fixed(label: fixed.label, metadataProvider: newValue) }
    }

    /// A handler for `label` that writes records at `logLevel` and above.
    public init(label: String, logLevel: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.logLevel = logLevel
        self.fixed = Fixed(label: label, metadataProvider: metadataProvider)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { entries.last { $0.key == key }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) { entries.remove(at: index) }
            if let newValue { entries.append((key, newValue)) }
        }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = fixed.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date.now.formatted(.iso8601)
        let line = "\(time) \(event.level) \(fixed.label):\(rendered.isEmpty ? "" : " " + rendered) \(event.message)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
