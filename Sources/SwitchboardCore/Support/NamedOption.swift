/// An open-ended option: a struct with static members, each known by a stable name that clients,
/// configuration and the store spell out.
public protocol NamedOption: Hashable, Sendable, CustomStringConvertible {
    /// The name as it is written outside the process.
    var name: String { get }
    /// Every option, the set `init(named:)` looks in.
    static var all: [Self] { get }
}

extension NamedOption {
    /// The option with this name, or nil.
    public init?(named name: String) {
        guard let option = Self.all.first(where: { $0.name == name }) else { return nil }
        self = option
    }

    public var description: String { name }
}
