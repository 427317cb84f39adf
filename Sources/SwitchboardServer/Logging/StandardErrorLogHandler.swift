import Foundation
import Logging

/// One line per record on standard error: `time level label: key=value ... message`.
///
/// Unlike swift-log's `StreamLogHandler`, which re-renders all metadata whenever one key changes, this
/// handler renders metadata only when a record is written: requests set several keys and usually log nothing.
public struct StandardErrorLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    /// A handler for `label` that writes records at `logLevel` and above.
    public init(label: String, logLevel: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date.now.formatted(.iso8601)
        let line = "\(time) \(event.level) \(label):\(rendered.isEmpty ? "" : " " + rendered) \(event.message)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
