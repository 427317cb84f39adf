import Testing

/// The one way the tests wait for a state: polls `condition` every `interval` for at most
/// `limit`, and records an issue when it never held. Returns whether it held, for a test that adds
/// what it saw to the failure.
@discardableResult
public func eventually(
    limit: Duration = .seconds(10),
    every interval: Duration = .milliseconds(20),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { break }
        try await Task.sleep(for: interval)
    }
    Issue.record("the condition did not hold within \(limit)", sourceLocation: sourceLocation)
    return false
}
