/// An error of the Switchboard domain: what went wrong, as a stable machine code plus a human sentence.
///
/// Only SwitchboardServer maps errors to HTTP. The `detail` is written for clients and never carries
/// internal text (SQL, file paths, stack traces).
public struct SwitchboardError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broad class of failure, which decides how a transport reports it.
    public struct Kind: Hashable, Sendable {
        private let name: String

        /// The input is malformed or breaks a rule of the domain.
        public static let invalidInput = Kind(name: "invalid_input")
        /// The addressed resource does not exist for this principal.
        public static let notFound = Kind(name: "not_found")
        /// The change conflicts with the resource's current state.
        public static let conflict = Kind(name: "conflict")
        /// A precondition such as `If-Match` does not hold.
        public static let preconditionFailed = Kind(name: "precondition_failed")
        /// The credential is missing, unknown or revoked.
        public static let unauthenticated = Kind(name: "unauthenticated")
        /// The principal may not do this, whoever it is.
        public static let forbidden = Kind(name: "forbidden")
        /// The store or another dependency cannot serve the request now; retrying may succeed.
        public static let unavailable = Kind(name: "unavailable")
        /// The store has no room to write; retrying succeeds once space is freed.
        public static let insufficientStorage = Kind(name: "insufficient_storage")
    }

    /// The broad class of failure.
    public let kind: Kind
    /// A stable snake_case code clients may branch on, e.g. `conversation_closed`.
    public let code: String
    /// A sentence for humans.
    public let detail: String
    /// The request field that failed, in the request's own spelling, when one did.
    public let field: String?

    /// Creates an error.
    public init(kind: Kind, code: String, detail: String, field: String? = nil) {
        self.kind = kind
        self.code = code
        self.detail = detail
        self.field = field
    }

    public var description: String {
        field.map { "\(code) (\($0)): \(detail)" } ?? "\(code): \(detail)"
    }
}

extension SwitchboardError {
    /// A field has an invalid value.
    public static func invalidField(_ field: String, _ detail: String) -> SwitchboardError {
        SwitchboardError(kind: .invalidInput, code: "invalid_field", detail: detail, field: field)
    }

    /// A required field is absent.
    public static func missingField(_ field: String) -> SwitchboardError {
        SwitchboardError(kind: .invalidInput, code: "missing_field", detail: "The field '\(field)' is required.", field: field)
    }

    /// A resource of the given kind does not exist for this tenant.
    public static func notFound(_ resource: String) -> SwitchboardError {
        SwitchboardError(kind: .notFound, code: "\(resource)_not_found", detail: "No \(resource) with this id exists.")
    }

    /// A request field names a resource of the given kind that this tenant does not have.
    public static func unknownReference(field: String, resource: String) -> SwitchboardError {
        SwitchboardError(
            kind: .invalidInput,
            code: "\(resource)_not_found",
            detail: "The field '\(field)' names no \(resource) of this tenant.",
            field: field
        )
    }

    /// The resource changed since the client read it.
    public static func versionMismatch(current: Int64) -> SwitchboardError {
        SwitchboardError(
            kind: .preconditionFailed,
            code: "version_mismatch",
            detail: "The resource is at version \(current); re-read it and retry."
        )
    }
}
